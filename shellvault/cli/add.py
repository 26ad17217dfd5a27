"""`shellvault add PROFILE`: store a long-term access key in the keystore (never in a file)."""

from __future__ import annotations

import argparse
import os
import sys

from shellvault import config as aws_config
from shellvault.app import App
from shellvault.cli.common import validate_profile_name
from shellvault.credentials import Credentials
from shellvault.errors import ShellvaultError

NAMES = ("add",)


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "add",
        help="store a long-term access key in the keystore",
        description="Store PROFILE's access key. Asked on the terminal (secret hidden), read "
        "from stdin as two lines when stdin is not a terminal, or taken from "
        "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY with --env. Never from arguments.",
    )
    parser.add_argument("profile", help="AWS profile")
    parser.add_argument("--env", action="store_true", help="read the key from the environment")
    parser.add_argument(
        "--no-config", action="store_true", help="do not add [profile PROFILE] to the AWS config"
    )
    parser.set_defaults(run=run)


def read_key(from_env: bool) -> tuple[str, str]:
    if from_env:
        return (
            os.environ.get("AWS_ACCESS_KEY_ID", ""),
            os.environ.get("AWS_SECRET_ACCESS_KEY", ""),
        )
    if sys.stdin.isatty():
        import getpass

        key_id = input("Access key ID: ")
        secret = getpass.getpass("Secret access key: ")
        return key_id, secret
    lines = sys.stdin.read().splitlines()
    lines += ["", ""]
    return lines[0], lines[1]


def run(args: argparse.Namespace) -> int:
    profile = validate_profile_name(args.profile)
    app = App()
    source = app.config.profile(profile).source_profile if profile in app.config else None
    if source:
        raise ShellvaultError(
            f"profile {profile} has source_profile = {source} in {app.config.path}; store the "
            f"key under the source profile instead: `shellvault add {source}`"
        )
    key_id, secret = (part.strip() for part in read_key(args.env))
    if not key_id or not secret:
        fix = (
            "set both AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
            if args.env
            else "give the access key ID and the secret as two lines"
        )
        raise ShellvaultError(f"profile {profile}: no access key ID and secret; {fix}")
    if any(c.isspace() for c in key_id + secret):
        raise ShellvaultError(
            f"profile {profile}: the access key ID or secret contains spaces; copy them again"
        )
    if key_id.startswith("ASIA") or (args.env and os.environ.get("AWS_SESSION_TOKEN")):
        # Temporary credentials (an active `use`, `exec` or SSO session) cannot be stored: they
        # need their session token and expire within hours.
        raise ShellvaultError(
            f"profile {profile}: these are temporary STS credentials, not a long-term access key; "
            "store the IAM user's access key (it starts with AKIA)"
        )
    app.keystore.set_key(profile, Credentials(key_id, secret))
    # Sessions minted from the old key must not outlive it.
    app.drop_sessions(source=profile)
    added = False
    if not args.no_config:
        added = aws_config.append_profile_section(app.config.path, profile)
    where = f" and added [profile {profile}] to {app.config.path}" if added else ""
    print(
        f"shellvault: stored key {key_id[:4]}… for profile {profile} in the "
        f"{app.keystore.backend_name} keystore{where}",
        file=sys.stderr,
    )
    return 0
