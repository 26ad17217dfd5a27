"""Durations written the way aws-vault users write them: Go syntax like `1h`, `90m`, `1h30m`.

Plain integers are seconds, as in `duration_seconds`. The TTL variables keep aws-vault's names and
meaning so existing shell setups (`export AWS_ASSUME_ROLE_TTL=1h`) carry over unchanged.
"""

from __future__ import annotations

import os
import re

from shellvault.errors import ConfigError

_PART = re.compile(r"(\d+(?:\.\d+)?)(h|m|s|ms)")
_UNITS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}

HOUR = 3600
DEFAULT_ASSUME_ROLE = HOUR
DEFAULT_SESSION_TOKEN = HOUR
DEFAULT_CHAINED_SESSION_TOKEN = 8 * HOUR
# AWS caps an AssumeRole made with temporary credentials (role chaining) at one hour.
ROLE_CHAINING_LIMIT = HOUR


def parse_duration(text: str, what: str) -> int:
    """Seconds in `text`; `what` names the flag or variable for the error message."""
    value = text.strip()
    if value.isdigit():
        return int(value)
    pos, total = 0, 0.0
    for match in _PART.finditer(value):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _UNITS[match.group(2)]
        pos = match.end()
    if not value or pos != len(value):
        raise ConfigError(f"{what}: cannot read duration {text!r}; write it like 1h, 90m or 3600")
    return int(total)


def env_duration(name: str) -> int | None:
    value = os.environ.get(name)
    return parse_duration(value, name) if value else None
