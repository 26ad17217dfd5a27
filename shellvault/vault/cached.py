"""One caching wrapper for any provider: serve a fresh entry, else mint once under a lock.

Where an entry lives is the store's business (`FileStore` for what gets exported, `KeystoreStore`
for the MFA session that only feeds roles). The lock makes N concurrent cold callers wait for one
mint and then read its result: one STS call and one MFA prompt, not N.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from typing import Protocol

from shellvault.cache import CacheEntry, SessionCache
from shellvault.credentials import Credentials, format_time_left
from shellvault.errors import ShellvaultError
from shellvault.keystore import Keystore
from shellvault.vault import Provider

# Below this, cached credentials are too close to expiry to hand out even when a refresh fails.
MANDATORY_REFRESH = 60


class Store(Protocol):
    def get(self, key: str) -> Credentials | None: ...
    def put(self, key: str, credentials: Credentials) -> None: ...
    def lock(self, key: str) -> contextlib.AbstractContextManager[None]: ...


class FileStore:
    """The private session cache, for credentials that are exported anyway."""

    def __init__(self, cache: SessionCache, profile: str, source: str, kind: str) -> None:
        self.cache, self.profile, self.source, self.kind = cache, profile, source, kind

    def get(self, key: str) -> Credentials | None:
        entry = self.cache.get(key)
        return entry.credentials if entry else None

    def put(self, key: str, credentials: Credentials) -> None:
        self.cache.put(key, CacheEntry(self.profile, self.source, self.kind, credentials))

    def lock(self, key: str) -> contextlib.AbstractContextManager[None]:
        return self.cache.lock(key, self.profile)


class KeystoreStore:
    """The keystore, for the MFA session that only serves as a source for roles."""

    def __init__(self, keystore: Keystore, cache: SessionCache, profile: str) -> None:
        self.keystore, self.cache, self.profile = keystore, cache, profile

    def get(self, key: str) -> Credentials | None:
        return self.keystore.get_session(key, self.profile)

    def put(self, key: str, credentials: Credentials) -> None:
        self.keystore.set_session(key, self.profile, credentials)

    @contextlib.contextmanager
    def lock(self, key: str) -> Iterator[None]:
        with self.cache.lock(key, self.profile):
            yield


class Cached:
    def __init__(self, inner: Provider, store: Store, key: str, min_ttl: int, profile: str) -> None:
        self.inner, self.store, self.key = inner, store, key
        self.min_ttl, self.profile = min_ttl, profile

    def cached(self) -> Credentials | None:
        """A fresh entry, if any: the warm path, with no STS and no lock."""
        hit = self.store.get(self.key)
        return hit if hit is not None and hit.fresh_for(self.min_ttl) else None

    def retrieve(self) -> Credentials:
        hit = self.cached()
        if hit is not None:
            return hit
        with self.store.lock(self.key):
            # Another process may have minted while we waited for the lock.
            previous = self.store.get(self.key)
            if previous is not None and previous.fresh_for(self.min_ttl):
                return previous
            try:
                minted = self.inner.retrieve()
            except ShellvaultError as exc:
                if previous is not None and previous.fresh_for(MANDATORY_REFRESH):
                    # Like the SDKs' advisory window: a failed early refresh keeps what works.
                    left = format_time_left(previous.seconds_left())
                    print(
                        f"shellvault: could not refresh profile {self.profile} ({exc.message}); "
                        f"using cached credentials valid for {left}",
                        file=sys.stderr,
                    )
                    return previous
                raise
            try:
                self.store.put(self.key, minted)
            except (OSError, ShellvaultError) as exc:
                # The MFA code is spent and the credentials are good: hand them out anyway.
                reason = exc.message if isinstance(exc, ShellvaultError) else exc.strerror
                print(
                    f"shellvault: could not cache the session of profile {self.profile} "
                    f"({reason}); the next call will mint again",
                    file=sys.stderr,
                )
            return minted
