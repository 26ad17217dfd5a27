"""Ask for an MFA code on the controlling terminal.

Reads and writes `/dev/tty`, not stdin/stdout: those are captured inside `$(...)`, `eval`, direnv
and an SDK's `credential_process`, where the prompt must still reach the user.
"""

from __future__ import annotations

import contextlib
import os


class TerminalPrompt:
    def __call__(self, serial: str, profile: str) -> str:
        try:
            fd = os.open("/dev/tty", os.O_RDWR | os.O_NOCTTY)
        except OSError:
            return ""  # no terminal: the caller tries nothing else and says so
        with contextlib.closing(os.fdopen(fd, "r+b", buffering=0)) as tty:
            tty.write(f"shellvault: MFA code for {serial} (profile {profile}): ".encode())
            line = bytearray()
            while not line.endswith(b"\n"):
                chunk = tty.read(1)
                if not chunk:
                    break
                line += chunk
            return line.decode(errors="replace").strip()
