"""Compose the providers a profile's plan calls for, innermost (the stored key) first."""

from __future__ import annotations

from shellvault.cache import SessionCache
from shellvault.keystore import Keystore
from shellvault.prompt import MfaCodes
from shellvault.vault import Provider
from shellvault.vault.assume_role import AssumeRole
from shellvault.vault.cached import Cached, FileStore, KeystoreStore
from shellvault.vault.plan import ChainPlan
from shellvault.vault.session_token import SessionToken
from shellvault.vault.stored_key import StoredKey


def build(
    plan: ChainPlan,
    keystore: Keystore,
    cache: SessionCache,
    mfa: MfaCodes,
    min_ttl: int,
) -> Provider:
    provider: Provider = StoredKey(keystore, plan.root)
    if plan.session is not None:
        step = plan.session
        store: KeystoreStore | FileStore
        if step.feeds_roles:
            store = KeystoreStore(keystore, cache, step.profile)
        else:
            store = FileStore(cache, step.profile, plan.root, "session-token")
        provider = Cached(
            SessionToken(provider, step, mfa), store, step.cache_key, min_ttl, step.profile
        )
    for role in plan.roles:
        provider = Cached(
            AssumeRole(provider, role, mfa, plan.root),
            FileStore(cache, role.profile, plan.root, "assume-role"),
            role.cache_key,
            min_ttl,
            role.profile,
        )
    return provider
