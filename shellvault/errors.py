"""The one exception type the command line turns into a clean, single-line failure.

Every expected failure (bad input, a refusing STS, a locked keystore) is raised as a
`ShellvaultError` whose message names the profile or file involved and what to do. The CLI prints
it as one stderr line and exits non-zero with nothing on stdout, so `eval "$(shellvault env P)"`
never half-applies.
"""

from __future__ import annotations


class ShellvaultError(Exception):
    """An expected failure with a message fit for the user."""

    exit_code = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ConfigError(ShellvaultError):
    """The AWS config file or a profile in it is unusable."""


class KeystoreError(ShellvaultError):
    """The keystore is locked, unavailable, or refused the operation."""


class StsError(ShellvaultError):
    """STS could not be reached or refused the request."""


class MfaError(ShellvaultError):
    """An MFA code was needed and could not be obtained."""
