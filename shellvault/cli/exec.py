"""`shellvault exec PROFILE [-- CMD ARGS…]`: replace this process with CMD, credentials set."""

from __future__ import annotations

import argparse
import os
import sys

from shellvault.app import App
from shellvault.cli.common import add_mint_flags, mint_options
from shellvault.cli.parser import Parser
from shellvault.errors import ShellvaultError
from shellvault.output.changes import changes_for

NAMES = ("exec",)


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "exec",
        help="run a command (default $SHELL) with the profile's credentials",
        description="Run CMD with PROFILE's credentials: shellvault exec private -- aws s3 ls",
    )
    parser.add_argument("profile", help="AWS profile")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="command and arguments")
    add_mint_flags(parser)
    parser.set_defaults(run=run)


def split_command(args: argparse.Namespace) -> list[str]:
    """The command after `--`; flags written between PROFILE and `--` still count as flags."""
    command = list(args.command)
    if "--" in command:
        cut = command.index("--")
        flags, command = command[:cut], command[cut + 1 :]
        if flags:
            late = Parser(prog="shellvault exec", add_help=False)
            add_mint_flags(late)
            late.parse_args(flags, namespace=args)
    return command


def run(args: argparse.Namespace) -> int:
    command = split_command(args)
    if not command:
        command = [os.environ.get("SHELL") or "/bin/sh"]
    app = App()
    plan, credentials = app.credentials(args.profile, mint_options(args))
    changes = changes_for(args.profile, credentials, plan.region, app.settings.set_aws_vault)
    active = os.environ.get("SHELLVAULT_PROFILE") or os.environ.get("AWS_VAULT")
    if active and active != args.profile:
        # aws-vault refuses here; switching profiles is a normal thing to do.
        print(
            f"shellvault: profile {args.profile} replaces active profile {active}", file=sys.stderr
        )
    environment = changes.apply(os.environ)
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        os.execvpe(command[0], command, environment)
    except OSError as exc:
        raise ShellvaultError(f"cannot run {command[0]}: {exc.strerror}") from None
    return 127  # not reached
