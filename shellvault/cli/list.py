"""`shellvault list`: profiles, whether a key is stored, and cached sessions with time left.

The rows and their renderings are in shellvault/listing.py.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from shellvault.app import App
from shellvault.listing import collect, profile_names, render_alfred, render_table

NAMES = ("list", "ls")


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser("list", aliases=["ls"], help="list profiles, keys and sessions")
    parser.add_argument(
        "--format",
        choices=("table", "json", "lines", "alfred"),
        default="table",
        help="lines: one profile name per line (fzf, rofi, dmenu); alfred: Script Filter JSON",
    )
    parser.add_argument(
        "--json", action="store_const", const="json", dest="format", help="same as --format json"
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    app = App()
    if args.format == "lines":
        sys.stdout.write("".join(f"{name}\n" for name in profile_names(app)))
        return 0
    rows = collect(app, time.time())
    if args.format == "json":
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")
    elif args.format == "alfred":
        sys.stdout.write(render_alfred(rows))
    else:
        sys.stdout.write(render_table(rows))
    return 0
