"""Where MFA codes come from: `-t`, else the profile's `mfa_process`, else the terminal.

One module per driver (`terminal`, `process`), each a callable `(serial, profile) -> code`, so a
GUI dialog or a YubiKey driver can be added beside them. A code is single-use at AWS: `MfaCodes`
hands out the `-t` code once and never sends the same code twice.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from shellvault.errors import MfaError

MfaDriver = Callable[[str, str], str]

_CODE = re.compile(r"^\d{6}$")


class MfaCodes:
    def __init__(
        self,
        token: str | None = None,
        mfa_process: str | None = None,
        terminal: bool = True,
    ) -> None:
        self._token = token
        self._mfa_process = mfa_process
        self._terminal = terminal
        self._used: set[str] = set()

    def _drivers(self) -> list[tuple[str, MfaDriver]]:
        drivers: list[tuple[str, MfaDriver]] = []
        if self._mfa_process:
            from shellvault.prompt.process import ProcessPrompt

            drivers.append(("mfa_process", ProcessPrompt(self._mfa_process)))
        if self._terminal:
            from shellvault.prompt.terminal import TerminalPrompt

            drivers.append(("terminal", TerminalPrompt()))
        return drivers

    def code_for(self, serial: str, profile: str) -> str:
        if self._token is not None:
            code, self._token = self._token.strip(), None
            return self._checked(code, serial, profile, "-t/--mfa-token")
        for name, driver in self._drivers():
            code = driver(serial, profile)
            if code:
                return self._checked(code.strip(), serial, profile, name)
        raise MfaError(
            f"profile {profile} needs an MFA code for {serial} and there is no way to get one; "
            "pass -t CODE, set mfa_process in the profile, or run from a terminal"
        )

    def _checked(self, code: str, serial: str, profile: str, origin: str) -> str:
        if not _CODE.match(code):
            raise MfaError(
                f"profile {profile}: the MFA code from {origin} is not 6 digits; "
                f"enter the current code of {serial}"
            )
        if code in self._used:
            raise MfaError(
                f"profile {profile}: the MFA code from {origin} was already used; "
                "wait for the next code and retry"
            )
        self._used.add(code)
        return code
