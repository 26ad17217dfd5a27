"""Where shellvault's files live, and why there.

Computed without platformdirs on Linux (it costs ~30 ms to import and the warm path runs on every
prompt); other systems ask platformdirs, which knows their conventions. Paths are plain strings:
pathlib alone costs ~3 ms of imports on a path that has ~30 ms in all.

- AWS config: `$AWS_CONFIG_FILE`, else `~/.aws/config` (the AWS CLI's rule).
- Settings: `${XDG_CONFIG_HOME:-~/.config}/shellvault/config.toml`.
- Session cache (private, 0700): `$SHELLVAULT_CACHE_DIR`, else `$XDG_RUNTIME_DIR/shellvault` when
  that runtime folder is really ours (RAM-backed, per user, gone at logout), else the user cache
  folder. A shared `/tmp/runtime-UID` is never trusted without checking owner and mode.
- Data (the non-secret index of stored keys, the file keystore):
  `${XDG_DATA_HOME:-~/.local/share}/shellvault`.
"""

from __future__ import annotations

import os
import stat
import sys

APP = "shellvault"


def _home() -> str:
    return os.path.expanduser("~")


def _xdg(var: str, default: str) -> str:
    value = os.environ.get(var, "")
    # The XDG spec says relative paths are invalid and must be ignored.
    return value if os.path.isabs(value) else os.path.join(_home(), default)


def aws_config_file() -> str:
    configured = os.environ.get("AWS_CONFIG_FILE")
    if configured:
        return os.path.expanduser(configured)
    return os.path.join(_home(), ".aws", "config")


def settings_file() -> str:
    if sys.platform.startswith("linux") or os.environ.get("XDG_CONFIG_HOME"):
        return os.path.join(_xdg("XDG_CONFIG_HOME", ".config"), APP, "config.toml")
    import platformdirs

    return os.path.join(platformdirs.user_config_dir(APP, appauthor=False), "config.toml")


def data_dir() -> str:
    if sys.platform.startswith("linux") or os.environ.get("XDG_DATA_HOME"):
        return os.path.join(_xdg("XDG_DATA_HOME", ".local/share"), APP)
    import platformdirs

    return str(platformdirs.user_data_dir(APP, appauthor=False))


def _user_cache_dir() -> str:
    if sys.platform.startswith("linux") or os.environ.get("XDG_CACHE_HOME"):
        return os.path.join(_xdg("XDG_CACHE_HOME", ".cache"), APP)
    import platformdirs

    return str(platformdirs.user_cache_dir(APP, appauthor=False))


def private_runtime_dir() -> str | None:
    """`$XDG_RUNTIME_DIR` if it is a folder owned by us that nobody else can enter."""
    value = os.environ.get("XDG_RUNTIME_DIR", "")
    if not os.path.isabs(value):
        return None
    try:
        info = os.stat(value)
    except OSError:
        return None
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
        return None
    if info.st_mode & 0o077:
        return None
    return value


def session_cache_dir(configured: str | None = None) -> str:
    explicit = os.environ.get("SHELLVAULT_CACHE_DIR") or configured
    if explicit:
        return os.path.expanduser(explicit)
    runtime = private_runtime_dir()
    if runtime is not None:
        return os.path.join(runtime, APP)
    return os.path.join(_user_cache_dir(), "sessions")
