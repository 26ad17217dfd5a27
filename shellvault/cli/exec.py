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
from shellvault.credentials import Credentials
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
        return run_server(args, command)
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


def run_server(args: argparse.Namespace, command: list[str]) -> int:
    """Mint now, serve later mints from a loopback endpoint, and exit with CMD's status."""
    from shellvault import server
    from shellvault.errors import MfaError

    app = App()
    # The SDKs refresh 15 minutes before expiry (botocore's advisory window). Answering with
    # credentials they already consider due would make every later API call ask again: never
    # hand out less than that window, whatever AWS_MIN_TTL says.
    app.settings = app.settings._replace(min_ttl=max(app.settings.min_ttl, server.SDK_WINDOW))
    options = mint_options(args)
    # The terminal is still ours: any MFA or passphrase prompt happens now, before CMD owns it.
    plan, credentials = app.credentials(args.profile, options)
    if credentials.expires is None or credentials.session_token is None:
        raise ShellvaultError(
            f"profile {args.profile} gives the long-term key itself (--no-session on a profile "
            "without a role); exec --server serves temporary credentials only: drop -n"
        )
    keep_keystore_open(app, plan.root)
    # A -t code is single-use at AWS; later mints get codes from mfa_process or not at all.
    later = options._replace(mfa_token=None)

    def fetch() -> Credentials:
        try:
            return app.credentials(args.profile, later, terminal=False)[1]
        except MfaError:
            if plan.mfa_process:
                raise  # its own message says what went wrong with mfa_process
            raise MfaError(
                f"profile {args.profile} needs a new MFA code, and the endpoint never reads the "
                "terminal (the command owns it); set mfa_process in the profile, or run "
                f"`shellvault env {args.profile}` in another terminal, then retry"
            ) from None

    endpoint = server.CredentialServer(fetch, f"credentials for profile {args.profile}")
    try:
        changes = server.server_changes(
            args.profile, endpoint, plan.region, app.settings.set_aws_vault
        )
        say_replaced(args.profile)
        shadow = server.default_profile_shadow(os.environ)
        if shadow:
            print(
                f"shellvault: {shadow} gives the default profile credentials, which AWS SDKs "
                "in the command use before the endpoint; remove them to use the endpoint",
                file=sys.stderr,
            )
        endpoint.start()
        return server.run_child(command, changes.apply(os.environ))
    finally:
        endpoint.stop()


def keep_keystore_open(app: App, root: str) -> None:
    """Unlock the file keystore now, so refreshes never ask for its passphrase on the terminal.

    A warm start reads only the session cache; the first refresh then needs the keystore (the
    MFA session or the key), and its passphrase prompt would fight the command for the
    terminal. One App lives as long as the endpoint, so the key derived now stays in memory.
    Without a terminal there is nobody to ask: a refresh then fails on its own, in one line.
    """
    if app.keystore.backend_name != "file" or os.environ.get("SHELLVAULT_FILE_PASSPHRASE"):
        return
    try:
        os.close(os.open("/dev/tty", os.O_RDWR | os.O_NOCTTY))
    except OSError:
        return
    app.keystore.get_key(root)
