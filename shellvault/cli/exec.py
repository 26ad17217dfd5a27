"""`shellvault exec [--server] PROFILE [-- CMD ARGS…]`: run CMD with the profile's credentials.

Plain `exec` replaces this process with CMD, keys in its environment. `--server` instead keeps
running beside CMD as its local credential endpoint (see shellvault/server.py), so CMD's SDKs
refresh on their own for as long as CMD runs.
"""

from __future__ import annotations

import argparse
import os
import sys

from shellvault.app import App
from shellvault.cli.common import add_mint_flags, mint_options
from shellvault.cli.parser import Parser
from shellvault.errors import ShellvaultError
from shellvault.output.changes import changes_for, refresh_args

NAMES = ("exec",)


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "exec",
        help="run a command (default $SHELL) with the profile's credentials",
        description="Run CMD with PROFILE's credentials: shellvault exec private -- aws s3 ls",
    )
    parser.add_argument("profile", help="AWS profile")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="command and arguments")
    add_exec_flags(parser)
    parser.set_defaults(run=run)


def add_exec_flags(parser: argparse.ArgumentParser) -> None:
    add_mint_flags(parser)
    parser.add_argument(
        "-s",
        "--server",
        action="store_true",
        help="give CMD a local credential endpoint that refreshes, instead of keys",
    )


def split_command(args: argparse.Namespace) -> list[str]:
    """The command after `--`; flags written between PROFILE and `--` still count as flags."""
    command = list(args.command)
    if "--" in command:
        cut = command.index("--")
        flags, command = command[:cut], command[cut + 1 :]
        if flags:
            late = Parser(prog="shellvault exec", add_help=False)
            add_exec_flags(late)
            late.parse_args(flags, namespace=args)
    return command


def run(args: argparse.Namespace) -> int:
    command = split_command(args)
    if not command:
        command = [os.environ.get("SHELL") or "/bin/sh"]
    if args.server:
        from shellvault import server

        say_replaced(args.profile)
        return server.serve_command(args.profile, mint_options(args), command)
    app = App()
    plan, credentials = app.credentials(args.profile, mint_options(args))
    changes = changes_for(args.profile, credentials, plan.region, app.settings.set_aws_vault)
    say_replaced(args.profile)
    environment = changes.apply(os.environ)
    # The child's shell hooks must refresh *this* profile with *these* flags, and not believe
    # direnv or an `exec --server` endpoint still owns its credentials.
    for name in INHERITED_STATE:
        environment.pop(name, None)
    environment["SHELLVAULT_REFRESH_ARGS"] = "\n".join(
        refresh_args(args.duration, args.no_session, args.region)
    )
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        os.execvpe(command[0], command, environment)
    except OSError as exc:
        raise ShellvaultError(f"cannot run {command[0]}: {exc.strerror}") from None
    return 127  # not reached


INHERITED_STATE = (
    "SHELLVAULT_DIRENV",
    "SHELLVAULT_SERVER",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN",
)


def say_replaced(profile: str) -> None:
    active = os.environ.get("SHELLVAULT_PROFILE") or os.environ.get("AWS_VAULT")
    if active and active != profile:
        # aws-vault refuses here; switching profiles is a normal thing to do.
        print(f"shellvault: profile {profile} replaces active profile {active}", file=sys.stderr)
