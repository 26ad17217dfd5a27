"""The local credential endpoint behind `exec --server`, and the child process it lives for.

The child gets `AWS_CONTAINER_CREDENTIALS_FULL_URI` and `AWS_CONTAINER_AUTHORIZATION_TOKEN`, the
variables the AWS SDKs read in a container, instead of keys. The SDKs then ask the endpoint again
whenever their credentials are due, so the child keeps working past any one session's expiry.

Who may ask, and why each check exists:

- The socket binds 127.0.0.1 only, on a random port: nothing off this machine can connect. The
  peer address is checked again per request (defence in depth; only unit-tested, because binding
  anything but loopback to exercise it would be the very hole it guards).
- Every request must carry a random token of 256 bits (`secrets.token_urlsafe(32)`) in
  `Authorization`, compared in constant time. Other local users and processes can reach a
  loopback port; only the child's environment holds the token (never argv, never a log).
- `Host` must be `127.0.0.1:PORT` or `localhost:PORT`: a web page that rebinds its own DNS name
  to 127.0.0.1 sends its own name as Host (DNS-rebinding defence). A request carrying `Origin`
  comes from a browser, never from an SDK, and is refused too.

Minting happens under one lock, so concurrent SDK threads asking at the same moment mint once;
the session cache's own file lock does the same across processes.
"""

from __future__ import annotations

import configparser
import contextlib
import hmac
import ipaddress
import json
import logging
import os
import secrets
import signal
import subprocess
import sys
import threading
import urllib.parse
from collections.abc import Callable, Iterator, Mapping
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import FrameType
from typing import NamedTuple

from shellvault import locations
from shellvault.app import App
from shellvault.credentials import Credentials
from shellvault.errors import MfaError, ShellvaultError
from shellvault.output.changes import CONFLICTING, EnvChanges
from shellvault.vault.plan import MintOptions

log = logging.getLogger("shellvault.server")

LOOPBACK = "127.0.0.1"
TOKEN_BYTES = 32  # 256 bits; at least 128 are needed to be unguessable
# The AWS SDKs' advisory refresh window (botocore refreshes 15 minutes before expiry).
SDK_WINDOW = 15 * 60

# Every variable that would make an SDK in the child use other credentials than the endpoint's.
# The environment provider comes first in every SDK's chain, web identity before containers, and
# botocore prefers a RELATIVE_URI and a token *file* over the FULL_URI and token we set.
SERVER_UNSETS = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_CREDENTIAL_EXPIRATION",
    "SHELLVAULT_EXPIRES",
    *CONFLICTING,
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_ROLE_ARN",
    "AWS_ROLE_SESSION_NAME",
)

# Keys that make botocore resolve the `default` profile before it ever reaches the container
# provider (`exec --server` unsets AWS_PROFILE, so the SDKs fall back to `default`).
_DEFAULT_PROFILE_SOURCES = (
    "aws_access_key_id",
    "role_arn",
    "credential_process",
    "sso_session",
    "sso_start_url",
    "web_identity_token_file",
)


class Answer(NamedTuple):
    status: int
    body: dict[str, str]


def _error(status: int, code: str, message: str) -> Answer:
    # `Code`/`Message`: what the SDKs print when the endpoint says no.
    return Answer(status, {"Code": code, "Message": message})


def _is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address.split("%", 1)[0]).is_loopback
    except ValueError:
        return False


def refusal(
    method: str,
    target: str,
    headers: Message,
    peer: str,
    port: int,
    token: str,
) -> Answer | None:
    """Why this request gets no credentials, or None when it may have them.

    Pure, so every refusal is unit-tested without a network. The order matters: nothing about
    paths or methods is revealed before the caller has proved it holds the token.
    """
    if not _is_loopback(peer):
        return _error(403, "Forbidden", "requests are accepted from this machine only")
    hosts = headers.get_all("Host") or []
    allowed = {f"127.0.0.1:{port}", f"localhost:{port}"}
    if len(hosts) != 1 or hosts[0].strip().lower() not in allowed:
        return _error(403, "Forbidden", f"the Host header must be 127.0.0.1:{port}")
    if headers.get("Origin") is not None:
        return _error(403, "Forbidden", "requests from web pages are refused")
    given = headers.get_all("Authorization") or []
    # compare_digest on bytes: constant time for any input, and no TypeError on non-ASCII.
    if len(given) != 1 or not hmac.compare_digest(
        given[0].strip().encode("utf-8", "surrogateescape"), token.encode()
    ):
        return _error(403, "Forbidden", "wrong or missing authorization token")
    if urllib.parse.urlsplit(target).path != "/":
        return _error(404, "NotFound", "the credentials are at /")
    if method != "GET":
        return _error(405, "MethodNotAllowed", "only GET is served")
    return None


def sdk_document(credentials: Credentials) -> dict[str, str]:
    """The container-credentials JSON every AWS SDK reads (`Token`, not `SessionToken`)."""
    expiration = credentials.expiration_rfc3339()
    if credentials.session_token is None or expiration is None:
        # The SDKs require both fields; exec refuses long-term keys before starting the server.
        raise ShellvaultError("the endpoint serves temporary credentials only")
    return {
        "AccessKeyId": credentials.access_key_id,
        "SecretAccessKey": credentials.secret_access_key,
        "Token": credentials.session_token,
        "Expiration": expiration,
    }


class _HttpServer(ThreadingHTTPServer):
    daemon_threads = True
    # A fixed port is never asked for, so there is nothing to reuse; and on some systems
    # SO_REUSEADDR would let another process bind the same loopback port.
    allow_reuse_address = False
    endpoint: CredentialServer


class _Handler(BaseHTTPRequestHandler):
    server: _HttpServer
    server_version = "shellvault"
    sys_version = ""
    protocol_version = "HTTP/1.1"
    # A client that connects and says nothing must not hold a thread forever.
    timeout = 10

    def log_message(self, format: str, *args: object) -> None:
        # http.server logs every request on stderr, which the child shares: stay quiet.
        pass

    def _serve(self) -> None:
        endpoint = self.server.endpoint
        answer = refusal(
            self.command,
            self.path,
            self.headers,
            self.client_address[0],
            endpoint.port,
            endpoint.token,
        )
        if answer is None:
            answer = endpoint.answer()
        log.debug("%s %s -> %d", self.command, self.path.split("?", 1)[0], answer.status)
        payload = json.dumps(answer.body).encode()
        self.send_response(answer.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("Cache-Control", "no-store")
        if answer.status != 200:
            # A refused request may carry a body we never read; it must not be parsed as the
            # next request on a kept-alive connection.
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _serve


class CredentialServer:
    """The endpoint: a loopback HTTP server answering with `fetch()`'s credentials."""

    def __init__(self, fetch: Callable[[], Credentials], describe: str) -> None:
        self._fetch = fetch
        self._describe = describe
        self._lock = threading.Lock()
        self.token = secrets.token_urlsafe(TOKEN_BYTES)
        self._httpd = _HttpServer((LOOPBACK, 0), _Handler)
        self._httpd.endpoint = self
        self.port: int = self._httpd.server_address[1]
        self.url = f"http://{LOOPBACK}:{self.port}/"
        self._thread: threading.Thread | None = None

    def answer(self) -> Answer:
        # One mint at a time: SDK threads that ask together get the one refresh.
        with self._lock:
            try:
                return Answer(200, sdk_document(self._fetch()))
            except ShellvaultError as exc:
                message = " ".join(exc.message.splitlines())
            except Exception as exc:  # a bug must not kill the endpoint or print a traceback
                message = f"unexpected {type(exc).__name__}"
        # The child's SDK shows the JSON; the user at the terminal sees this line. The next
        # request tries again: nothing about a failure is remembered.
        print(f"shellvault: {self._describe}: {message}", file=sys.stderr, flush=True)
        return _error(500, "CredentialsUnavailable", f"shellvault: {message}")

    def start(self) -> CredentialServer:
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, name="shellvault-endpoint", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join(5)
            self._thread = None
        self._httpd.server_close()


def server_changes(
    profile: str,
    server: CredentialServer,
    region: str | None,
    set_aws_vault: bool = True,
) -> EnvChanges:
    """What the child's environment gets: the endpoint and the profile's name, never keys.

    No AWS_CREDENTIAL_EXPIRATION or SHELLVAULT_EXPIRES either: shell hooks read those to decide
    when to export fresh keys, which would override the endpoint.
    """
    sets = {
        "AWS_CONTAINER_CREDENTIALS_FULL_URI": server.url,
        "AWS_CONTAINER_AUTHORIZATION_TOKEN": server.token,
    }
    # An unknown region leaves the caller's AWS_REGION alone, as `exec` does.
    if region:
        sets["AWS_REGION"] = region
        sets["AWS_DEFAULT_REGION"] = region
    sets["SHELLVAULT_PROFILE"] = profile
    sets["SHELLVAULT_SERVER"] = "1"
    if set_aws_vault:
        sets["AWS_VAULT"] = profile
    return EnvChanges(sets, tuple(n for n in SERVER_UNSETS if n not in sets))


def default_profile_shadow(environ: Mapping[str, str]) -> str | None:
    """A file that gives SDKs `default` credentials before they try the endpoint, if any.

    The container provider comes after the shared files in every SDK's chain. `exec --server`
    cannot remove the user's files, so it names them instead of failing silently.
    """
    shared = environ.get("AWS_SHARED_CREDENTIALS_FILE") or os.path.join(
        os.path.expanduser("~"), ".aws", "credentials"
    )
    for path, sections in (
        (shared, ("default",)),
        (locations.aws_config_file(), ("default", "profile default")),
    ):
        parser = configparser.RawConfigParser(strict=False, default_section="\0no-defaults")
        try:
            parser.read(path, encoding="utf-8")
        except (configparser.Error, UnicodeDecodeError, OSError):
            continue  # `exec` itself reports a broken config; this is only a warning
        for section in sections:
            if parser.has_section(section) and set(parser.options(section)) & set(
                _DEFAULT_PROFILE_SOURCES
            ):
                return path
    return None


# Running the child ------------------------------------------------------------------------------

# Keyboard signals: the terminal sends them to the whole foreground process group, the child
# included, so forwarding one the terminal sent would deliver it twice.
_KEYBOARD = {signal.SIGINT, getattr(signal, "SIGQUIT", signal.SIGINT)}
FORWARDED = tuple(
    s
    for s in (
        signal.SIGINT,
        signal.SIGTERM,
        getattr(signal, "SIGHUP", None),
        getattr(signal, "SIGQUIT", None),
    )
    if s is not None
)


def _terminal_sent(signum: int) -> bool:
    """True when `signum` is a keyboard signal and we hold the terminal's foreground.

    Then the terminal delivered it to the child as well. Otherwise (kill, a supervisor, no
    terminal) only we got it, and the child must hear it from us.
    """
    if signum not in _KEYBOARD:
        return False
    try:
        fd = os.open("/dev/tty", os.O_RDONLY | os.O_NOCTTY)
    except OSError:
        return False
    try:
        return os.tcgetpgrp(fd) == os.getpgrp()
    except OSError:
        return False
    finally:
        os.close(fd)


@contextlib.contextmanager
def _forwarding(target: list[subprocess.Popen[bytes]]) -> Iterator[list[int]]:
    """Forward FORWARDED signals to the child in `target`; early ones wait in the yielded list.

    Installed before the child starts, so a signal in between can neither kill us (leaving the
    child without an endpoint) nor get lost.
    """
    pending: list[int] = []

    def forward(signum: int, frame: FrameType | None) -> None:
        if _terminal_sent(signum):
            return
        if target:
            with contextlib.suppress(ProcessLookupError):
                target[0].send_signal(signum)
        else:
            pending.append(signum)

    previous = {s: signal.signal(s, forward) for s in FORWARDED}
    try:
        yield pending
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def run_child(command: list[str], environment: dict[str, str]) -> int:
    """Run `command` to its end and return its exit status (signal deaths as 128+N)."""
    target: list[subprocess.Popen[bytes]] = []
    with _forwarding(target) as pending:
        sys.stdout.flush()
        sys.stderr.flush()
        try:
            target.append(subprocess.Popen(command, env=environment))
        except OSError as exc:
            raise ShellvaultError(f"cannot run {command[0]}: {exc.strerror}") from None
        child = target[0]
        for signum in pending:
            with contextlib.suppress(ProcessLookupError):
                child.send_signal(signum)
        # wait() resumes after a handler runs (PEP 475), so forwarded signals do not end it.
        status = child.wait()
    return status if status >= 0 else 128 - status


def serve_command(profile: str, options: MintOptions, command: list[str]) -> int:
    """`exec --server`: mint now, serve later mints from a loopback endpoint, exit with CMD's
    status."""
    app = App()
    # The SDKs refresh 15 minutes before expiry (botocore's advisory window). Answering with
    # credentials they already consider due would make every later API call ask again: never
    # hand out less than that window, whatever AWS_MIN_TTL says.
    app.settings = app.settings._replace(min_ttl=max(app.settings.min_ttl, SDK_WINDOW))
    # The terminal is still ours: any MFA or passphrase prompt happens now, before CMD owns it.
    plan, credentials = app.credentials(profile, options)
    if credentials.expires is None or credentials.session_token is None:
        raise ShellvaultError(
            f"profile {profile} gives the long-term key itself (--no-session on a profile "
            "without a role); exec --server serves temporary credentials only: drop -n"
        )
    keep_keystore_open(app, plan.root)
    # A -t code is single-use at AWS; later mints get codes from mfa_process or not at all.
    later = options._replace(mfa_token=None)

    def fetch() -> Credentials:
        try:
            return app.credentials(profile, later, terminal=False)[1]
        except MfaError:
            if plan.mfa_process:
                raise  # its own message says what went wrong with mfa_process
            raise MfaError(
                f"profile {profile} needs a new MFA code, and the endpoint never reads the "
                "terminal (the command owns it); set mfa_process in the profile, or run "
                f"`shellvault env {profile}` in another terminal, then retry"
            ) from None

    endpoint = CredentialServer(fetch, f"credentials for profile {profile}")
    try:
        changes = server_changes(profile, endpoint, plan.region, app.settings.set_aws_vault)
        shadow = default_profile_shadow(os.environ)
        if shadow:
            print(
                f"shellvault: {shadow} gives the default profile credentials, which AWS SDKs "
                "in the command use before the endpoint; remove them to use the endpoint",
                file=sys.stderr,
            )
        endpoint.start()
        return run_child(command, changes.apply(os.environ))
    finally:
        endpoint.stop()


def keep_keystore_open(app: App, root: str) -> None:
    """Unlock the file keystore now, so refreshes never ask for its passphrase on the terminal.

    A warm start reads only the session cache; the first refresh then needs the keystore (the
    MFA session or the key), and its passphrase prompt would fight the command for the
    terminal. One App lives as long as the endpoint, so the key derived now stays in memory.
    Without a terminal there is nobody to ask: a refresh then fails on its own, in one line.
    """
    if app.keystore.backend_name != "file" or os.environ.get("SHELLVAULT_FILE_PASSPHRASE"):
        return
    try:
        os.close(os.open("/dev/tty", os.O_RDWR | os.O_NOCTTY))
    except OSError:
        return
    app.keystore.get_key(root)
