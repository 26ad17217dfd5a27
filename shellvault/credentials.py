"""AWS credentials as one value type, with the time arithmetic the cache and prompts need.

Kept free of boto3 so the warm path (a cache hit) can use it without the heavy imports.
"""

# No `from __future__ import annotations` here: typing.NamedTuple would compile every string
# annotation at import time, which costs the warm path (`env` on every prompt) about 2 ms in all.

import time
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from datetime import datetime


class Credentials(NamedTuple):
    access_key_id: str
    secret_access_key: str
    session_token: str | None = None
    # Unix epoch seconds; None for long-term keys, which do not expire.
    expires: int | None = None

    @property
    def is_temporary(self) -> bool:
        return self.session_token is not None

    def seconds_left(self, now: float | None = None) -> float:
        if self.expires is None:
            return float("inf")
        return self.expires - (time.time() if now is None else now)

    def fresh_for(self, min_ttl: float, now: float | None = None) -> bool:
        """True while more than `min_ttl` seconds remain (the refresh window)."""
        return self.seconds_left(now) > min_ttl

    def expiration_rfc3339(self) -> str | None:
        """RFC 3339 in UTC with `Z`: the AWS CLI's own format, which starship parses."""
        return None if self.expires is None else rfc3339(self.expires)

    def to_json(self) -> dict[str, Any]:
        return {
            "AccessKeyId": self.access_key_id,
            "SecretAccessKey": self.secret_access_key,
            "SessionToken": self.session_token,
            "Expires": self.expires,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Credentials":
        expires = data.get("Expires")
        token = data.get("SessionToken")
        key_id, secret = data["AccessKeyId"], data["SecretAccessKey"]
        if not (isinstance(key_id, str) and isinstance(secret, str) and key_id and secret):
            raise ValueError("credentials need AccessKeyId and SecretAccessKey strings")
        if token is not None and not isinstance(token, str):
            raise ValueError("SessionToken must be a string")
        if expires is not None and not isinstance(expires, int):
            raise ValueError("Expires must be epoch seconds")
        return cls(key_id, secret, token, expires)

    @classmethod
    def from_sts(cls, answer: dict[str, Any]) -> "Credentials":
        """From the `Credentials` member of a boto3 STS response."""
        expiration: datetime = answer["Expiration"]
        return cls(
            answer["AccessKeyId"],
            answer["SecretAccessKey"],
            answer["SessionToken"],
            int(expiration.timestamp()),
        )

    def __repr__(self) -> str:
        # Never let a secret reach a log line or a traceback through repr().
        return f"Credentials(access_key_id={self.access_key_id!r}, expires={self.expires!r})"


def rfc3339(epoch: int) -> str:
    # time.strftime rather than datetime: one import less on the warm path.
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def format_time_left(seconds: float) -> str:
    """Compact countdown like `7h58m`, `42m`, `30s`, or `expired`."""
    if seconds <= 0:
        return "expired"
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    if minutes:
        return f"{minutes}m"
    return f"{secs}s"
