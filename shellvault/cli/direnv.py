"""`shellvault direnv install|print|env`: the direnv library and what it runs.

- `install` copies direnvrc/shellvault.sh to direnv's lib folder and reports any older
  `use_aws_profile` that direnv would load after it (exit 1 then: the library is in place but
  would not be the one used).
- `print` writes the library to stdout, for people who manage their dotfiles themselves.
- `env PROFILE [-d DUR] [-n] [--region R]` prints the bash `use aws_profile` evaluates and
  renders its fast-path file (see shellvault/direnv.py). No `-t`: under direnv the code comes
  from the terminal or the profile's `mfa_process`, never from a file that runs on every `cd`.
"""

from __future__ import annotations

import argparse
import sys

from shellvault.errors import ShellvaultError

NAMES = ("direnv",)


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "direnv",
        help="the direnv library: `use aws_profile PROFILE` in an .envrc",
        description="The direnv library behind `use aws_profile PROFILE` (see docs/direnv.md).",
    )
    actions = parser.add_subparsers(dest="direnv_command", metavar="ACTION", required=True)
    install = actions.add_parser(
        "install",
        help="copy the library to ${XDG_CONFIG_HOME:-~/.config}/direnv/lib/shellvault.sh",
        description="Copy the library into direnv's lib folder ($DIRENV_CONFIG/lib when set). "
        "Exits 1 when an older use_aws_profile (in direnvrc, say) would win over it.",
    )
    install.set_defaults(run=run_install)
    show = actions.add_parser("print", help="print the library (to install it yourself)")
    show.set_defaults(run=run_print)
    env = actions.add_parser(
        "env",
        help="print the bash `use aws_profile` evaluates (used by the library)",
        description="Print the statements `use aws_profile PROFILE` loads, with watch_file and "
        "log_status, and render the fast-path file for the next warm call.",
    )
    env.add_argument("profile", help="AWS profile")
    env.add_argument("-d", "--duration", metavar="DUR", help="session duration, e.g. 1h, 12h")
    env.add_argument(
        "-n", "--no-session", action="store_true", help="skip the GetSessionToken session"
    )
    env.add_argument("--region", help="region to export and to call STS in")
    env.set_defaults(run=run_env, mfa_token=None)


def run_env(args: argparse.Namespace) -> int:
    from shellvault import direnv
    from shellvault.app import App
    from shellvault.cli.common import mint_options
    from shellvault.output.changes import changes_for
    from shellvault.prompt.terminal import line_mode_terminal

    # argparse in Python 3.11 turns `--region=--` into [] (it drops every "--" argument):
    # the library passes values as `--flag=VALUE`, so that can only have been "--".
    args.duration = "--" if args.duration == [] else args.duration
    args.region = "--" if args.region == [] else args.region
    # An empty value means "not given", exactly as the library (and the file name) treat it.
    args.duration = args.duration or None
    args.region = args.region or None
    options = mint_options(args)
    request = direnv.Request(args.profile, args.duration, args.no_session, args.region)
    app = App()
    plan = app.plan(args.profile, options)
    credentials = app.warm_hit(plan)
    if credentials is None:
        # Minting may ask on the terminal (MFA code, file keystore passphrase); under fish the
        # terminal is still in the line editor's mode, see line_mode_terminal.
        with line_mode_terminal():
            plan, credentials = app.credentials(args.profile, options)
    changes = changes_for(args.profile, credentials, plan.region, app.settings.set_aws_vault)
    rendered = direnv.render_load(
        request,
        changes,
        credentials,
        app.cache.directory,
        plan.final_cache_key,
        app.settings.min_ttl,
    )
    direnv.write_fast_path(rendered, credentials)
    sys.stdout.write(rendered.script)
    return 0


def run_print(args: argparse.Namespace) -> int:
    from shellvault import direnv, resources

    sys.stdout.write(resources.read_text("direnvrc", direnv.LIBRARY))
    return 0


def run_install(args: argparse.Namespace) -> int:
    from shellvault import direnv, resources

    path, changed, competing = direnv.install(resources.read_text("direnvrc", direnv.LIBRARY))
    done = "installed" if changed else "already up to date:"
    if competing:
        where = "; ".join(f"{file} line {line}" for file, line in competing)
        raise ShellvaultError(
            f"{done} {path}, but use_aws_profile is also defined in {where}; direnv loads that "
            "too (direnvrc always after lib/), so `use aws_profile` may run the old function: "
            "delete that definition (the function starting there) and run "
            "`shellvault direnv install` again"
        )
    print(
        f"shellvault: {done} {path} (direnv loads it before every .envrc); "
        "write `use aws_profile PROFILE` in a project's .envrc",
        file=sys.stderr,
    )
    return 0
