"""`shellvault clear [PROFILE]`: drop cached sessions (all, or those in PROFILE's chain)."""

from __future__ import annotations

import argparse
import sys

from shellvault.app import App

NAMES = ("clear",)


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser("clear", help="drop cached sessions, forcing a new mint")
    parser.add_argument("profile", nargs="?", help="only sessions in this profile's chain")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    app = App()
    profiles = set(app.chain_profiles(args.profile)) if args.profile else None
    dropped = app.drop_sessions(profiles)
    scope = f" in the chain of profile {args.profile}" if args.profile else ""
    print(f"shellvault: cleared {dropped} session(s){scope}", file=sys.stderr)
    return 0
