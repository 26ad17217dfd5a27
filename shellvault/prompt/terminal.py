"""Ask for an MFA code on the controlling terminal.

Reads and writes `/dev/tty`, not stdin/stdout: those are captured inside `$(...)`, `eval`, direnv
and an SDK's `credential_process`, where the prompt must still reach the user.
"""

from __future__ import annotations

import contextlib
import os
import select
import time
from collections.abc import Iterator

from shellvault.errors import MfaError


@contextlib.contextmanager
def line_mode_terminal() -> Iterator[None]:
    """Put the controlling terminal in line mode (canonical, CR read as NL, echo) while minting.

    fish runs direnv's prompt hook with the terminal still in its own editor mode: Enter sends
    CR, nothing is echoed and a line never ends, so an MFA prompt reading /dev/tty would wait
    forever (bash and zsh run their hooks in line mode already). Touched only when this process
    is in the terminal's foreground group (a background process changing it would be stopped by
    SIGTTOU, or would change a mode some editor relies on), and put back exactly as it was.
    """
    try:
        import termios

        fd = os.open("/dev/tty", os.O_RDWR | os.O_NOCTTY)
    except (ImportError, OSError):
        fd = -1  # no terminal (or no termios): nothing to adjust, and no prompt will be shown
    if fd < 0:
        yield
        return
    try:
        saved = None
        with contextlib.suppress(OSError, termios.error):
            if os.tcgetpgrp(fd) == os.getpgrp():
                attrs = termios.tcgetattr(fd)
                iflag, oflag, lflag = attrs[0], attrs[1], attrs[3]
                wanted_l = termios.ICANON | termios.ECHO | termios.ISIG
                if lflag & wanted_l != wanted_l or not iflag & termios.ICRNL:
                    saved = list(attrs)
                    attrs[0] = (iflag | termios.ICRNL) & ~termios.INLCR & ~termios.IGNCR
                    attrs[1] = oflag | termios.OPOST | termios.ONLCR
                    attrs[3] = lflag | wanted_l | termios.ECHOE | termios.ECHOK
                    termios.tcsetattr(fd, termios.TCSADRAIN, attrs)
        try:
            yield
        finally:
            if saved is not None:
                with contextlib.suppress(OSError, termios.error):
                    termios.tcsetattr(fd, termios.TCSADRAIN, saved)
    finally:
        os.close(fd)


# Bounded, so a prompt nobody answers (a background tab's refresh hook) releases its lock.
PROMPT_TIMEOUT = 120


class TerminalPrompt:
    def __call__(self, serial: str, profile: str) -> str:
        try:
            fd = os.open("/dev/tty", os.O_RDWR | os.O_NOCTTY)
        except OSError:
            return ""  # no terminal: the caller tries nothing else and says so
        with line_mode_terminal(), contextlib.closing(os.fdopen(fd, "r+b", buffering=0)) as tty:
            tty.write(f"shellvault: MFA code for {serial} (profile {profile}): ".encode())
            line = bytearray()
            deadline = time.monotonic() + PROMPT_TIMEOUT
            while not line.endswith(b"\n"):
                ready, _, _ = select.select([tty], [], [], max(0.0, deadline - time.monotonic()))
                if not ready:
                    tty.write(b"\n")
                    raise MfaError(
                        f"profile {profile}: no MFA code entered within {PROMPT_TIMEOUT}s"
                    )
                chunk = tty.read(1)
                if not chunk:
                    break
                line += chunk
        code = line.decode(errors="replace").strip()
        if not code:
            raise MfaError(f"profile {profile}: no MFA code entered for {serial}")
        return code
