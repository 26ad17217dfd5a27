"""The private session cache: credentials that get exported anyway, kept where reading is cheap.

One JSON file per entry, named by the entry's cache key (a hash of the chain it depends on, see
`vault.plan`). The folder is 0700 and files 0600 whatever the umask; it sits in the per-user
RAM-backed runtime folder where there is one (see `locations`). Long-term keys and the MFA session
that only feeds roles never land here: they stay in the keystore.

Writes go to a temporary file that is renamed over the entry, so a crash mid-write leaves the old
state. A corrupt or foreign entry reads as a miss and is replaced by the next mint. One lock file
per entry serialises minting, so N concurrent cold calls make one STS call and one MFA prompt.
"""

# No `from __future__ import annotations` here: typing.NamedTuple would compile every string
# annotation at import time, which costs the warm path (`env` on every prompt) about 2 ms in all.

import contextlib
import json
import os
import stat
import time
from collections.abc import Iterator
from typing import NamedTuple

from shellvault.credentials import Credentials
from shellvault.errors import ShellvaultError

ENTRY_VERSION = 1
# Longer than the terminal MFA prompt and mfa_process may take, so a waiter outlasts a mint.
LOCK_TIMEOUT = 150


class CacheEntry(NamedTuple):
    """Cached credentials and the non-secret facts `list` and `clear` need."""

    profile: str  # the profile whose step produced them
    source: str  # the root profile whose stored key they were minted from
    kind: str  # "session-token" or "assume-role"
    credentials: Credentials

    @property
    def expires(self) -> int | None:
        return self.credentials.expires

    def to_json(self) -> dict[str, object]:
        return {
            "v": ENTRY_VERSION,
            "profile": self.profile,
            "source": self.source,
            "kind": self.kind,
            "credentials": self.credentials.to_json(),
        }

    @classmethod
    def from_json(cls, data: object) -> "CacheEntry":
        if not isinstance(data, dict) or data.get("v") != ENTRY_VERSION:
            raise ValueError("not a shellvault cache entry")
        profile, source, kind = data["profile"], data["source"], data["kind"]
        if not all(isinstance(v, str) for v in (profile, source, kind)):
            raise ValueError("malformed cache entry")
        return cls(profile, source, kind, Credentials.from_json(data["credentials"]))


def ensure_private_dir(
    path: str, what: str = "session cache folder", override: str = "SHELLVAULT_CACHE_DIR"
) -> str:
    """Create `path` (and missing parents) 0700, or tighten it; refuse one somebody else owns.

    `what` and `override` word the error: the folder's role and the setting that moves it.
    """
    missing = []
    current = os.path.abspath(path)
    while not os.path.lexists(current) and os.path.dirname(current) != current:
        missing.append(current)
        current = os.path.dirname(current)
    try:
        # os.makedirs(mode=) applies the mode to the last level only; every level we create
        # is 0700, as the XDG base directory spec asks.
        for folder in reversed(missing):
            with contextlib.suppress(FileExistsError):
                os.mkdir(folder, 0o700)
        info = os.stat(path)
    except OSError as exc:
        raise ShellvaultError(
            f"cannot create the {what} {path}: {exc.strerror}; set {override} to a folder you own"
        ) from None
    if not stat.S_ISDIR(info.st_mode):
        raise ShellvaultError(f"the {what} {path} is not a folder; remove it or set {override}")
    if hasattr(os, "getuid") and info.st_uid != os.getuid():
        raise ShellvaultError(f"the {what} {path} belongs to another user; set {override}")
    if stat.S_IMODE(info.st_mode) != 0o700:
        os.chmod(path, 0o700)
    return path


def write_private_file(path: str, data: bytes) -> None:
    """Atomically replace `path` with `data`, mode 0600 from the first byte."""
    folder, name = os.path.split(path)
    tmp = os.path.join(folder, f".{name}.{os.getpid()}.{os.urandom(6).hex()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


class SessionCache:
    def __init__(self, directory: str) -> None:
        self.directory = directory
        self._ready = False

    def _dir(self) -> str:
        if not self._ready:
            ensure_private_dir(self.directory)
            self._ready = True
        return self.directory

    def _path(self, key: str) -> str:
        return os.path.join(self.directory, f"{key}.json")

    def get(self, key: str) -> CacheEntry | None:
        """The entry, or None when missing, corrupt or not ours (never an error)."""
        try:
            with open(self._path(key), "rb") as handle:
                if hasattr(os, "getuid") and os.fstat(handle.fileno()).st_uid != os.getuid():
                    return None
                return CacheEntry.from_json(json.loads(handle.read()))
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def put(self, key: str, entry: CacheEntry) -> None:
        data = json.dumps(entry.to_json()).encode()
        self._dir()
        write_private_file(self._path(key), data)
        self.prune()

    def prune(self) -> None:
        """Delete expired entries: a config edit leaves its old entries behind under old keys."""
        now = time.time()
        for key, old in list(self.entries()):
            if old.expires is not None and old.expires < now:
                self.delete(key)

    def delete(self, key: str) -> bool:
        try:
            os.unlink(self._path(key))
            return True
        except FileNotFoundError:
            return False

    def entries(self) -> Iterator[tuple[str, CacheEntry]]:
        try:
            names = sorted(os.listdir(self.directory))
        except OSError:
            return
        for name in names:
            if name.endswith(".json") and not name.startswith("."):
                key = name[: -len(".json")]
                entry = self.get(key)
                if entry is not None:
                    yield key, entry

    @contextlib.contextmanager
    def lock(self, key: str, profile: str) -> Iterator[None]:
        """An exclusive lock on one entry, held while it is minted.

        Lock files stay behind on purpose: deleting a lock file someone may be waiting on would
        let two processes hold "the" lock at once. They are empty. The wait is bounded: a mint
        left waiting at an MFA prompt in another terminal must not hang every prompt hook,
        direnv and SDK on the machine.
        """
        locks = os.path.join(self._dir(), "locks")
        if not os.path.isdir(locks):
            ensure_private_dir(locks)
        fd = os.open(os.path.join(locks, key), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            try:
                import fcntl
            except ImportError:  # Windows: no flock; minting is then not serialised.
                yield
                return
            deadline = time.monotonic() + LOCK_TIMEOUT
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise ShellvaultError(
                            f"profile {profile}: another shellvault has been minting this "
                            f"session for {LOCK_TIMEOUT}s (an MFA prompt waiting in another "
                            "terminal?); answer it there or retry"
                        ) from None
                    time.sleep(0.05)
            try:
                yield
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)
