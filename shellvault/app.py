"""What every command shares: settings, the AWS config, the keystore and the session cache.

Everything heavy is created on first use, so a warm `env` touches only the config file and one
cache entry.
"""

from __future__ import annotations

from functools import cached_property

from shellvault import config as aws_config
from shellvault import locations, settings
from shellvault.cache import SessionCache
from shellvault.config import AwsConfig
from shellvault.credentials import Credentials
from shellvault.keystore import Keystore
from shellvault.vault.plan import ChainPlan, MintOptions, plan, source_chain


class App:
    def __init__(self) -> None:
        self.settings = settings.load()

    @cached_property
    def config(self) -> AwsConfig:
        return aws_config.load()

    @cached_property
    def keystore(self) -> Keystore:
        return Keystore(self.settings.backend, self.settings.file_dir)

    @cached_property
    def cache(self) -> SessionCache:
        return SessionCache(locations.session_cache_dir(self.settings.cache_dir))

    def plan(self, profile: str, options: MintOptions) -> ChainPlan:
        return plan(self.config, profile, options, self.keystore.has_key)

    def credentials(
        self, profile: str, options: MintOptions, terminal: bool = True
    ) -> tuple[ChainPlan, Credentials]:
        chain_plan = self.plan(profile, options)
        hit = self.warm_hit(chain_plan)
        if hit is not None:
            return chain_plan, hit
        # Only a miss pays for botocore, keyring and the provider classes.
        from shellvault.prompt import MfaCodes
        from shellvault.vault import chain

        mfa = MfaCodes(options.mfa_token, chain_plan.mfa_process, terminal=terminal)
        provider = chain.build(chain_plan, self.keystore, self.cache, mfa, self.settings.min_ttl)
        return chain_plan, provider.retrieve()

    def warm_hit(self, chain_plan: ChainPlan) -> Credentials | None:
        """The exported credentials straight from the private cache, when still fresh.

        The same check `vault.cached.Cached` makes first, done here so a hit imports nothing else.
        """
        key = chain_plan.final_cache_key
        entry = self.cache.get(key) if key else None
        if entry is not None and entry.credentials.fresh_for(self.settings.min_ttl):
            return entry.credentials
        return None

    def chain_profiles(self, profile: str) -> tuple[str, ...]:
        return tuple(p.name for p in source_chain(self.config, profile, self.keystore.has_key))

    def drop_sessions(self, profiles: set[str] | None = None, *, source: str | None = None) -> int:
        """Delete cached sessions of `profiles` (all when None) or minted from `source`'s key."""

        def wanted(profile: str, root: str | None) -> bool:
            if source is not None:
                return root == source
            return profiles is None or profile in profiles

        dropped = 0
        dropped_keys: set[str] = set()
        for key, entry in list(self.cache.entries()):
            if wanted(entry.profile, entry.source) and self.cache.delete(key):
                dropped += 1
                dropped_keys.add(key)
        # direnv's fast-path files hold copies of those credentials: they go with them.
        from shellvault.direnv import drop_rendered

        everything = profiles is None and source is None
        drop_rendered(self.cache.directory, None if everything else dropped_keys)
        for key, meta in self.keystore.sessions().items():
            # Keystore sessions are GetSessionToken sessions: their profile is their root.
            owner = str(meta.get("profile"))
            if wanted(owner, owner):
                self.keystore.delete_session(key)
                dropped += 1
        return dropped
