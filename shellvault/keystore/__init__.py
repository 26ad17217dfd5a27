"""The keystore: long-lived keys, and the MFA session that feeds roles, only through `keyring`.

Backends are chosen by name (`SHELLVAULT_BACKEND` or `backend` in the settings file), which loads
exactly one keyring backend class instead of running keyring's discovery (220 ms, and it may pick
something weaker than the user expects). Without a name, the platform's own store is used:
Keychain on macOS, Credential Manager on Windows, Secret Service elsewhere. There is never a
silent fallback: an unavailable store is an error that says how to choose another.

Entries:
- service `shellvault`, username = profile: `{"AccessKeyId", "SecretAccessKey"}`;
- service `shellvault-session`, username = cache key: a GetSessionToken session that only serves as
  a source for roles (the powerful MFA session stays out of the plain-file cache).
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import sys
import time
from collections.abc import Callable
from typing import Any, TypeVar

from shellvault import locations
from shellvault.credentials import Credentials
from shellvault.errors import KeystoreError
from shellvault.keystore.index import KeyIndex

KEY_SERVICE = "shellvault"
SESSION_SERVICE = "shellvault-session"

# name -> "module:Class"; one module per backend, all behind keyring's interface.
BACKENDS = {
    "keychain": "keyring.backends.macOS:Keyring",
    "windows": "keyring.backends.Windows:WinVaultKeyring",
    "secret-service": "keyring.backends.SecretService:Keyring",
    "kwallet": "keyring.backends.kwallet:DBusKeyring",
    "pass": "keyring_pass:PasswordStoreBackend",
    "file": "shellvault.keystore.file:EncryptedFileKeyring",
}

_T = TypeVar("_T")


def default_backend_name() -> str:
    if sys.platform == "darwin":
        return "keychain"
    if sys.platform == "win32":
        return "windows"
    return "secret-service"


def backend_spec(name: str) -> str:
    """The `module:Class` of backend `name`; an unknown name is an error."""
    try:
        return BACKENDS[name]
    except KeyError:
        raise KeystoreError(
            f"unknown keystore backend {name!r} (SHELLVAULT_BACKEND); "
            f"choose one of {', '.join(BACKENDS)}"
        ) from None


def load_backend(name: str, file_dir: str | None = None) -> Any:
    module_name, _, class_name = backend_spec(name).partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        hint = " (pip install keyring-pass)" if name == "pass" else ""
        raise KeystoreError(
            f"keystore backend {name} cannot load: {exc}{hint}; choose another with "
            "SHELLVAULT_BACKEND"
        ) from None
    backend_class = getattr(module, class_name)
    if name == "file":
        return backend_class(directory=file_dir)
    return backend_class()


class Keystore:
    def __init__(self, backend_name: str | None = None, file_dir: str | None = None) -> None:
        self.backend_name = backend_name or default_backend_name()
        # Checked now, not when the backend loads: a warm cache hit never loads it, and a mistyped
        # name must not seem to work until the cached sessions run out.
        backend_spec(self.backend_name)
        self._file_dir = file_dir
        self._backend: Any = None
        self.index = KeyIndex(os.path.join(locations.data_dir(), f"index-{self.backend_name}.json"))

    @property
    def backend(self) -> Any:
        if self._backend is None:
            self._backend = load_backend(self.backend_name, self._file_dir)
        return self._backend

    def _call(self, what: str, operation: Callable[[], _T]) -> _T:
        """Run one keyring operation, turning every failure into one clear line."""
        import keyring.errors

        try:
            return operation()
        except KeystoreError:
            raise
        except keyring.errors.KeyringLocked as exc:
            detail = str(exc) or "it is locked"
            raise KeystoreError(
                f"{self.backend_name} keystore is locked ({detail}) while {what}; unlock it "
                "and retry"
            ) from None
        except (keyring.errors.InitError, keyring.errors.NoKeyringError) as exc:
            raise self._unavailable(what, str(exc)) from None
        except keyring.errors.KeyringError as exc:
            # Our file backend's WrongPassphrase and TamperedStore carry complete messages.
            text = str(exc) or type(exc).__name__
            raise KeystoreError(
                f"{self.backend_name} keystore failed while {what}: {text}"
            ) from None
        except OSError as exc:
            # D-Bus backends connect a socket first: a stale or empty bus address lands here.
            reason = exc.strerror or str(exc) or type(exc).__name__
            if self.backend_name in ("secret-service", "kwallet"):
                bus = os.environ.get("DBUS_SESSION_BUS_ADDRESS") or "unset"
                reason = (
                    f"cannot reach the D-Bus session bus (DBUS_SESSION_BUS_ADDRESS={bus}): {reason}"
                )
            raise self._unavailable(what, reason) from None
        except Exception as exc:  # other backend errors (D-Bus, parsing); never a traceback
            raise self._unavailable(what, str(exc) or type(exc).__name__) from None

    def _unavailable(self, what: str, reason: str) -> KeystoreError:
        reason = " ".join(reason.split()).rstrip(".")
        hint = (
            "; on a headless machine use SHELLVAULT_BACKEND=file"
            if self.backend_name in ("secret-service", "kwallet")
            else ""
        )
        return KeystoreError(
            f"{self.backend_name} keystore is unavailable while {what}: {reason}{hint}"
        )

    # Long-term keys ------------------------------------------------------------------------

    def has_key(self, profile: str) -> bool:
        """From the index: no keystore access, so it is cheap enough for every profile."""
        return profile in self.index.read().keys

    def get_key(self, profile: str) -> Credentials | None:
        raw = self._call(
            f"reading the key of profile {profile}",
            lambda: self.backend.get_password(KEY_SERVICE, profile),
        )
        if raw is None:
            return None
        try:
            data = json.loads(raw)
            return Credentials(data["AccessKeyId"], data["SecretAccessKey"])
        except (ValueError, KeyError, TypeError):
            raise KeystoreError(
                f"the stored key of profile {profile} is unreadable; store it again with "
                f"`shellvault add {profile}`"
            ) from None

    def set_key(self, profile: str, credentials: Credentials) -> None:
        payload = json.dumps(
            {
                "AccessKeyId": credentials.access_key_id,
                "SecretAccessKey": credentials.secret_access_key,
            }
        )
        self._call(
            f"storing the key of profile {profile}",
            lambda: self.backend.set_password(KEY_SERVICE, profile, payload),
        )
        with self.index.update() as index:
            index.keys.add(profile)

    def delete_key(self, profile: str) -> bool:
        import keyring.errors

        def delete() -> bool:
            try:
                self.backend.delete_password(KEY_SERVICE, profile)
                return True
            except keyring.errors.PasswordDeleteError:
                return False

        deleted = self._call(f"removing the key of profile {profile}", delete)
        with self.index.update() as index:
            index.keys.discard(profile)
        return deleted

    # MFA sessions that feed roles ------------------------------------------------------------

    def get_session(self, key: str, profile: str) -> Credentials | None:
        raw = self._call(
            f"reading the MFA session of profile {profile}",
            lambda: self.backend.get_password(SESSION_SERVICE, key),
        )
        if raw is None:
            return None
        try:
            return Credentials.from_json(json.loads(raw))
        except (ValueError, KeyError, TypeError):
            return None  # damaged: treated as a miss and replaced

    def set_session(self, key: str, profile: str, credentials: Credentials) -> None:
        payload = json.dumps(credentials.to_json())
        self._call(
            f"storing the MFA session of profile {profile}",
            lambda: self.backend.set_password(SESSION_SERVICE, key, payload),
        )
        with self.index.update() as index:
            index.sessions[key] = {"profile": profile, "expires": credentials.expires}
            # Sessions whose chain changed (a config edit gives a new key) would otherwise stay
            # in the keystore forever; drop the expired ones while the keystore is open anyway.
            now = time.time()
            expired = [
                k
                for k, meta in index.sessions.items()
                if isinstance(expires := meta.get("expires"), int) and expires < now
            ]
        for old in expired:
            self.delete_session(old)

    def delete_session(self, key: str) -> None:
        import keyring.errors

        def delete() -> None:
            with contextlib.suppress(keyring.errors.PasswordDeleteError):
                self.backend.delete_password(SESSION_SERVICE, key)

        self._call("removing a cached MFA session", delete)
        with self.index.update() as index:
            index.sessions.pop(key, None)

    def sessions(self) -> dict[str, dict[str, object]]:
        """Cache key -> {"profile", "expires"} of sessions held in the keystore (from the index)."""
        return self.index.read().sessions
