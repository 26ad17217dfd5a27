"""The command line: argument parsing and error reporting only; each command is a thin module.

Every expected failure leaves as one `shellvault: …` line on stderr, a non-zero exit and nothing on
stdout, so `eval "$(shellvault env P)"` never half-applies.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from shellvault import __version__
from shellvault.cli.parser import Parser
from shellvault.errors import ShellvaultError

# Command modules in shellvault.cli, in `--help` order. Each has NAMES (the words that run it)
# and register(). Only the one being run is imported: `env` runs on every prompt.
COMMANDS = (
    "add",
    "remove",
    "list",
    "exec",
    "env",
    "export",
    "clear",
    "init",
    "use",
    "login",
    "config",
    "direnv",
)
# Words that are not their module's name.
ALIASES = {"ls": "list", "unuse": "use"}


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The parser; given argv naming one command, only that command's (it runs on every prompt)."""
    parser = Parser(
        prog="shellvault",
        description="AWS keys in the OS keystore; short-lived STS sessions in your shell.",
    )
    parser.add_argument("--version", action="version", version=f"shellvault {__version__}")
    parser.add_argument(
        "--debug", action="store_true", help="diagnostics on stderr (secrets are redacted)"
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    # Global options take no value, so the first other word is the command.
    word = next((a for a in argv or () if not a.startswith("-")), "")
    word = ALIASES.get(word, word)
    for name in [word] if word in COMMANDS else COMMANDS:
        importlib.import_module(f"shellvault.cli.{name}").register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    if argv is None:
        argv = sys.argv[1:]
    args = build_parser(argv).parse_args(argv)
    if args.debug or os.environ.get("SHELLVAULT_DEBUG", "") not in ("", "0"):
        from shellvault.debug import enable

        enable()
    try:
        result: int = args.run(args)
        return result
    except ShellvaultError as exc:
        # One line even when the message quotes a line break (a profile name given as argument).
        print(f"shellvault: {' '.join(exc.message.splitlines())}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("shellvault: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 1
    except OSError as exc:
        # A file we could not read or write: the path and the reason, never a traceback (whose
        # frames could show values). --debug still shows where it came from.
        where = f" {exc.filename}" if exc.filename else ""
        print(
            f"shellvault: {exc.strerror or type(exc).__name__}{where}; "
            "check that path's owner, mode and free space (details with --debug)",
            file=sys.stderr,
        )
        _debug_traceback(args)
        return 1
    except ValueError as exc:
        print(f"shellvault: {' '.join(str(exc).splitlines())}", file=sys.stderr)
        _debug_traceback(args)
        return 1


def _debug_traceback(args: argparse.Namespace) -> None:
    if args.debug or os.environ.get("SHELLVAULT_DEBUG", "") not in ("", "0"):
        import traceback

        traceback.print_exc()
