"""Console sign-in through AWS's federation endpoint: sign-in tokens, login URLs, partitions.

The flow is AWS's "custom identity broker" (IAM User Guide, "Enable custom identity broker access
to the AWS console"):

1. temporary credentials: role credentials as they are, or GetFederationToken for an IAM user's
   long-term key (AWS refuses session credentials there);
2. `GET <federation endpoint>?Action=getSigninToken&Session=<JSON>` answers `{"SigninToken": …}`;
3. `<federation endpoint>?Action=login&Issuer=…&Destination=<console URL>&SigninToken=…` signs
   the browser in.

`SessionDuration` in step 2 follows what that page says: it is for credentials from AssumeRole, and
"Do not use the SessionDuration HTTP parameter if you got the temporary credentials with
GetFederationToken. Doing so will cause the operation to fail." The AssumeRole must have been made
with an IAM user's long-term credentials, "Otherwise, the call to the federation endpoint in step
3 fails" (so never for role-chained credentials, including a role assumed from an MFA session).
The caller decides with `session_duration_allowed`.

Nothing here logs or raises a message containing credentials, the sign-in token or a URL that
carries either: the login URL is a bearer token for the whole console session.
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, NamedTuple

from shellvault import __version__
from shellvault.credentials import Credentials
from shellvault.errors import ConfigError, ShellvaultError
from shellvault.vault.plan import ChainPlan

log = logging.getLogger(__name__)

SIGNIN_URL_VARIABLE = "SHELLVAULT_SIGNIN_URL"
ISSUER = "shellvault"
SESSION_DURATION_MIN, SESSION_DURATION_MAX = 900, 43_200  # getSigninToken SessionDuration
SIGNIN_TIMEOUT = 10  # seconds, per connect and per read, like the STS clients' read timeout
_MAX_ANSWER = 64 * 1024  # a SigninToken answer is about 1 KiB


class Partition(NamedTuple):
    name: str
    signin_host: str
    console_host: str


# The hosts aws-vault uses (cli/login.go) and AWS's own examples for China and GovCloud.
AWS = Partition("aws", "signin.aws.amazon.com", "console.aws.amazon.com")
AWS_CN = Partition("aws-cn", "signin.amazonaws.cn", "console.amazonaws.cn")
AWS_US_GOV = Partition("aws-us-gov", "signin.amazonaws-us-gov.com", "console.amazonaws-us-gov.com")


def partition_for(region: str | None) -> Partition:
    if region and region.startswith("cn-"):
        return AWS_CN
    if region and region.startswith("us-gov-"):
        return AWS_US_GOV
    return AWS


def federation_endpoint(partition: Partition, configured: str | None = None) -> str:
    """`configured` (SHELLVAULT_SIGNIN_URL, or `signin_url` in the settings file), else the
    partition's `https://<signin host>/federation`."""
    configured = (configured or "").strip()
    if not configured:
        return f"https://{partition.signin_host}/federation"
    parts = urllib.parse.urlsplit(configured)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ConfigError(
            f"{SIGNIN_URL_VARIABLE} must be an https:// URL like "
            "https://signin.aws.amazon.com/federation"
        )
    if parts.query or parts.fragment or parts.username or parts.password:
        raise ConfigError(
            f"{SIGNIN_URL_VARIABLE} must be a plain endpoint URL, without query, fragment or "
            "user name; shellvault adds the parameters"
        )
    if parts.scheme == "http" and parts.hostname not in ("127.0.0.1", "::1", "localhost"):
        # The exchange carries the secret key: plain HTTP only where it never leaves the machine.
        raise ConfigError(
            f"{SIGNIN_URL_VARIABLE} uses http:// for {parts.hostname}; the credentials would "
            "travel unencrypted: use https:// (http:// is allowed for loopback addresses only)"
        )
    return configured


def destination(region: str | None, path: str | None) -> str:
    """The console page to land on: `https://<region>.<console host>/<path>?region=<region>`."""
    partition = partition_for(region)
    page = (path or "").lstrip("/") or "console/home"
    if not region:
        # No region known: the partition's console picks the user's last one.
        return f"https://{partition.console_host}/{page}"
    joiner = "&" if "?" in page else "?"
    quoted = urllib.parse.quote(region, safe="")
    return f"https://{quoted}.{partition.console_host}/{page}{joiner}region={quoted}"


def session_duration_allowed(plan: ChainPlan) -> bool:
    """True when the credentials come from an AssumeRole made with the stored long-term key.

    AWS accepts `SessionDuration` only for AssumeRole credentials, and only when that AssumeRole
    was called with an IAM user's long-term credentials; a role reached through an MFA session or
    another role is role chaining, for which the getSigninToken call fails.
    """
    return plan.session is None and len(plan.roles) == 1


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """The token answer never redirects; following one would be a surprise worth an error."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def signin_token(
    endpoint: str, credentials: Credentials, session_duration: int | None, profile: str
) -> str:
    """Exchange temporary credentials for a SigninToken (getSigninToken), with bounded time."""
    if not credentials.is_temporary:
        raise ShellvaultError(
            f"profile {profile} gave long-term credentials; the console needs temporary ones"
        )
    session = json.dumps(
        {
            "sessionId": credentials.access_key_id,
            "sessionKey": credentials.secret_access_key,
            "sessionToken": credentials.session_token,
        }
    )
    params = {"Action": "getSigninToken"}
    if session_duration is not None:
        clamped = min(max(session_duration, SESSION_DURATION_MIN), SESSION_DURATION_MAX)
        params["SessionDuration"] = str(clamped)
    params["Session"] = session
    request = urllib.request.Request(
        f"{endpoint}?{urllib.parse.urlencode(params)}",
        headers={"User-Agent": f"shellvault/{__version__}", "Accept": "application/json"},
    )
    log.debug(
        "getSigninToken for profile %s at %s (SessionDuration %s)",
        profile,
        endpoint,
        params.get("SessionDuration", "not sent"),
    )
    where = f"the sign-in endpoint {endpoint}"
    opener = urllib.request.build_opener(_NoRedirects)
    try:
        with opener.open(request, timeout=SIGNIN_TIMEOUT) as answer:
            body = answer.read(_MAX_ANSWER)
    except urllib.error.HTTPError as exc:
        # Never the body or the request URL: the request URL carries the credentials.
        exc.close()
        hint = (
            "the credentials may have expired (run `shellvault clear "
            f"{profile}`) or may not be allowed to sign in to the console"
        )
        raise ShellvaultError(
            f"{where} refused getSigninToken for profile {profile}: HTTP {exc.code}; {hint}"
        ) from None
    except TimeoutError:
        raise ShellvaultError(
            f"{where} timed out during getSigninToken for profile {profile}; check the network "
            f"or {SIGNIN_URL_VARIABLE}"
        ) from None
    except urllib.error.URLError as exc:
        reason = exc.reason
        text = getattr(reason, "strerror", None) or str(reason)
        if isinstance(reason, TimeoutError):
            text = "timed out"
        raise ShellvaultError(
            f"cannot reach {where} for profile {profile}: {text}; check the network or "
            f"{SIGNIN_URL_VARIABLE}"
        ) from None
    except OSError as exc:
        raise ShellvaultError(
            f"{where} failed during getSigninToken for profile {profile}: "
            f"{exc.strerror or type(exc).__name__}"
        ) from None
    try:
        token = json.loads(body).get("SigninToken")
    except (ValueError, AttributeError):
        token = None
    if not isinstance(token, str) or not token:
        raise ShellvaultError(
            f"{where} answered getSigninToken for profile {profile} without a SigninToken; "
            f"check {SIGNIN_URL_VARIABLE}"
        )
    return token


def login_url(endpoint: str, token: str, console_page: str) -> str:
    query = urllib.parse.urlencode(
        {
            "Action": "login",
            "Issuer": ISSUER,
            "Destination": console_page,
            "SigninToken": token,
        }
    )
    return f"{endpoint}?{query}"
