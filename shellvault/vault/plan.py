"""Which STS calls a profile needs, decided from the config alone (no network, no keystore).

A profile resolves to a chain: the root profile whose long-term key is in the keystore, an optional
GetSessionToken session made with MFA, then one AssumeRole per role profile on the way to the
target. The plan is plain data, so it is cheap to compute on the warm path and every decision
(MFA serial, durations, the role-chaining cap) can be tested without STS.

Each step also has a cache key: a hash of everything the credentials depend on (the chain's
profiles, roles, MFA serial, duration, region, endpoint). Editing the config changes the key, so a
stale session is never served, and edits to unrelated profiles invalidate nothing.
"""

# No `from __future__ import annotations` here: typing.NamedTuple would compile every string
# annotation at import time, which costs the warm path (`env` on every prompt) about 2 ms in all.

import json
import os
from collections.abc import Callable
from typing import NamedTuple, TypeVar

from shellvault.config import AwsConfig, Profile
from shellvault.durations import (
    DEFAULT_ASSUME_ROLE,
    DEFAULT_CHAINED_SESSION_TOKEN,
    DEFAULT_SESSION_TOKEN,
    ROLE_CHAINING_LIMIT,
    env_duration,
)
from shellvault.errors import ConfigError

try:
    # The builtin module: hashlib would load OpenSSL (~2 ms) on every prompt.
    from _sha256 import sha256  # type: ignore[import-not-found]
except ImportError:  # Python 3.12+ renamed it
    from hashlib import sha256

CACHE_FORMAT = 1


class MintOptions(NamedTuple):
    """What the user asked for on the command line."""

    duration: int | None = None
    no_session: bool = False
    region: str | None = None
    mfa_token: str | None = None


class StsTarget(NamedTuple):
    """Where a step's STS call goes: botocore's rules, resolved for one profile."""

    region: str | None
    endpoint_url: str | None
    regional_endpoints: str | None


class SessionStep(NamedTuple):
    """GetSessionToken with the root's long-term key."""

    profile: str
    mfa_serial: str | None
    duration: int
    sts: StsTarget
    feeds_roles: bool
    cache_key: str = ""


class RoleStep(NamedTuple):
    """AssumeRole for one role profile, from the credentials of the step before."""

    profile: str
    role_arn: str
    role_session_name: str | None
    external_id: str | None
    source_identity: str | None
    session_tags: tuple[tuple[str, str], ...]
    transitive_session_tags: tuple[str, ...]
    # Sent only when the credentials it is assumed from do not carry this MFA already.
    mfa_serial: str | None
    duration: int
    sts: StsTarget
    # Set when the role-chaining limit cut the requested duration: (requested, reason).
    capped_from: int | None = None
    cache_key: str = ""


class ChainPlan(NamedTuple):
    target: str
    root: str
    # Profiles from the target down to the root, for messages and `clear`.
    profiles: tuple[str, ...]
    session: SessionStep | None
    roles: tuple[RoleStep, ...]
    region: str | None
    # The command that prints an MFA code: the nearest `mfa_process` from the target down.
    mfa_process: str | None = None

    @property
    def final_cache_key(self) -> str | None:
        """The key of the credentials that get exported; None for a bare long-term key."""
        if self.roles:
            return self.roles[-1].cache_key
        if self.session is not None:
            return self.session.cache_key
        return None


def source_chain(config: AwsConfig, name: str, has_key: Callable[[str], bool]) -> list[Profile]:
    """Profiles from `name` to the root, following `source_profile`."""
    if name not in config:
        if has_key(name):
            # A key stored with `add --no-config` still works, as in aws-vault.
            return [Profile(name)]
        config.profile(name)  # raises the unknown-profile error
    chain: list[Profile] = []
    current: str | None = name
    while current is not None:
        if any(p.name == current for p in chain):
            loop = " -> ".join([*(p.name for p in chain), current])
            raise ConfigError(f"source_profile loop in {config.path}: {loop}; break the loop")
        if current not in config:
            if has_key(current):
                chain.append(Profile(current))
                break
            raise ConfigError(
                f"profile {chain[-1].name} has source_profile = {current}, which is not in "
                f"{config.path} and has no stored key; add it or run `shellvault add {current}`"
            )
        profile = config.profiles[current]
        chain.append(profile)
        current = profile.source_profile
    return chain


def sts_target(profile: Profile, region: str | None) -> StsTarget:
    ignore = os.environ.get("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "").lower() == "true"
    endpoint = None
    if not ignore:
        endpoint = (
            os.environ.get("AWS_ENDPOINT_URL_STS")
            or os.environ.get("AWS_ENDPOINT_URL")
            or profile.get("endpoint_url")
        )
    regional = profile.get("sts_regional_endpoints") or os.environ.get("AWS_STS_REGIONAL_ENDPOINTS")
    return StsTarget(region, endpoint, regional)


def _key(parent: str, step: SessionStep | RoleStep) -> str:
    material = json.dumps(
        {"v": CACHE_FORMAT, "parent": parent, "step": step._asdict()},
        sort_keys=True,
    )
    digest: str = sha256(material.encode()).hexdigest()
    return digest[:40]


def plan(
    config: AwsConfig,
    name: str,
    options: MintOptions,
    has_key: Callable[[str], bool],
) -> ChainPlan:
    chain = source_chain(config, name, has_key)
    root = chain[-1]
    if root.role_arn:
        raise ConfigError(
            f"profile {root.name} has role_arn but no source_profile; set source_profile to the "
            "profile whose key should assume it"
        )
    # From the root outwards: the order the STS calls happen in.
    outward = list(reversed(chain))
    # A profile with source_profile but no role_arn is an alias of its source, as in aws-vault.
    role_profiles = [p for p in outward[1:] if p.role_arn]

    def region_of(index: int) -> str | None:
        # A profile's own region, else the nearest one towards the root.
        for p in reversed(outward[: index + 1]):
            if p.region:
                return p.region
        return None

    target_region = options.region or region_of(len(outward) - 1)

    # The MFA device belongs to the user who owns the key: the root's serial, else the one the
    # roles being reached name (the mission's config puts it only on the role).
    session_mfa = root.mfa_serial or next(
        (p.mfa_serial for p in role_profiles if p.mfa_serial), None
    )
    assume_ttl = env_duration("AWS_ASSUME_ROLE_TTL")

    def role_duration(profile: Profile) -> int:
        if profile.name == name and options.duration is not None:
            return options.duration
        return profile.duration_seconds() or assume_ttl or DEFAULT_ASSUME_ROLE

    use_session = not options.no_session
    if len(role_profiles) == 1 and role_duration(role_profiles[0]) > ROLE_CHAINING_LIMIT:
        # A session would make this AssumeRole a chained one, capped at 1h: assume straight
        # from the long-term key (with MFA) instead, one prompt for the role's whole life.
        use_session = False

    session: SessionStep | None = None
    parent_key = f"root:{root.name}"
    if use_session:
        if role_profiles:
            duration = (
                env_duration("AWS_CHAINED_SESSION_TOKEN_TTL") or DEFAULT_CHAINED_SESSION_TOKEN
            )
        else:
            duration = (
                options.duration or env_duration("AWS_SESSION_TOKEN_TTL") or DEFAULT_SESSION_TOKEN
            )
        session_step = SessionStep(
            profile=root.name,
            mfa_serial=session_mfa,
            duration=duration,
            sts=sts_target(root, region_of(0)),
            feeds_roles=bool(role_profiles),
        )
        session = _with_key(session_step, parent_key)
        parent_key = session.cache_key

    roles: list[RoleStep] = []
    mfa_in_effect = session.mfa_serial if session else None
    from_temporary = session is not None
    for index, profile in enumerate(outward):
        if index == 0 or not profile.role_arn:
            continue
        assert profile.role_arn is not None
        requested = role_duration(profile)
        duration, capped_from = requested, None
        if from_temporary and requested > ROLE_CHAINING_LIMIT:
            duration, capped_from = ROLE_CHAINING_LIMIT, requested
        wanted_mfa = profile.mfa_serial
        if not from_temporary:
            # Assumed straight from the stored key (no session): the key owner's MFA device
            # must come along here, or skipping the session would also drop the MFA.
            wanted_mfa = wanted_mfa or session_mfa
        send_mfa = wanted_mfa if wanted_mfa != mfa_in_effect else None
        is_target = profile.name == name
        region = target_region if is_target else region_of(index)
        role_step = RoleStep(
            profile=profile.name,
            role_arn=profile.role_arn,
            role_session_name=profile.get("role_session_name"),
            external_id=profile.get("external_id"),
            source_identity=profile.get("source_identity"),
            session_tags=tuple(sorted(profile.session_tags().items())),
            transitive_session_tags=profile.transitive_session_tags(),
            mfa_serial=send_mfa,
            duration=duration,
            sts=sts_target(profile, region),
            capped_from=capped_from,
        )
        role = _with_key(role_step, parent_key)
        roles.append(role)
        parent_key = role.cache_key
        if send_mfa:
            mfa_in_effect = send_mfa
        from_temporary = True

    return ChainPlan(
        target=name,
        root=root.name,
        profiles=tuple(p.name for p in chain),
        session=session,
        roles=tuple(roles),
        region=target_region,
        mfa_process=next((v for p in chain if (v := p.get("mfa_process"))), None),
    )


_Step = TypeVar("_Step", SessionStep, RoleStep)


def _with_key(step: _Step, parent_key: str) -> _Step:
    return step._replace(cache_key=_key(parent_key, step))
