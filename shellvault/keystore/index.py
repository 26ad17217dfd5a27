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
from dataclasses import dataclass, field
from pathlib import Path

from shellvault.cache import ensure_private_dir, write_private_file


@dataclass
class IndexData:
    keys: set[str] = field(default_factory=set)
    # cache key -> {"profile": ..., "source": ..., "expires": epoch}
    sessions: dict[str, dict[str, object]] = field(default_factory=dict)


class KeyIndex:
    def __init__(self, path: Path) -> None:
        self.path = path

    def read(self) -> IndexData:
        try:
            data = json.loads(self.path.read_bytes())
            return IndexData(set(data.get("keys", [])), dict(data.get("sessions", {})))
        except (OSError, ValueError, TypeError, AttributeError):
            # A missing or damaged index only costs `list` accuracy; the keystore is the truth.
            return IndexData()

    @contextlib.contextmanager
    def update(self) -> Iterator[IndexData]:
        ensure_private_dir(self.path.parent)
        lock_fd = os.open(self.path.with_suffix(".lock"), os.O_RDWR | os.O_CREAT, 0o600)
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
