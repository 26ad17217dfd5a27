"""`shellvault env PROFILE`: print the environment changes as statements for a shell or tool."""

from __future__ import annotations

import argparse
import sys

from shellvault.app import App
from shellvault.cli.common import add_mint_flags, mint_options
from shellvault.errors import ShellvaultError
from shellvault.output import formats
from shellvault.output.changes import changes_for, unset_all

FORMATS = (*formats.ENV_FORMATS, "process")

_SHELL_FORMATS = {
    "bash": "bash",
    "zsh": "zsh",
    "fish": "fish",
    "sh": "sh",
    "dash": "sh",
    "ksh": "sh",
    "pwsh": "powershell",
    "powershell": "powershell",
}


NAMES = ("env",)


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "env",
        help="print credentials as statements for eval, a dotenv file or JSON",
        description='Print credentials for PROFILE, e.g. eval "$(shellvault env private)".',
    )
    parser.add_argument("profile", nargs="?", help="AWS profile")
    parser.add_argument(
        "--format", choices=FORMATS, help="output format (default: the shell you run)"
    )
    parser.add_argument(
        "--unset", action="store_true", help="print statements removing what env sets"
    )
    add_mint_flags(parser)
    parser.set_defaults(run=run)


def detect_format() -> str:
    """The calling shell's format, via shellingham; `sh` when unsure (any POSIX shell reads it)."""
    try:
        import shellingham

        name, _ = shellingham.detect_shell()
    except Exception:  # shellingham raises its own ShellDetectionFailure, or OSError
        return "sh"
    return _SHELL_FORMATS.get(name.lower().removesuffix(".exe"), "sh")


def run(args: argparse.Namespace) -> int:
    fmt = args.format or detect_format()
    if args.unset:
        if fmt == "process":
            raise ShellvaultError("--unset has no process format; use a shell format")
        sys.stdout.write(formats.render(unset_all(), fmt))
        return 0
    if not args.profile:
        raise ShellvaultError("env needs a PROFILE (or --unset)")
    app = App()
    plan, credentials = app.credentials(args.profile, mint_options(args))
    if fmt == "process":
        text = formats.render_process(credentials)
    else:
        changes = changes_for(args.profile, credentials, plan.region, app.settings.set_aws_vault)
        text = formats.render(changes, fmt)
    sys.stdout.write(text)
    return 0
