"""`shellvault init [bash|zsh|fish]`: print the shell integration snippet for an rc file.

`eval "$(shellvault init bash)"` in ~/.bashrc, the same with zsh in ~/.zshrc, and
`shellvault init fish | source` in ~/.config/fish/config.fish. The snippets live in shell/.
"""

from __future__ import annotations

import argparse
import sys

from shellvault.errors import ShellvaultError

SHELLS = ("bash", "zsh", "fish")

NAMES = ("init",)


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "init",
        help="print the shell integration (use/unuse, prompt segment, refresh, completion)",
        description='Print the shell integration: eval "$(shellvault init bash)" in ~/.bashrc.',
    )
    parser.add_argument(
        "shell", nargs="?", choices=SHELLS, help="the shell (default: the one you run)"
    )
    parser.set_defaults(run=run)


def detect_shell() -> str | None:
    """bash, zsh or fish when shellingham finds one of them running us, else None."""
    from shellvault.cli.env import detect_format

    # detect_format answers "sh" when unsure, and other formats for other shells: neither has
    # a snippet, and guessing would put bash code into a fish config.
    fmt = detect_format()
    return fmt if fmt in SHELLS else None


def run(args: argparse.Namespace) -> int:
    from shellvault import resources

    shell = args.shell or detect_shell()
    if shell is None:
        raise ShellvaultError(
            "init: cannot tell which shell this is; name it: shellvault init bash|zsh|fish"
        )
    sys.stdout.write(resources.read_text("shell", f"shellvault.{shell}"))
    return 0
