"""`shellvault remove PROFILE`: delete a stored key and every session minted from it."""

from __future__ import annotations

import argparse
import os
import sys

from shellvault.app import App
from shellvault.errors import ShellvaultError

NAMES = ("remove",)


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser("remove", help="delete a stored key and its sessions")
    parser.add_argument("profile", help="AWS profile")
    parser.add_argument("-f", "--force", action="store_true", help="do not ask")
    parser.set_defaults(run=run)


def confirm(question: str) -> bool:
    """Ask on the terminal; without one, refuse rather than guess."""
    try:
        fd = os.open("/dev/tty", os.O_RDWR | os.O_NOCTTY)
    except OSError:
        raise ShellvaultError(f"{question} needs a terminal to confirm; use --force") from None
    with os.fdopen(fd, "r+b", buffering=0) as tty:
        tty.write(f"shellvault: {question} [y/N] ".encode())
        answer = tty.readline().decode(errors="replace").strip().lower()
    return answer in ("y", "yes")


def run(args: argparse.Namespace) -> int:
    app = App()
    profile = args.profile
    if not app.keystore.has_key(profile) and app.keystore.get_key(profile) is None:
        raise ShellvaultError(
            f"profile {profile} has no key in the {app.keystore.backend_name} keystore"
        )
    if not args.force and not confirm(f"delete the stored key of profile {profile}?"):
        print("shellvault: nothing removed", file=sys.stderr)
        return 1
    app.keystore.delete_key(profile)
    app.drop_sessions(source=profile)
    print(f"shellvault: removed the key and sessions of profile {profile}", file=sys.stderr)
    return 0
