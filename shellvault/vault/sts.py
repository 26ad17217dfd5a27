"""STS clients built from explicit credentials, with bounded time, and their failures in words.

Never from the ambient environment: an already-active `AWS_PROFILE` or `AWS_ACCESS_KEY_ID` must not
become the source of new credentials, so the botocore session is told to use no profile and is
handed the keys. Timeouts and retries are bounded so a hung endpoint fails within 30 seconds
(botocore's defaults can hold a call for minutes).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from typing import Any, TypeVar

from shellvault.credentials import Credentials
from shellvault.errors import StsError
from shellvault.vault.plan import StsTarget

log = logging.getLogger(__name__)

CONNECT_TIMEOUT = 5
READ_TIMEOUT = 10
MAX_ATTEMPTS = 2  # total, first try included: 2 x (5 + 10) s stays under 30 s

_T = TypeVar("_T")


def client(credentials: Credentials, target: StsTarget, profile: str) -> Any:
    """An STS client; a region or endpoint botocore cannot use is one line naming `profile`."""
    import botocore.config
    import botocore.exceptions
    import botocore.session

    # Never the ambient AWS_PROFILE: it may name the profile being replaced, or none at all.
    # A `profile` variable with no environment name makes botocore ignore AWS_PROFILE.
    session = botocore.session.Session(session_vars={"profile": (None, None, None, None)})
    session.set_config_variable("credentials_file", os.devnull)
    if target.endpoint_url is None:
        # We resolved endpoint_url by botocore's rules for *our* profile already.
        session.set_config_variable("ignore_configured_endpoint_urls", True)
    if target.regional_endpoints:
        session.set_config_variable("sts_regional_endpoints", target.regional_endpoints)
    config = botocore.config.Config(
        connect_timeout=CONNECT_TIMEOUT,
        read_timeout=READ_TIMEOUT,
        retries={"total_max_attempts": MAX_ATTEMPTS, "mode": "standard"},
    )
    try:
        return session.create_client(
            "sts",
            region_name=target.region or "us-east-1",
            endpoint_url=target.endpoint_url,
            aws_access_key_id=credentials.access_key_id,
            aws_secret_access_key=credentials.secret_access_key,
            aws_session_token=credentials.session_token,
            config=config,
        )
    except (botocore.exceptions.BotoCoreError, ValueError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise StsError(
            f"profile {profile}: cannot call STS in region {target.region!r} at "
            f"{target.endpoint_url or 'the default endpoint'}: {first}; check region, --region "
            "and endpoint_url"
        ) from None


def call(
    operation: str,
    profile: str,
    target: StsTarget,
    request: Callable[[], _T],
    key_owner: str | None = None,
) -> _T:
    """Run one STS request; every failure becomes one line naming the profile and a next step.

    `key_owner` is the profile whose stored long-term key signs the request; None when cached
    temporary credentials sign it. A rejected signature needs a different fix in each case.
    """
    import botocore.exceptions

    where = target.endpoint_url or f"STS ({target.region or 'us-east-1'})"
    log.debug("%s for profile %s at %s", operation, profile, where)
    try:
        return request()
    except botocore.exceptions.ClientError as exc:
        error = exc.response.get("Error", {})
        code = error.get("Code", "Error")
        message = (error.get("Message") or "").splitlines()[0] if error.get("Message") else ""
        hint = "check the profile's role_arn, MFA serial and code, and the key's permissions"
        if code in ("ExpiredToken", "InvalidClientTokenId", "SignatureDoesNotMatch"):
            if key_owner is not None:
                hint = (
                    "the stored key may be wrong or revoked; store it again with "
                    f"`shellvault add {key_owner}`"
                )
            else:
                # A new key would not help: the cached session it was assumed from is bad.
                hint = (
                    "the cached session it was made from was rejected; run "
                    f"`shellvault clear {profile}` and retry"
                )
        raise StsError(
            f"STS refused {operation} for profile {profile}: {code}: {message}; {hint}"
        ) from None
    except (
        botocore.exceptions.EndpointConnectionError,
        botocore.exceptions.ConnectTimeoutError,
        botocore.exceptions.ReadTimeoutError,
        botocore.exceptions.ConnectionClosedError,
    ) as exc:
        kind = "timed out" if "Timeout" in type(exc).__name__ else "is unreachable"
        raise StsError(
            f"STS at {where} {kind} during {operation} for profile {profile}; check the network, "
            "the profile's region and AWS_ENDPOINT_URL_STS / endpoint_url"
        ) from None
    except botocore.exceptions.ParamValidationError as exc:
        first = str(exc).splitlines()[0]
        raise StsError(
            f"{operation} for profile {profile} has invalid parameters: {first}"
        ) from None
    except botocore.exceptions.BotoCoreError as exc:
        raise StsError(f"{operation} for profile {profile} failed: {exc}") from None
