"""`--debug` / `SHELLVAULT_DEBUG=1`: diagnostics on stderr with secrets redacted.

Only shellvault's own logger is turned up. botocore's debug output carries signed headers and
response bodies with secret keys, so its loggers stay at WARNING whatever is asked.
"""

from __future__ import annotations

import logging
import re
import sys

# Secret access keys (40 base64 chars) and session tokens (longer), plus access key IDs.
_SECRETS = re.compile(r"[A-Za-z0-9/+=]{40,}")
_KEY_IDS = re.compile(r"\b((?:AKIA|ASIA)[A-Z0-9]{4})[A-Z0-9]{8,}\b")


def redact(text: str) -> str:
    text = _SECRETS.sub("<redacted>", text)
    return _KEY_IDS.sub(r"\1…", text)


class RedactingFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


def enable() -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(RedactingFormatter("shellvault debug: %(name)s: %(message)s"))
    logger = logging.getLogger("shellvault")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    for noisy in ("botocore", "boto3", "urllib3", "keyring"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
