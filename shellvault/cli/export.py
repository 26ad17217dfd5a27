"""`shellvault export PROFILE --format env|export-env|json|ini`: aws-vault's `export`."""

from __future__ import annotations

import argparse
import sys

from shellvault.app import App
from shellvault.cli.common import add_mint_flags, mint_options
from shellvault.output import formats
from shellvault.output.changes import changes_for

NAMES = ("export",)


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "export", help="aws-vault compatible export (env, export-env, json, ini)"
    )
    parser.add_argument("profile", help="AWS profile")
    parser.add_argument("--format", choices=formats.EXPORT_FORMATS, default="env")
    add_mint_flags(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    app = App()
    plan, credentials = app.credentials(args.profile, mint_options(args))
    changes = changes_for(args.profile, credentials, plan.region, app.settings.set_aws_vault)
    sys.stdout.write(formats.render_export(changes, credentials, args.profile, args.format))
    return 0
