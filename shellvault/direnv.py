"""The direnv side: what `use aws_profile` loads, the fast-path file behind it, and installing it.

`use_aws_profile` (direnvrc/shellvault.sh) runs `shellvault direnv env PROFILE`, which prints
bash for the library to evaluate: the variables of `shellvault env`, SHELLVAULT_DIRENV=1 and
SHELLVAULT_REFRESH_ARGS for the prompt hook, `watch_file` on the cache entry (and the AWS config)
and one `log_status` line.

The same run renders a *fast-path file* into `<session cache>/direnv/`: the same statements in a
function, plus everything the library must check before trusting them (the cache entry and the
files they came from, the variables that change the result, the refresh deadline). On a warm
cache the library sources that file with shell builtins only instead of starting Python, which
alone costs more than the whole direnv budget. The checks, and why sourcing the file is as safe
as `eval "$(shellvault env P)"`, are in docs/direnv.md.

The file's name is derived from the profile and flags alone, because the shell must find it
without forking; names outside a safe character set get no file and always take the Python path.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import sys
import time
from collections.abc import Sequence
from typing import NamedTuple

from shellvault import locations
from shellvault.cache import CacheEntry, ensure_private_dir, write_private_file
from shellvault.credentials import Credentials, format_time_left, rfc3339
from shellvault.errors import ShellvaultError
from shellvault.output.changes import EnvChanges, refresh_args
from shellvault.output.formats import _posix_quote, render

# Bumped whenever the file's variables change meaning; it is part of the file name, so a library
# and a Python of different versions simply miss instead of misreading each other.
FORMAT = 1
LIBRARY = "shellvault.sh"
RENDERED_FOLDER = "direnv"

# Every variable whose value changes what `shellvault direnv env` prints for the same arguments
# (see locations, settings, durations and vault.plan). The file records each one; the library
# takes the fast path only when all still have the recorded value, set or unset.
FINGERPRINT = (
    "AWS_CONFIG_FILE",
    "AWS_ASSUME_ROLE_TTL",
    "AWS_SESSION_TOKEN_TTL",
    "AWS_CHAINED_SESSION_TOKEN_TTL",
    "AWS_MIN_TTL",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_STS",
    "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
    "AWS_STS_REGIONAL_ENDPOINTS",
    "SHELLVAULT_BACKEND",
    "SHELLVAULT_CACHE_DIR",
    "SHELLVAULT_SET_AWS_VAULT",
    "SHELLVAULT_FILE_DIR",
    "HOME",
    "XDG_CONFIG_HOME",
    "XDG_DATA_HOME",
    "XDG_CACHE_HOME",
    "XDG_RUNTIME_DIR",
)

# What a profile and flag values may hold to get a fast-path file: no `,` (the separator), no `/`
# (a file name), nothing the library's locale-independent glob would not match. Python's `A-Z`
# on str is a code point range, so this is ASCII only, like the library's explicit list.
_SAFE = re.compile(r"[A-Za-z0-9_.@+-]+")
_MAX_NAME = 200  # well under NAME_MAX (255), and the library checks the same bound
_KEY_LINE = re.compile(r"^_shellvault_direnv_key='([0-9a-f]+)'$", re.MULTILINE)
_EXPIRES_LINE = re.compile(r"^_shellvault_direnv_expires=(\d+)$", re.MULTILINE)


class Request(NamedTuple):
    """What `use aws_profile` was given (an empty value is the same as not given)."""

    profile: str
    duration: str | None = None
    no_session: bool = False
    region: str | None = None

    def refresh_args(self) -> list[str]:
        return refresh_args(self.duration, self.no_session, self.region)

    def fast_path_name(self) -> str | None:
        """`v1,PROFILE[,dDUR][,n][,rREGION].sh`, as `_shellvault_direnv_fast_name` builds it."""
        for part in (self.profile, self.duration, self.region):
            if part is not None and part != "" and not _SAFE.fullmatch(part):
                return None
        if not self.profile:
            return None
        name = (
            f"v{FORMAT},{self.profile}"
            + (f",d{self.duration}" if self.duration else "")
            + (",n" if self.no_session else "")
            + (f",r{self.region}" if self.region else "")
            + ".sh"
        )
        return name if len(name) <= _MAX_NAME else None


def entry_path(cache_dir: str, key: str) -> str:
    """The session cache's file for `key` (what `cache.SessionCache` reads and writes)."""
    return os.path.join(cache_dir, f"{key}.json")


def shell_cache_dir() -> str | None:
    """The cache folder as `_shellvault_direnv_cache_dir` computes it in shell, or None.

    Only a file in the folder the library looks in is worth writing; when this differs from the
    folder shellvault really uses (a settings-file cache_dir, a runtime folder Python rejects for
    its mode), no fast-path file is written.
    """
    home = os.environ.get("HOME", "")
    explicit = os.environ.get("SHELLVAULT_CACHE_DIR", "")
    if explicit:
        if explicit == "~" or explicit.startswith("~/"):
            return home + explicit[1:]
        return None if explicit.startswith("~") else explicit
    runtime = os.environ.get("XDG_RUNTIME_DIR", "")
    if runtime.startswith("/") and os.path.isdir(runtime) and _owned(runtime):
        return runtime + "/shellvault"
    if not home:
        return None
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    if xdg.startswith("/"):
        base = xdg
    elif not xdg and sys.platform == "darwin":
        base = home + "/Library/Caches"
    else:
        base = home + "/.cache"
    return base + "/shellvault/sessions"


def _owned(path: str) -> bool:
    try:
        return not hasattr(os, "getuid") or os.stat(path).st_uid == os.getuid()
    except OSError:
        return False


def _status(profile: str, credentials: Credentials, now: int) -> str:
    if credentials.expires is None:
        return f"aws_profile {profile}: long-term key, no expiry"
    # Whole seconds from a whole-second now, as the library counts on the fast path.
    left = format_time_left(credentials.expires - now)
    return f"aws_profile {profile}: {left} left (until {rfc3339(credentials.expires)})"


class Rendered(NamedTuple):
    """`script` for the library to eval now; `fast_path` to write for next time, if any."""

    script: str
    fast_path: tuple[str, str] | None  # (file path, text)
    entry: str | None

    def __repr__(self) -> str:
        # The script holds credentials: never let them reach a log line or a traceback.
        path = self.fast_path[0] if self.fast_path else None
        return f"Rendered(fast_path={path!r}, entry={self.entry!r})"


def render_load(
    request: Request,
    changes: EnvChanges,
    credentials: Credentials,
    cache_dir: str,
    cache_key: str | None,
    min_ttl: int,
    now: int | None = None,
) -> Rendered:
    """The statements `use aws_profile` evaluates, and the fast-path file carrying the same ones.

    `changes` are those of `shellvault env`; SHELLVAULT_DIRENV and SHELLVAULT_REFRESH_ARGS are
    added here. Every value goes through the quoting `env --format bash` uses.
    """
    now = int(time.time()) if now is None else now
    sets = dict(changes.sets)
    sets["SHELLVAULT_DIRENV"] = "1"
    sets["SHELLVAULT_REFRESH_ARGS"] = "\n".join(request.refresh_args())
    statements = render(EnvChanges(sets, changes.unsets), "bash")

    config = locations.aws_config_file()
    # A bare long-term key has no cache entry (and must never get a file of ours).
    entry = entry_path(cache_dir, cache_key) if cache_key else None
    watched = [p for p in (entry, config) if p]
    statements += "watch_file " + " ".join(_posix_quote(p) for p in watched) + "\n"
    status = _status(request.profile, credentials, now)
    script = statements + f"log_status {_posix_quote(status)}\n"

    fast_path = None
    name = request.fast_path_name()
    settings = locations.settings_file()
    if (
        name is not None
        and entry is not None
        and credentials.expires is not None
        and credentials.expires - min_ttl > now
        and shell_cache_dir() == cache_dir
        and all(os.path.isabs(p) for p in (cache_dir, config, settings))
    ):
        assert cache_key is not None
        fingerprint: list[str] = []
        for variable in FINGERPRINT:
            value = os.environ.get(variable)
            fingerprint += [variable, "" if value is None else "=" + value]
        files = [config, "1" if os.path.exists(config) else "0"]
        files += [settings, "1" if os.path.exists(settings) else "0"]
        data = {
            "format": str(FORMAT),
            "key": _posix_quote(cache_key),
            "entry": _posix_quote(entry),
            "deadline": str(credentials.expires - min_ttl),
            "expires": str(credentials.expires),
            "until": _posix_quote(rfc3339(credentials.expires)),
            "profile": _posix_quote(request.profile),
            "files": _array(files),
            "env": _array(fingerprint),
        }
        text = (
            f"# shellvault direnv fast path (format {FORMAT}) for profile {request.profile}.\n"
            "# Written by `shellvault direnv env`; `use aws_profile` sources it only after the\n"
            "# checks in docs/direnv.md. Holds credentials: 0600 in a 0700 folder, deleted by\n"
            "# `shellvault clear`. Do not edit.\n"
            + "".join(f"_shellvault_direnv_{k}={v}\n" for k, v in data.items())
            + "_shellvault_direnv_apply() {\n"
            + statements
            + "}\n"
        )
        fast_path = (os.path.join(cache_dir, RENDERED_FOLDER, name), text)
    return Rendered(script, fast_path, entry)


def _array(items: Sequence[str]) -> str:
    return "(" + " ".join(_posix_quote(i) for i in items) + ")"


def write_fast_path(rendered: Rendered, credentials: Credentials) -> bool:
    """Write the fast-path file, unless the cache entry no longer holds `credentials`.

    The library trusts the file only while the entry is not newer than it, so the file must
    never carry older credentials than an entry written before it. The entry is read again (a
    refresh elsewhere may have replaced it since the credentials were read) and checked once
    more after the write; if it changed, the file goes. Any failure just means no file: the
    Python path still works.
    """
    if rendered.fast_path is None or rendered.entry is None:
        return False
    path, text = rendered.fast_path
    entry = rendered.entry
    try:
        with open(entry, "rb") as handle:
            before = os.fstat(handle.fileno())
            current = CacheEntry.from_json(json.loads(handle.read()))
        if current.credentials != credentials:
            return False
        folder = os.path.dirname(path)
        ensure_private_dir(os.path.dirname(folder))
        ensure_private_dir(folder)
        write_private_file(path, text.encode())
        after = os.stat(entry)
        if (after.st_ino, after.st_mtime_ns) != (before.st_ino, before.st_mtime_ns):
            os.unlink(path)
            return False
    except (OSError, ValueError, KeyError, TypeError, ShellvaultError):
        with contextlib.suppress(OSError):
            os.unlink(path)
        return False
    prune_rendered(folder)
    return True


def prune_rendered(folder: str, now: float | None = None) -> int:
    """Delete fast-path files whose credentials have expired, as the cache prunes its entries.

    Files for flags or profiles no longer used would otherwise keep dead credentials on disk
    until logout (or for good, outside a RAM-backed runtime folder).
    """
    now = time.time() if now is None else now
    pruned = 0
    with contextlib.suppress(OSError):
        for name in os.listdir(folder):
            path = os.path.join(folder, name)
            try:
                with open(path, encoding="utf-8", errors="replace") as handle:
                    match = _EXPIRES_LINE.search(handle.read())
            except OSError:
                continue
            if match is not None and int(match.group(1)) < now:
                with contextlib.suppress(OSError):
                    os.unlink(path)
                    pruned += 1
    return pruned


def drop_rendered(cache_dir: str, keys: set[str] | None) -> int:
    """Delete fast-path files rendered from the cache entries `keys` (every one when None).

    `clear`, `add` and `remove` call this with the entries they drop: the files hold the same
    credentials, which must not outlive them on disk.
    """
    folder = os.path.join(cache_dir, RENDERED_FOLDER)
    try:
        names = os.listdir(folder)
    except OSError:
        return 0
    dropped = 0
    for name in names:
        path = os.path.join(folder, name)
        if keys is not None and name.endswith(".sh"):
            try:
                with open(path, encoding="utf-8", errors="replace") as handle:
                    match = _KEY_LINE.search(handle.read())
            except OSError:
                continue
            if match is not None and match.group(1) not in keys:
                continue
        with contextlib.suppress(OSError):
            os.unlink(path)
            dropped += 1
    return dropped


# ---------------------------------------------------------------------------------------------
# The terminal under fish


# ---------------------------------------------------------------------------------------------
# Installing the library


def config_dir() -> str:
    """direnv's configuration folder: $DIRENV_CONFIG, else ${XDG_CONFIG_HOME:-~/.config}/direnv."""
    configured = os.environ.get("DIRENV_CONFIG", "")
    if configured:
        return configured
    xdg = os.environ.get("XDG_CONFIG_HOME", "")
    base = xdg if os.path.isabs(xdg) else os.path.join(os.path.expanduser("~"), ".config")
    return os.path.join(base, "direnv")


_DEFINITION = re.compile(r"^\s*(?:function\s+use_aws_profile\b|use_aws_profile\s*\(\s*\))")


def definitions(path: str) -> list[int]:
    """Line numbers in `path` that define a shell function `use_aws_profile`."""
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return [n for n, line in enumerate(handle, 1) if _DEFINITION.match(line)]
    except OSError:
        return []


def competing_definitions(direnv_dir: str) -> list[tuple[str, int]]:
    """Other definitions of `use_aws_profile` that direnv loads besides the library.

    direnv sources `lib/*.sh` first, then `direnvrc` in its config folder or, when there is
    none, `~/.direnvrc` (only one of the two): a definition there is loaded last and wins.
    Another `lib/*.sh` defining it wins or loses by file-name order; either way it is a
    second definition that will confuse, so it is reported too.
    """
    found: list[tuple[str, int]] = []
    lib = os.path.join(direnv_dir, "lib")
    with contextlib.suppress(OSError):
        for name in sorted(os.listdir(lib)):
            path = os.path.join(lib, name)
            if name.endswith(".sh") and name != LIBRARY:
                found += [(path, n) for n in definitions(path)]
    rc = os.path.join(direnv_dir, "direnvrc")
    if not os.path.isfile(rc):
        rc = os.path.join(os.path.expanduser("~"), ".direnvrc")
    found += [(rc, n) for n in definitions(rc)]
    return found


def install(text: str) -> tuple[str, bool, list[tuple[str, int]]]:
    """Write the library to direnv's lib folder; return (path, changed, competing definitions)."""
    direnv_dir = config_dir()
    lib = os.path.join(direnv_dir, "lib")
    path = os.path.join(lib, LIBRARY)
    try:
        with open(path, encoding="utf-8") as handle:
            changed = handle.read() != text
    except (OSError, UnicodeDecodeError):
        changed = True
    if changed:
        tmp = os.path.join(lib, f".{LIBRARY}.{os.getpid()}.tmp")
        try:
            os.makedirs(lib, exist_ok=True)
            # Not secret: the usual 0644 of a config file, whatever the umask says.
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
            os.chmod(tmp, 0o644)
            os.replace(tmp, path)
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise ShellvaultError(
                f"cannot write {path}: {exc.strerror}; fix the folder or use "
                "`shellvault direnv print` and put the library there yourself"
            ) from None
    return path, changed, competing_definitions(direnv_dir)
