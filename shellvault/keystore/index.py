"""Which profiles have a stored key, and which MFA sessions the keystore holds: names only.

One Secret Service read costs ~13 ms, so `list` over thousands of profiles cannot ask the keystore
about each. This index answers instead. It holds no secrets: profile names, cache keys and expiry
times. It is a JSON file per backend in shellvault's data folder, replaced atomically under a lock.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator

from shellvault.cache import ensure_private_dir, write_private_file


class IndexData:
    def __init__(
        self, keys: set[str] | None = None, sessions: dict[str, dict[str, object]] | None = None
    ) -> None:
        self.keys = keys or set()
        # cache key -> {"profile": ..., "expires": epoch}
        self.sessions = sessions or {}


class KeyIndex:
    def __init__(self, path: str) -> None:
        self.path = path

    def read(self) -> IndexData:
        try:
            with open(self.path, "rb") as handle:
                data = json.loads(handle.read())
            return IndexData(set(data.get("keys", [])), dict(data.get("sessions", {})))
        except (OSError, ValueError, TypeError, AttributeError):
            # A missing or damaged index only costs `list` accuracy; the keystore is the truth.
            return IndexData()

    @contextlib.contextmanager
    def update(self) -> Iterator[IndexData]:
        ensure_private_dir(os.path.dirname(self.path), "data folder", "XDG_DATA_HOME")
        lock_fd = os.open(self.path + ".lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            try:
                import fcntl

                fcntl.flock(lock_fd, fcntl.LOCK_EX)
            except ImportError:
                pass
            data = self.read()
            yield data
            payload = {"keys": sorted(data.keys), "sessions": data.sessions}
            write_private_file(self.path, json.dumps(payload, indent=1).encode())
        finally:
            os.close(lock_fd)
