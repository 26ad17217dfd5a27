"""`shellvault use` / `unuse` without the shell integration: say how to set it up, and fail.

Both change the calling shell's variables, which no child process can do; the `shellvault` shell
function from `shellvault init` handles them before the binary is ever run. Reaching this module
therefore means the integration is not loaded, and doing nothing quietly would leave the user
believing credentials were loaded (awsume's most reported problem), so it fails with the one line
that fixes it.
"""

from __future__ import annotations

import argparse

from shellvault.errors import ShellvaultError

NAMES = ("use", "unuse")

# Where each shell's integration line goes.
_SETUP = {
    "bash": 'add eval "$(shellvault init bash)" to ~/.bashrc',
    "zsh": 'add eval "$(shellvault init zsh)" to ~/.zshrc',
    "fish": "add shellvault init fish | source to ~/.config/fish/config.fish",
}


class NeedsIntegration(ShellvaultError):
    exit_code = 2


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    for name in NAMES:
        parser = commands.add_parser(
            name,
            help=(
                "load PROFILE into this shell (needs the shell integration)"
                if name == "use"
                else "take out what `use` loaded (needs the shell integration)"
            ),
            # No options at all, not even -h: whatever follows is for the shell function, and
            # `use -h` or `use P --region R` must get the same answer, not a usage error that
            # hides the real problem. No argument can start with NUL, so none is an option.
            add_help=False,
            prefix_chars="\0",
        )
        parser.add_argument("rest", nargs=argparse.REMAINDER)
        parser.set_defaults(run=run, use_command=name)


def setup_line(shell: str | None) -> str:
    if shell in _SETUP:
        return _SETUP[shell]
    return "; ".join(f"{name}: {line}" for name, line in _SETUP.items())


def run(args: argparse.Namespace) -> int:
    from shellvault.cli.init import detect_shell

    raise NeedsIntegration(
        f"'{args.use_command}' changes your shell and needs the shell integration: "
        f"{setup_line(detect_shell())}"
    )
