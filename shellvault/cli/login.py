"""`shellvault login PROFILE`: open the AWS console signed in as PROFILE, or print the URL.

Role profiles sign in with their role credentials as they are. A profile backed by a stored IAM
user key signs in through GetFederationToken made with that long-term key (AWS refuses session
credentials there). See shellvault/console.py for the federation exchange and
shellvault/browser.py for how the URL reaches a browser without showing up in `ps`.
"""

from __future__ import annotations

import argparse
import sys

from shellvault.app import App
from shellvault.cli.common import add_mint_flags, mint_options
from shellvault.credentials import Credentials
from shellvault.errors import ShellvaultError
from shellvault.vault.plan import ChainPlan, MintOptions

NAMES = ("login",)


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "login",
        help="open the AWS console signed in as a profile",
        description=(
            "Open the AWS console signed in as PROFILE: shellvault login private_admin "
            "--isolate. Role profiles use their role credentials; a stored IAM user key "
            "signs in through GetFederationToken."
        ),
    )
    parser.add_argument("profile", help="AWS profile")
    parser.add_argument(
        "--path", metavar="P", help="console page to open, e.g. s3/home (default: console/home)"
    )
    parser.add_argument(
        "--stdout", action="store_true", help="print the sign-in URL instead of opening it"
    )
    parser.add_argument(
        "--browser",
        metavar="NAME|CMD",
        help="chrome, chromium, firefox, or a command ({url} marks where the URL goes)",
    )
    parser.add_argument(
        "--isolate",
        action="store_true",
        help="open in a browser profile folder of this AWS profile's own",
    )
    add_mint_flags(parser)
    parser.set_defaults(run=run)


def federate(app: App, plan: ChainPlan, options: MintOptions) -> Credentials:
    """GetFederationToken with the root profile's long-term key, read straight from the keystore.

    Never from the cached GetSessionToken session: AWS refuses GetFederationToken with session
    credentials.
    """
    from shellvault.config import Profile
    from shellvault.vault.federation_token import FederationToken, federation_duration
    from shellvault.vault.plan import sts_target
    from shellvault.vault.stored_key import StoredKey

    duration = federation_duration(options.duration)
    root = app.config.profiles.get(plan.root) or Profile(plan.root)
    # The same endpoint rules as the profile's own STS calls, in the console's region, so a
    # China or GovCloud key talks to its own partition.
    target = sts_target(root, plan.region)
    provider = FederationToken(
        StoredKey(app.keystore, plan.root), plan.target, plan.root, target, duration
    )
    credentials = provider.retrieve()
    print(
        f"shellvault: profile {plan.target} signs in as a federated user (GetFederationToken "
        "with its stored key); permissions that require MFA do not carry over, an AWS limit: "
        "use a role profile with mfa_serial for those",
        file=sys.stderr,
    )
    return credentials


def run(args: argparse.Namespace) -> int:
    from shellvault import browser, console

    if args.stdout and (args.browser is not None or args.isolate):
        raise ShellvaultError(
            "--stdout prints the URL and opens nothing; leave out --browser and --isolate"
        )
    app = App()
    options = mint_options(args)
    # Everything that can be wrong with the input is found before any minting: a mistyped
    # browser must not cost an MFA code. The plan comes first (config and index only), so an
    # unknown profile never gets a browser profile folder.
    plan = app.plan(args.profile, options)
    endpoint = console.federation_endpoint(
        console.partition_for(plan.region), app.settings.signin_url
    )
    launcher = None if args.stdout else browser.resolve(args.browser, args.isolate, args.profile)
    session_duration = None
    if plan.roles:
        _, credentials = app.credentials(args.profile, options)
        if console.session_duration_allowed(plan):
            session_duration = plan.roles[-1].duration
        elif args.duration:
            print(
                f"shellvault: profile {args.profile}'s role was assumed with temporary "
                "credentials, for which AWS refuses a console SessionDuration; the console "
                "session ends with the credentials",
                file=sys.stderr,
            )
    else:
        credentials = federate(app, plan, options)
    token = console.signin_token(endpoint, credentials, session_duration, args.profile)
    url = console.login_url(endpoint, token, console.destination(plan.region, args.path))
    if launcher is None:
        sys.stdout.write(url + "\n")
        return 0
    browser.open_url(launcher, url)
    return 0
