from __future__ import annotations

from shellvault.credentials import Credentials
from shellvault.errors import KeystoreError
from shellvault.keystore import Keystore


class StoredKey:
    """The root profile's long-term access key, read from the keystore (never cached)."""

    def __init__(self, keystore: Keystore, profile: str) -> None:
        self.keystore = keystore
        self.profile = profile

    def retrieve(self) -> Credentials:
        key = self.keystore.get_key(self.profile)
        if key is None:
            raise KeystoreError(
                f"profile {self.profile} has no key in the {self.keystore.backend_name} keystore "
                f"and no source_profile; store one with `shellvault add {self.profile}`"
            )
        return key
