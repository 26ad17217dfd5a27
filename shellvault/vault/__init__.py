"""Credential sources, one small type per STS call, composed into a chain per profile.

- `stored_key.StoredKey`: the long-term key from the keystore;
- `session_token.SessionToken`: GetSessionToken (with MFA) from another provider's credentials;
- `assume_role.AssumeRole`: AssumeRole from another provider's credentials;
- `federation_token.FederationToken`: GetFederationToken from a stored user key (console sign-in);
- `cached.Cached`: wraps any of them with a cache store and a per-entry lock.

All share `Provider.retrieve()`. `plan` decides which of them a profile needs (pure, testable
without STS) and `chain.build` composes them.
"""

from typing import Protocol

from shellvault.credentials import Credentials


class Provider(Protocol):
    def retrieve(self) -> Credentials: ...
