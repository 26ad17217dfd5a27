"""The environment changes that loading a profile makes: variables set and variables removed.

`env`, `exec` and `export` all start from one `EnvChanges`, so every way credentials leave
shellvault carries the same variables.
"""

# No `from __future__ import annotations` here: typing.NamedTuple would compile every string
# annotation at import time, which costs the warm path (`env` on every prompt) about 2 ms in all.

from collections.abc import Mapping
from typing import NamedTuple

from shellvault.credentials import Credentials

# Variables that would make tools pick other credentials than the ones we export.
CONFLICTING = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_SECURITY_TOKEN",
    "AWS_SDK_LOAD_CONFIG",
    "AWS_CREDENTIAL_FILE",
)

# Everything `env` may set; `env --unset` removes all of them.
EXPORTED = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_CREDENTIAL_EXPIRATION",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "SHELLVAULT_PROFILE",
    "SHELLVAULT_EXPIRES",
    "AWS_VAULT",
)


class EnvChanges(NamedTuple):
    """Ordered sets, then unsets. A variable never appears in both."""

    sets: dict[str, str] = {}  # never mutated; a NamedTuple default is shared
    unsets: tuple[str, ...] = ()

    def __repr__(self) -> str:
        # Names only: the values are credentials.
        return f"EnvChanges(sets={list(self.sets)!r}, unsets={self.unsets!r})"

    def apply(self, environ: Mapping[str, str]) -> dict[str, str]:
        """The environment a child process gets (used by `exec`)."""
        result = {k: v for k, v in environ.items() if k not in self.unsets}
        result.update(self.sets)
        return result


def changes_for(
    profile: str,
    credentials: Credentials,
    region: str | None,
    set_aws_vault: bool = True,
) -> EnvChanges:
    sets: dict[str, str] = {
        "AWS_ACCESS_KEY_ID": credentials.access_key_id,
        "AWS_SECRET_ACCESS_KEY": credentials.secret_access_key,
    }
    unsets = list(CONFLICTING)
    if credentials.session_token is not None:
        sets["AWS_SESSION_TOKEN"] = credentials.session_token
    else:
        unsets.append("AWS_SESSION_TOKEN")
    expiration = credentials.expiration_rfc3339()
    if expiration is not None and credentials.expires is not None:
        sets["AWS_CREDENTIAL_EXPIRATION"] = expiration
    else:
        unsets.append("AWS_CREDENTIAL_EXPIRATION")
    # An unknown region leaves the caller's AWS_REGION alone: it may be deliberate.
    if region:
        sets["AWS_REGION"] = region
        sets["AWS_DEFAULT_REGION"] = region
    sets["SHELLVAULT_PROFILE"] = profile
    if credentials.expires is not None:
        sets["SHELLVAULT_EXPIRES"] = str(credentials.expires)
    else:
        unsets.append("SHELLVAULT_EXPIRES")
    if set_aws_vault:
        sets["AWS_VAULT"] = profile
    return EnvChanges(sets, tuple(unsets))


def refresh_args(duration: str | None, no_session: bool, region: str | None) -> list[str]:
    """The `shellvault env` arguments after the profile that SHELLVAULT_REFRESH_ARGS carries
    (one per line) for the shell hook's refresh.

    `--flag=value` so a value starting with `-` stays a value. Never an MFA code: it is single-use.
    """
    args = []
    if duration:
        args.append(f"--duration={duration}")
    if no_session:
        args.append("--no-session")
    if region:
        args.append(f"--region={region}")
    return args


def unset_all() -> EnvChanges:
    """What `env --unset` prints: remove everything `env` may have set."""
    return EnvChanges({}, EXPORTED)
