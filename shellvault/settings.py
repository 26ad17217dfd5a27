"""shellvault's own settings: environment variables first, then `config.toml`.

The settings file exists for what a flag or variable cannot carry comfortably (the keystore
backend on a machine, a cache folder). It is read only when it exists, so the warm path pays
nothing for it on most machines.

```toml
backend = "file"             # SHELLVAULT_BACKEND
file_dir = "~/.shellvault"   # SHELLVAULT_FILE_DIR
cache_dir = "/run/user/1000/shellvault"  # SHELLVAULT_CACHE_DIR
set_aws_vault = true         # SHELLVAULT_SET_AWS_VAULT
```
"""

# No `from __future__ import annotations` here: typing.NamedTuple would compile every string
# annotation at import time, which costs the warm path (`env` on every prompt) about 2 ms in all.

import os
from typing import Any, NamedTuple

from shellvault import locations
from shellvault.durations import parse_duration
from shellvault.errors import ConfigError

DEFAULT_MIN_TTL = 15 * 60
KNOWN_KEYS = {"backend", "file_dir", "cache_dir", "set_aws_vault", "min_ttl", "signin_url"}


class Settings(NamedTuple):
    backend: str | None = None
    file_dir: str | None = None
    cache_dir: str | None = None
    set_aws_vault: bool = True
    # The refresh window: cached credentials with less left than this are minted again.
    min_ttl: int = DEFAULT_MIN_TTL
    # The console federation endpoint, for private partitions (and tests).
    signin_url: str | None = None


def _read_file() -> dict[str, Any]:
    path = locations.settings_file()
    try:
        with open(path, "rb") as handle:
            raw = handle.read()
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise ConfigError(
            f"cannot read settings file {path}: {exc.strerror}; make it a readable file or "
            "remove it"
        ) from None
    import tomllib

    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(
            f"settings file {path} is not valid TOML: {exc}; fix or remove it"
        ) from None
    unknown = set(data) - KNOWN_KEYS
    if unknown:
        raise ConfigError(
            f"settings file {path} has unknown keys {', '.join(sorted(unknown))}; "
            f"known: {', '.join(sorted(KNOWN_KEYS))}"
        )
    return data


def _flag(value: str) -> bool:
    return value.strip().lower() not in ("0", "false", "no", "off", "")


def load() -> Settings:
    data = _read_file()
    set_aws_vault = data.get("set_aws_vault", True)
    if "SHELLVAULT_SET_AWS_VAULT" in os.environ:
        set_aws_vault = _flag(os.environ["SHELLVAULT_SET_AWS_VAULT"])
    min_ttl_text = os.environ.get("AWS_MIN_TTL") or data.get("min_ttl")
    min_ttl = parse_duration(str(min_ttl_text), "AWS_MIN_TTL") if min_ttl_text else DEFAULT_MIN_TTL
    return Settings(
        backend=os.environ.get("SHELLVAULT_BACKEND") or data.get("backend"),
        file_dir=os.environ.get("SHELLVAULT_FILE_DIR") or data.get("file_dir"),
        cache_dir=os.environ.get("SHELLVAULT_CACHE_DIR") or data.get("cache_dir"),
        set_aws_vault=bool(set_aws_vault),
        min_ttl=min_ttl,
        signin_url=os.environ.get("SHELLVAULT_SIGNIN_URL") or data.get("signin_url"),
    )
