"""Flags shared by every command that produces credentials (`exec`, `env`, `export`)."""

from __future__ import annotations

import argparse

from shellvault.durations import parse_duration
from shellvault.errors import ShellvaultError
from shellvault.vault.plan import MintOptions


def add_mint_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-t", "--mfa-token", metavar="CODE", help="MFA code (used once)")
    parser.add_argument(
        "-d", "--duration", metavar="DUR", help="session duration, e.g. 1h, 90m, 12h"
    )
    parser.add_argument(
        "-n", "--no-session", action="store_true", help="skip the GetSessionToken session"
    )
    parser.add_argument("--region", help="region to export and to call STS in")


def mint_options(args: argparse.Namespace) -> MintOptions:
    duration = parse_duration(args.duration, "--duration") if args.duration else None
    if duration is not None and duration < 900:
        raise ShellvaultError("--duration: AWS requires at least 15m (900 seconds)")
    return MintOptions(
        duration=duration,
        no_session=args.no_session,
        region=args.region,
        mfa_token=args.mfa_token,
    )


def validate_profile_name(name: str) -> str:
    if not name or name != name.strip() or any(c in name for c in "[]\n\r"):
        raise ShellvaultError(
            f"profile name {name!r} cannot be used in the AWS config file; "
            "use a name without brackets, line breaks or surrounding spaces"
        )
    return name
