"""Console sign-in credentials for an IAM user key: GetFederationToken (aws-vault's provider).

Duration follows `-d`, else `AWS_FEDERATION_TOKEN_TTL` (aws-vault's name), else one hour, within
AWS's 15 minutes to 36 hours.
"""

from __future__ import annotations

import json

from shellvault.credentials import Credentials
from shellvault.durations import env_duration
from shellvault.errors import ConfigError, ShellvaultError, StsError
from shellvault.vault import Provider, sts
from shellvault.vault.plan import StsTarget

TTL_VARIABLE = "AWS_FEDERATION_TOKEN_TTL"  # aws-vault's name
# Without a session policy a federated user has no permissions at all; this one lets the user's
# own policies decide (a session policy can only narrow them).
ALLOW_ALL_POLICY = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
    },
    separators=(",", ":"),
)
NAME_MAX = 32  # GetFederationToken's Name limit
DURATION_MIN, DURATION_MAX = 900, 129_600  # GetFederationToken DurationSeconds: 15m..36h
DEFAULT_DURATION = 3600


def federation_duration(requested: int | None) -> int:
    """GetFederationToken's DurationSeconds: `-d`, else `AWS_FEDERATION_TOKEN_TTL`, else 1h."""
    what = "--duration"
    duration = requested
    if duration is None:
        duration = env_duration(TTL_VARIABLE)
        what = TTL_VARIABLE
    if duration is None:
        return DEFAULT_DURATION
    if not DURATION_MIN <= duration <= DURATION_MAX:
        raise ConfigError(
            f"{what}: a federated console session lasts 15m to 36h (AWS's GetFederationToken "
            f"limits); got {duration} seconds"
        )
    return duration


def federation_name(arn: str, profile: str) -> str:
    """The IAM user's name from its ARN, cut to GetFederationToken's 32 characters."""
    # arn:PARTITION:iam::ACCOUNT:user/PATH/NAME (moto answers with `sts` as the service).
    parts = arn.split(":", 5)
    resource = parts[5] if len(parts) == 6 and parts[0] == "arn" else ""
    if not resource.startswith("user/"):
        what = "the account's root user" if resource == "root" else f"not an IAM user ({arn})"
        raise ShellvaultError(
            f"the key of profile {profile} belongs to {what}; console sign-in federates only "
            "IAM user keys and roles: store an IAM user's key, or sign in through a role profile"
        )
    name = resource.rsplit("/", 1)[1]
    # IAM user names use the same characters GetFederationToken allows; it wants 2 to 32.
    return name[:NAME_MAX].ljust(2, "_")


class FederationToken:
    """GetFederationToken with a long-term key, named after its IAM user, allowing all.

    The console's sign-in for a profile that has a stored user key and no role. Its source is
    the `StoredKey` itself, never the cached GetSessionToken session: AWS refuses
    GetFederationToken with session credentials. Not cached: `login` is the only consumer and
    each sign-in wants a session of its own length.
    """

    def __init__(
        self, source: Provider, profile: str, key_owner: str, target: StsTarget, duration: int
    ) -> None:
        self.source, self.profile, self.key_owner = source, profile, key_owner
        self.target, self.duration = target, duration

    def retrieve(self) -> Credentials:
        profile, target, key_owner = self.profile, self.target, self.key_owner
        client = sts.client(self.source.retrieve(), target, profile)
        identity = sts.call(
            "GetCallerIdentity", profile, target, client.get_caller_identity, key_owner=key_owner
        )
        name = federation_name(str(identity.get("Arn", "")), profile)
        try:
            answer = sts.call(
                "GetFederationToken",
                profile,
                target,
                lambda: client.get_federation_token(
                    Name=name, Policy=ALLOW_ALL_POLICY, DurationSeconds=self.duration
                ),
                key_owner=key_owner,
            )
        except StsError as exc:
            if "AccessDenied" not in exc.message:
                raise
            # sts.call's advice is about roles; here the missing piece is this one permission.
            raise StsError(
                f"{exc.message}; console sign-in with a user key needs sts:GetFederationToken "
                "(or sign in through a role profile)"
            ) from None
        return Credentials.from_sts(answer["Credentials"])
