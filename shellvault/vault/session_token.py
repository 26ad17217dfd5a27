from __future__ import annotations

from shellvault.credentials import Credentials
from shellvault.prompt import MfaCodes
from shellvault.vault import Provider, sts
from shellvault.vault.plan import SessionStep


class SessionToken:
    """GetSessionToken: a temporary session carrying the MFA, minted from a long-term key."""

    def __init__(self, source: Provider, step: SessionStep, mfa: MfaCodes) -> None:
        self.source = source
        self.step = step
        self.mfa = mfa

    def retrieve(self) -> Credentials:
        key = self.source.retrieve()
        client = sts.client(key, self.step.sts, self.step.profile)
        params: dict[str, object] = {"DurationSeconds": self.step.duration}
        if self.step.mfa_serial:
            params["SerialNumber"] = self.step.mfa_serial
            params["TokenCode"] = self.mfa.code_for(self.step.mfa_serial, self.step.profile)
        answer = sts.call(
            "GetSessionToken",
            self.step.profile,
            self.step.sts,
            lambda: client.get_session_token(**params),
            key_owner=self.step.profile,  # always signed with the root's long-term key
        )
        return Credentials.from_sts(answer["Credentials"])
