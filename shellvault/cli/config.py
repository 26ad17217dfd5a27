"""`shellvault config process PROFILE --as NAME`: a profile whose credentials come from shellvault.

It appends `[profile NAME]` with `credential_process = <shellvault> env --format process PROFILE`
to the AWS config, so tools that only understand `AWS_PROFILE=NAME` get PROFILE's credentials,
refreshed by their SDK whenever they are due and served from shellvault's cache in between.
"""

from __future__ import annotations

import argparse
import configparser
import os
import shlex
import sys

from shellvault import config as aws_config
from shellvault.app import App
from shellvault.cli.common import validate_profile_name
from shellvault.errors import ShellvaultError
from shellvault.vault.plan import MintOptions

NAMES = ("config",)

_LAUNCHER_NAMES = ("shellvault", "shellvault.exe")


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "config",
        help="add profiles to the AWS config for tools that read profiles",
        description="Edit the AWS config file for tools that only understand profiles.",
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    process = actions.add_parser(
        "process",
        help="add a profile whose credential_process is shellvault",
        description=(
            "Append [profile NAME] with credential_process = shellvault env --format process "
            "PROFILE, so AWS_PROFILE=NAME works in any SDK or tool, refreshing on its own."
        ),
    )
    process.add_argument("profile", help="the profile shellvault mints credentials for")
    process.add_argument(
        "--as", dest="name", required=True, metavar="NAME", help="the new profile's name"
    )
    process.set_defaults(run=run_process)


def launcher() -> list[str]:
    """The absolute command that starts this shellvault, for another program to run later.

    The console script this process was started as, else the one installed beside this
    interpreter, else the interpreter with `-m shellvault`. Never a bare `shellvault` looked up
    on PATH: the SDK runs credential_process with whatever PATH the tool has, and a PATH entry
    (a pyenv shim, another virtualenv) may start some other shellvault.
    """
    started_as = sys.argv[0] if sys.argv else ""
    if os.path.basename(started_as) in _LAUNCHER_NAMES and os.path.isfile(started_as):
        return [os.path.abspath(started_as)]
    folder = os.path.dirname(os.path.abspath(sys.executable))
    for name in _LAUNCHER_NAMES:
        beside = os.path.join(folder, name)
        if os.path.isfile(beside) and os.access(beside, os.X_OK):
            return [beside]
    return [os.path.abspath(sys.executable), "-m", "shellvault"]


def process_command(profile: str) -> str:
    """The credential_process value, quoted for the SDKs' POSIX word splitting.

    botocore splits it with shlex; the Go, JavaScript and Java v2 SDKs run it through `sh -c`.
    POSIX single quotes read the same in both, so a launcher path with spaces survives.
    """
    return shlex.join([*launcher(), "env", "--format", "process", profile])


def _credentials_file() -> str:
    return os.environ.get("AWS_SHARED_CREDENTIALS_FILE") or os.path.join(
        os.path.expanduser("~"), ".aws", "credentials"
    )


def _in_credentials_file(name: str) -> str | None:
    path = _credentials_file()
    parser = configparser.RawConfigParser(strict=False, default_section="\0no-defaults")
    try:
        parser.read(path, encoding="utf-8")
    except (configparser.Error, UnicodeDecodeError):
        return path  # unreadable as INI: cannot prove NAME is absent, so do not guess
    return path if parser.has_section(name) else None


def run_process(args: argparse.Namespace) -> int:
    profile = validate_profile_name(args.profile)
    name = validate_profile_name(args.name)
    if name == profile:
        raise ShellvaultError(
            f"--as {name} names PROFILE itself; give the new profile another name, "
            f"e.g. --as {profile}-process"
        )
    app = App()
    config = app.config
    # Plans without calling STS or the keystore (the key index answers): an unknown profile or
    # a chain without a key fails here, not later inside some tool's SDK.
    plan = app.plan(profile, MintOptions())
    if not app.keystore.has_key(plan.root):
        raise ShellvaultError(
            f"profile {plan.root} has no stored key, so profile {profile} cannot be minted; "
            f"store it first with `shellvault add {plan.root}`"
        )
    if name in config:
        existing = config.profiles[name]
        if existing.role_arn or existing.source_profile:
            raise ShellvaultError(
                f"profile {name} in {config.path} has role_arn or source_profile; botocore "
                "ignores credential_process there and assumes the role itself; choose a new "
                "name with --as"
            )
        raise ShellvaultError(
            f"profile {name} already exists in {config.path}; choose a new name with --as, "
            "or remove that section first"
        )
    shadowing = _in_credentials_file(name)
    if shadowing:
        raise ShellvaultError(
            f"profile {name} is in {shadowing}, whose keys SDKs use before credential_process; "
            "choose a new name with --as"
        )
    command = process_command(profile)
    if not aws_config.append_process_profile(config.path, name, command, plan.region):
        raise ShellvaultError(f"profile {name} appeared in {config.path} meanwhile; run again")
    print(
        f"shellvault: added [profile {name}] to {config.path}; AWS_PROFILE={name} now gets the "
        f"credentials of profile {profile} from shellvault",
        file=sys.stderr,
    )
    return 0
