"""Real parts the tests run against: moto's STS server, a recording proxy, a throwaway home.

Shared by the tests' fixtures and by `python -m tests.demo`.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

PASSPHRASE = "correct horse battery staple"
# moto's fixed example key; any key works against moto, none is real.
KEY_ID = "AKIAIOSFODNN7EXAMPLE"
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"

MISSION_CONFIG = """\
# the mission's config: mfa_serial only on the role
[profile private]

[profile private_admin]
source_profile=private
role_arn=arn:aws:iam::123456789012:role/admins-assume
role_session_name=user01
mfa_serial=arn:aws:iam::123456789012:mfa/user01
region=ap-northeast-1
"""


def require(command: str) -> str:
    """The path of `command`; skip without it, but fail under CI=true (a broken CI, not a pass)."""
    path = shutil.which(command)
    if path is None:
        message = f"{command} is not installed"
        if os.environ.get("CI") == "true":
            pytest.fail(message + " (CI=true: install it in .ci/run)")
        pytest.skip(message)
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port}")


@contextlib.contextmanager
def moto_server() -> Iterator[str]:
    port = free_port()
    binary = shutil.which("moto_server") or str(Path(sys.executable).with_name("moto_server"))
    process = subprocess.Popen(
        [binary, "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(10)


@dataclass
class StsProxy:
    """Forwards to moto, records each STS request's parameters, and can misbehave on demand.

    mode: "pass" (forward), "refuse" (AccessDenied), "hang" (never answer), "expired"
    (ExpiredToken).
    """

    upstream: str
    mode: str = "pass"
    requests: list[dict[str, str]] = field(default_factory=list)
    # Per request, beside `requests`: the access key ID that signed it and whether a session
    # token came along (so a test can tell a long-term key from a session).
    signers: list[tuple[str | None, bool]] = field(default_factory=list)
    # Actions answered AccessDenied whatever the mode.
    refuse_actions: set[str] = field(default_factory=set)
    url: str = ""
    _server: ThreadingHTTPServer | None = None

    def actions(self) -> list[str]:
        return [r.get("Action", "?") for r in self.requests]

    def reset(self) -> None:
        """Back to forwarding with nothing recorded, for a proxy shared between tests."""
        self.mode = "pass"
        self.requests.clear()
        self.signers.clear()
        self.refuse_actions.clear()

    def start(self) -> StsProxy:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                params = dict(urllib.parse.parse_qsl(body.decode()))
                signer = re.search(r"Credential=([^/]+)/", self.headers.get("Authorization", ""))
                proxy.signers.append(
                    (signer.group(1) if signer else None, "X-Amz-Security-Token" in self.headers)
                )
                proxy.requests.append(params)
                if proxy.mode == "hang":
                    time.sleep(120)
                    return
                refused = params.get("Action") in proxy.refuse_actions
                if proxy.mode in ("refuse", "expired") or refused:
                    code = "ExpiredToken" if proxy.mode == "expired" else "AccessDenied"
                    payload = (
                        '<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">'
                        f"<Error><Type>Sender</Type><Code>{code}</Code>"
                        "<Message>not allowed in this test</Message></Error>"
                        "<RequestId>1</RequestId></ErrorResponse>"
                    ).encode()
                    self.send_response(403)
                    self.send_header("Content-Type", "text/xml")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                    return
                request = urllib.request.Request(
                    proxy.upstream + self.path,
                    data=body,
                    headers={k: v for k, v in self.headers.items() if k.lower() != "host"},
                    method="POST",
                )
                try:
                    with urllib.request.urlopen(request, timeout=10) as answer:
                        status, payload = answer.status, answer.read()
                        content_type = answer.headers.get("Content-Type", "text/xml")
                except urllib.error.HTTPError as error:
                    status, payload = error.code, error.read()
                    content_type = error.headers.get("Content-Type", "text/xml")
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


def clean_environment(home: Path, sts_url: str) -> dict[str, str]:
    """An environment with nothing ambient: no AWS variables, a private home and runtime dir."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AWS_", "SHELLVAULT_", "XDG_", "DIRENV_"))
    }
    runtime = home / "run"
    for folder in (home / "home" / ".aws", runtime):
        folder.mkdir(parents=True, exist_ok=True)
    runtime.chmod(0o700)
    env.update(
        HOME=str(home / "home"),
        XDG_CONFIG_HOME=str(home / "home" / ".config"),
        XDG_DATA_HOME=str(home / "home" / ".local" / "share"),
        XDG_CACHE_HOME=str(home / "home" / ".cache"),
        XDG_RUNTIME_DIR=str(runtime),
        AWS_CONFIG_FILE=str(home / "home" / ".aws" / "config"),
        AWS_ENDPOINT_URL_STS=sts_url,
        SHELLVAULT_BACKEND="file",
        SHELLVAULT_FILE_PASSPHRASE=PASSPHRASE,
        PYTHONDONTWRITEBYTECODE="1",
    )
    return env
