"""Get an MFA code from the profile's `mfa_process` command (aws-vault's config key).

The command runs through the shell like the AWS CLI's `credential_process`; its stdout is the code,
its stderr goes to ours so the user sees what it says.
"""

from __future__ import annotations

import subprocess

from shellvault.errors import MfaError

TIMEOUT_SECONDS = 120


class ProcessPrompt:
    def __init__(self, command: str) -> None:
        self.command = command

    def __call__(self, serial: str, profile: str) -> str:
        try:
            result = subprocess.run(
                self.command,
                shell=True,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                timeout=TIMEOUT_SECONDS,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise MfaError(
                f"profile {profile}: mfa_process {self.command!r} did not answer within "
                f"{TIMEOUT_SECONDS}s"
            ) from None
        if result.returncode != 0:
            # Named, because it may be set on any profile of the chain, not just on `profile`.
            raise MfaError(
                f"profile {profile}: mfa_process {self.command!r} exited with status "
                f"{result.returncode}; fix that command in the AWS config"
            )
        return result.stdout.decode(errors="replace").strip()
