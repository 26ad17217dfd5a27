"""`shellvault login`: the console federation flow and how the URL reaches a browser.

A local HTTP server implements AWS's documented getSigninToken exchange (IAM User Guide, "Enable
custom identity broker access to the AWS console") and checks the Session JSON it receives;
`SHELLVAULT_SIGNIN_URL` points shellvault at it. A second recording proxy in front of the shared
STS proxy keeps what the shared one drops: which key signed each STS request (the Authorization
header's `Credential=` key ID) and whether a session token came with it.

Browsers are stand-in executables on a PATH that holds nothing else (so no real browser on a
developer's machine can ever start): each records its argv and environment, then fetches the
one-shot loopback address it was handed, without following the redirect, and fetches it again.
"""

from __future__ import annotations

import json
import re
import secrets
import stat
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.conftest import Shellvault
from tests.support import KEY_ID, MISSION_CONFIG, SECRET, StsProxy, free_port

ALLOW_ALL = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
}
MISSION_DESTINATION = (
    "https://ap-northeast-1.console.aws.amazon.com/console/home?region=ap-northeast-1"
)
LOOPBACK = re.compile(r"http://127\.0\.0\.1:\d+/[A-Za-z0-9_-]+")


# A getSigninToken endpoint ---------------------------------------------------------------------


@dataclass
class SigninServer:
    """AWS's federation endpoint, as documented: GET ?Action=getSigninToken&Session=<JSON>.

    Answers `{"SigninToken": …}` with a fresh token each time, or `status` when set to fail.
    """

    status: int = 200
    requests: list[dict[str, str]] = field(default_factory=list)
    tokens: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    url: str = ""
    _server: ThreadingHTTPServer | None = None

    def sessions(self) -> list[dict[str, str]]:
        return [json.loads(r["Session"]) for r in self.requests]

    def start(self) -> SigninServer:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                parts = urllib.parse.urlsplit(self.path)
                pairs = urllib.parse.parse_qsl(parts.query, strict_parsing=True)
                params = dict(pairs)
                owner.requests.append(params)
                problem = self.check(parts.path, pairs, params)
                if problem:
                    owner.problems.append(problem)
                    self.reply(400, b"bad request")
                elif owner.status != 200:
                    self.reply(owner.status, b"<html>refused</html>")
                else:
                    # Characters that must be encoded in the login URL, as real tokens have.
                    token = secrets.token_urlsafe(48) + "+/="
                    owner.tokens.append(token)
                    self.reply(200, json.dumps({"SigninToken": token}).encode())

            def check(self, path: str, pairs: list[tuple[str, str]], params: dict[str, str]) -> str:
                if path != "/federation":
                    return f"path {path}"
                if len(pairs) != len(params):
                    return "a parameter was sent twice"
                if params.get("Action") != "getSigninToken":
                    return f"Action {params.get('Action')}"
                if set(params) - {"Action", "Session", "SessionDuration"}:
                    return f"unexpected parameters {sorted(params)}"
                try:
                    session = json.loads(params.get("Session", ""))
                except ValueError:
                    return "Session is not JSON"
                if set(session) != {"sessionId", "sessionKey", "sessionToken"}:
                    return f"Session keys {sorted(session)}"
                if not all(isinstance(v, str) and v for v in session.values()):
                    return "Session values must be non-empty strings"
                duration = params.get("SessionDuration")
                if duration is not None and not (
                    duration.isdigit() and 900 <= int(duration) <= 43200
                ):
                    return f"SessionDuration {duration}"
                return ""

            def reply(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/federation"
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


# A proxy that records who signed each STS request ----------------------------------------------


@dataclass
class SignerRecorder:
    """The STS proxy's records, by action: which key signed each request."""

    proxy: StsProxy

    @property
    def refuse(self) -> set[str]:
        return self.proxy.refuse_actions

    def signed(self, action: str) -> list[dict[str, object]]:
        return [
            {"Action": action, "params": params, "key_id": key_id, "session_token": token}
            for params, (key_id, token) in zip(self.proxy.requests, self.proxy.signers, strict=True)
            if params.get("Action") == action
        ]


# Stand-in browsers ---------------------------------------------------------------------------

STANDIN = """\
#!{python}
# A stand-in browser: records argv and environment, fetches the loopback address it was given
# without following the redirect, twice, and writes everything to $STANDIN_RECORD.
import json, os, re, sys, urllib.error, urllib.request

record = {{"argv": sys.argv, "env": dict(os.environ)}}
found = re.search(r"http://127\\.0\\.0\\.1:\\d+/[A-Za-z0-9_-]+", " ".join(sys.argv[1:]))

class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None

opener = urllib.request.build_opener(NoRedirect, urllib.request.ProxyHandler({{}}))

def fetch(url):
    try:
        with opener.open(url, timeout=10) as answer:
            return {{"status": answer.status, "headers": dict(answer.headers)}}
    except urllib.error.HTTPError as error:
        return {{"status": error.code, "headers": dict(error.headers)}}
    except OSError as error:
        return {{"error": str(error)}}

if found and os.environ.get("STANDIN_MODE") != "nofetch":
    record["address"] = found.group(0)
    record["first"] = fetch(found.group(0))
    record["second"] = fetch(found.group(0))
path = os.environ["STANDIN_RECORD"]
with open(path + ".tmp", "w") as handle:
    json.dump(record, handle)
os.replace(path + ".tmp", path)
sys.exit(int(os.environ.get("STANDIN_EXIT", "0")))
"""


@dataclass
class Browsers:
    """A PATH of stand-in browsers and where their records land."""

    bin: Path
    record: Path

    def install(self, *names: str) -> None:
        for name in names:
            path = self.bin / name
            path.write_text(STANDIN.format(python=sys.executable))
            path.chmod(0o755)

    def env(self, **extra: str) -> dict[str, str]:
        return {"PATH": str(self.bin), "STANDIN_RECORD": str(self.record), **extra}

    def result(self, timeout: float = 15) -> dict[str, object]:
        """The stand-in's record (it may still be fetching when login has returned)."""
        deadline = time.monotonic() + timeout
        while not self.record.exists():
            assert time.monotonic() < deadline, "the stand-in browser never wrote its record"
            time.sleep(0.05)
        data: dict[str, object] = json.loads(self.record.read_text())
        self.record.unlink()
        return data


@pytest.fixture
def signin() -> Iterator[SigninServer]:
    server = SigninServer().start()
    yield server
    server.stop()


@pytest.fixture
def login(mission: Shellvault, signin: SigninServer) -> Shellvault:
    """The mission's home, signing in at the local endpoint."""
    mission.env["SHELLVAULT_SIGNIN_URL"] = signin.url
    return mission


@pytest.fixture
def browsers(tmp_path: Path) -> Browsers:
    folder = tmp_path / "bin"
    folder.mkdir()
    return Browsers(folder, tmp_path / "browser-record.json")


@pytest.fixture
def signer(sts: StsProxy) -> SignerRecorder:
    return SignerRecorder(sts)


@dataclass
class IamUser:
    name: str
    key_id: str


@pytest.fixture
def iam_user(
    sv: Shellvault, sts: StsProxy, signer: SignerRecorder, signin: SigninServer
) -> IamUser:
    """`private` holds the key of a moto IAM user whose name is longer than 32 characters."""
    import boto3

    name = f"console-user-with-a-long-name-{uuid.uuid4().hex[:12]}"
    iam = boto3.client(
        "iam",
        region_name="us-east-1",
        endpoint_url=sts.upstream,
        aws_access_key_id=KEY_ID,
        aws_secret_access_key=SECRET,
    )
    iam.create_user(UserName=name)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    sv.write_config(MISSION_CONFIG)
    sv.ok("add", "private", input=f"{key['AccessKeyId']}\n{key['SecretAccessKey']}\n")
    sv.env["SHELLVAULT_SIGNIN_URL"] = signin.url
    return IamUser(name, key["AccessKeyId"])


def moto_federation_credentials(sts: StsProxy) -> dict[str, str]:
    """moto answers GetFederationToken with the same fixed credentials every time."""
    import boto3

    client = boto3.client(
        "sts",
        region_name="us-east-1",
        endpoint_url=sts.upstream,
        aws_access_key_id=KEY_ID,
        aws_secret_access_key=SECRET,
    )
    answer = client.get_federation_token(Name="probe", Policy=json.dumps(ALLOW_ALL))
    return {
        "sessionId": answer["Credentials"]["AccessKeyId"],
        "sessionKey": answer["Credentials"]["SecretAccessKey"],
        "sessionToken": answer["Credentials"]["SessionToken"],
    }


def parse_login_url(url: str, signin: SigninServer) -> dict[str, str]:
    base, _, query = url.partition("?")
    assert base == signin.url
    pairs = urllib.parse.parse_qsl(query, strict_parsing=True)
    params = dict(pairs)
    assert [k for k, _ in pairs] == ["Action", "Issuer", "Destination", "SigninToken"]
    assert params["Action"] == "login"
    assert params["Issuer"] == "shellvault"
    assert params["SigninToken"] == signin.tokens[-1]
    return params


def assert_clean_failure(result: subprocess.CompletedProcess[str], *mentions: str) -> str:
    assert result.returncode != 0, result.stderr
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("shellvault: ")
    assert SECRET not in result.stderr
    for text in mentions:
        assert text in lines[0], lines[0]
    return lines[0]


# The federation flow ---------------------------------------------------------------------------


def test_role_profile_signs_in_with_its_role_credentials(
    login: Shellvault, signin: SigninServer, sts: StsProxy
) -> None:
    result = login.ok("login", "private_admin", "-t", "123456", "--stdout")
    assert result.stdout.count("\n") == 1 and result.stdout.endswith("\n")
    params = parse_login_url(result.stdout.strip(), signin)
    assert params["Destination"] == MISSION_DESTINATION
    # Exactly the credentials `env` exports (a cache hit now), and no GetFederationToken.
    exported = login.env_json("private_admin")
    (request,) = signin.requests
    assert json.loads(request["Session"]) == {
        "sessionId": exported["AWS_ACCESS_KEY_ID"],
        "sessionKey": exported["AWS_SECRET_ACCESS_KEY"],
        "sessionToken": exported["AWS_SESSION_TOKEN"],
    }
    assert sts.actions() == ["GetSessionToken", "AssumeRole"]
    # Assumed from the MFA session: role chaining, for which AWS refuses SessionDuration.
    assert "SessionDuration" not in request
    assert signin.problems == []
    assert result.stderr == ""


def test_role_assumed_from_the_long_term_key_gets_a_session_duration(
    login: Shellvault, signin: SigninServer, sts: StsProxy
) -> None:
    # 2h for one role skips the MFA session: AssumeRole straight from the stored key.
    login.ok("login", "private_admin", "-t", "123456", "-d", "2h", "--stdout")
    (role,) = sts.requests
    assert (role["Action"], role["DurationSeconds"]) == ("AssumeRole", "7200")
    assert signin.requests[0]["SessionDuration"] == "7200"
    assert signin.problems == []


def test_duration_for_a_chained_role_says_why_it_is_not_sent(
    login: Shellvault, signin: SigninServer
) -> None:
    result = login.ok("login", "private_admin", "-t", "123456", "-d", "30m", "--stdout")
    assert "SessionDuration" not in signin.requests[0]
    assert "SessionDuration" in result.stderr and len(result.stderr.splitlines()) == 1


def test_region_and_path_pick_the_console_page(login: Shellvault, signin: SigninServer) -> None:
    result = login.ok(
        "login",
        "private_admin",
        "-t",
        "123456",
        "--region",
        "eu-west-1",
        "--path",
        "s3/home",
        "--stdout",
    )
    params = parse_login_url(result.stdout.strip(), signin)
    assert (
        params["Destination"] == "https://eu-west-1.console.aws.amazon.com/s3/home?region=eu-west-1"
    )


@pytest.mark.parametrize(
    ("region", "destination"),
    [
        ("cn-north-1", "https://cn-north-1.console.amazonaws.cn/console/home?region=cn-north-1"),
        (
            "us-gov-west-1",
            "https://us-gov-west-1.console.amazonaws-us-gov.com/console/home?region=us-gov-west-1",
        ),
    ],
)
def test_partition_destinations(
    login: Shellvault, signin: SigninServer, region: str, destination: str
) -> None:
    result = login.ok("login", "private_admin", "-t", "123456", "--region", region, "--stdout")
    assert parse_login_url(result.stdout.strip(), signin)["Destination"] == destination


def test_user_key_signs_in_through_get_federation_token(
    sv: Shellvault, iam_user: IamUser, signer: SignerRecorder, signin: SigninServer, sts: StsProxy
) -> None:
    result = sv.ok("login", "private", "-d", "2h", "--stdout")
    params = parse_login_url(result.stdout.strip(), signin)
    # `private` has no region: the console picks the user's last one.
    assert params["Destination"] == "https://console.aws.amazon.com/console/home"
    assert sts.actions() == ["GetCallerIdentity", "GetFederationToken"]
    (federation,) = signer.signed("GetFederationToken")
    # Signed with the stored long-term key itself, never a session.
    assert federation["key_id"] == iam_user.key_id
    assert federation["session_token"] is False
    sent = federation["params"]
    assert isinstance(sent, dict)
    assert sent["Name"] == iam_user.name[:32] and len(iam_user.name) > 32
    assert json.loads(sent["Policy"]) == ALLOW_ALL
    assert sent["DurationSeconds"] == "7200"
    # The Session is the federation token's credentials; no SessionDuration (AWS: it fails).
    (request,) = signin.requests
    assert json.loads(request["Session"]) == moto_federation_credentials(sts)
    assert "SessionDuration" not in request
    assert signin.problems == []
    assert "MFA do not carry over" in result.stderr


@pytest.mark.parametrize(("ttl", "expected"), [(None, "3600"), ("3h", "10800")])
def test_federation_duration_defaults(
    sv: Shellvault, iam_user: IamUser, signer: SignerRecorder, ttl: str | None, expected: str
) -> None:
    env = {"AWS_FEDERATION_TOKEN_TTL": ttl} if ttl else {}
    sv.ok("login", "private", "--stdout", env=env)
    (federation,) = signer.signed("GetFederationToken")
    assert isinstance(federation["params"], dict)
    assert federation["params"]["DurationSeconds"] == expected


def test_debug_output_holds_no_secret(login: Shellvault, signin: SigninServer) -> None:
    result = login.ok("--debug", "login", "private_admin", "-t", "123456", "--stdout")
    exported = login.env_json("private_admin")
    assert "getSigninToken" in result.stderr
    for secret in (
        signin.tokens[-1],
        exported["AWS_SECRET_ACCESS_KEY"],
        exported["AWS_SESSION_TOKEN"],
        SECRET,
    ):
        assert str(secret) not in result.stderr


# Browsers --------------------------------------------------------------------------------------


def assert_one_shot(record: dict[str, object], login_url_check: SigninServer) -> str:
    """The stand-in got only the loopback address; it redirected once to the real login URL."""
    argv = record["argv"]
    assert isinstance(argv, list)
    first, second = record["first"], record["second"]
    assert isinstance(first, dict) and isinstance(second, dict)
    assert first["status"] == 302
    headers = {k.lower(): v for k, v in first["headers"].items()}
    assert headers["cache-control"] == "no-store"
    assert headers["referrer-policy"] == "no-referrer"
    location = headers["location"]
    parse_login_url(location, login_url_check)
    # The one answer is used up: the retry gets no redirect.
    assert second.get("status") != 302
    # The sign-in URL and its token appear nowhere the process list or environment shows.
    token = login_url_check.tokens[-1]
    shown = json.dumps(argv) + json.dumps(record["env"])
    assert token not in shown and urllib.parse.quote_plus(token) not in shown
    assert "SigninToken" not in shown
    address = record["address"]
    assert isinstance(address, str)
    with pytest.raises(OSError):
        # After login returned, nothing listens there any more.
        urllib.request.build_opener(urllib.request.ProxyHandler({})).open(address, timeout=5)
    return address


def test_isolated_chromium_gets_a_profile_folder_per_aws_profile(
    login: Shellvault, signin: SigninServer, browsers: Browsers
) -> None:
    browsers.install("chromium")
    data = Path(login.env["XDG_DATA_HOME"]) / "shellvault" / "browser" / "chromium"
    folders = []
    for profile in ("private_admin", "private"):
        result = login.ok(
            "login",
            profile,
            "-t",
            "123456",
            "--browser",
            "chromium",
            "--isolate",
            env=browsers.env(),
        )
        assert result.stdout == ""
        record = browsers.result()
        address = assert_one_shot(record, signin)
        folder = data / profile
        assert record["argv"] == [
            str(browsers.bin / "chromium"),
            f"--user-data-dir={folder}",
            "--no-first-run",
            "--new-window",
            address,
        ]
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
        folders.append(folder)
    assert folders[0] != folders[1]
    for level in (data.parent, data):
        assert stat.S_IMODE(level.stat().st_mode) == 0o700


def test_isolated_firefox_command_line(
    login: Shellvault, signin: SigninServer, browsers: Browsers
) -> None:
    browsers.install("firefox")
    login.ok(
        "login",
        "private_admin",
        "-t",
        "123456",
        "--browser",
        "firefox",
        "--isolate",
        env=browsers.env(MARKER="kept"),
    )
    record = browsers.result()
    address = assert_one_shot(record, signin)
    folder = (
        Path(login.env["XDG_DATA_HOME"]) / "shellvault" / "browser" / "firefox" / "private_admin"
    )
    assert record["argv"] == [
        str(browsers.bin / "firefox"),
        "-profile",
        str(folder),
        "-no-remote",
        "-new-instance",
        address,
    ]
    env = record["env"]
    assert isinstance(env, dict) and env["MARKER"] == "kept"


def test_isolate_without_browser_picks_an_installed_one(
    login: Shellvault, signin: SigninServer, browsers: Browsers
) -> None:
    browsers.install("google-chrome-stable")
    login.ok("login", "private_admin", "-t", "123456", "--isolate", env=browsers.env())
    record = browsers.result()
    address = assert_one_shot(record, signin)
    folder = (
        Path(login.env["XDG_DATA_HOME"]) / "shellvault" / "browser" / "chrome" / "private_admin"
    )
    assert record["argv"] == [
        str(browsers.bin / "google-chrome-stable"),
        f"--user-data-dir={folder}",
        "--no-first-run",
        "--new-window",
        address,
    ]


def test_chrome_without_isolation(
    login: Shellvault, signin: SigninServer, browsers: Browsers
) -> None:
    browsers.install("google-chrome")
    login.ok("login", "private_admin", "-t", "123456", "--browser", "chrome", env=browsers.env())
    record = browsers.result()
    address = assert_one_shot(record, signin)
    assert record["argv"] == [str(browsers.bin / "google-chrome"), address]


def test_custom_command_with_url_placeholder(
    login: Shellvault, signin: SigninServer, browsers: Browsers
) -> None:
    browsers.install("my browser")
    command = "'my browser' --app={url} --flag 'two words'"
    login.ok("login", "private_admin", "-t", "123456", "--browser", command, env=browsers.env())
    record = browsers.result()
    address = assert_one_shot(record, signin)
    assert record["argv"] == [
        str(browsers.bin / "my browser"),
        f"--app={address}",
        "--flag",
        "two words",
    ]


def test_default_browser_is_pythons_choice(
    login: Shellvault, signin: SigninServer, browsers: Browsers
) -> None:
    browsers.install("standin")
    # webbrowser's documented override; the URL is appended to the command.
    env = browsers.env(BROWSER=str(browsers.bin / "standin"))
    login.ok("login", "private_admin", "-t", "123456", env=env)
    record = browsers.result()
    address = assert_one_shot(record, signin)
    assert record["argv"] == [str(browsers.bin / "standin"), address]


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


def test_one_shot_redirect_answers_once() -> None:
    from shellvault.browser import OneShotRedirect

    target = "https://signin.example/federation?Action=login&SigninToken=x"
    redirect = OneShotRedirect(target)
    opener = urllib.request.build_opener(_NoRedirect, urllib.request.ProxyHandler({}))

    def fetch(url: str) -> tuple[int, str | None]:
        try:
            with opener.open(url, timeout=5) as answer:
                return int(answer.status), None
        except urllib.error.HTTPError as error:
            error.close()
            return int(error.code), error.headers.get("Location")

    try:
        base = redirect.address.rsplit("/", 1)[0]
        # Wrong paths do not use up the answer.
        assert fetch(base + "/favicon.ico") == (404, None)
        assert fetch(base + "/") == (404, None)
        assert fetch(redirect.address + "x") == (404, None)
        assert not redirect.served.is_set()
        assert fetch(redirect.address) == (302, target)
        # Set by the server thread once the answer is written, which may be after we read it.
        assert redirect.served.wait(5)
        assert fetch(redirect.address) == (404, None)
    finally:
        redirect.close()
    with pytest.raises(OSError):
        opener.open(redirect.address, timeout=5)


# Bad input -------------------------------------------------------------------------------------


def test_unknown_browser_fails_before_any_sts_call(
    login: Shellvault, browsers: Browsers, sts: StsProxy, signin: SigninServer
) -> None:
    result = login.run(
        "login", "private_admin", "-t", "123456", "--browser", "netscape", env=browsers.env()
    )
    assert_clean_failure(result, "unknown browser", "netscape")
    assert sts.requests == [] and signin.requests == []


def test_known_browser_that_is_not_installed(login: Shellvault, browsers: Browsers) -> None:
    result = login.run("login", "private_admin", "--browser", "chrome", env=browsers.env())
    assert_clean_failure(result, "chrome is not installed", "google-chrome")


def test_isolate_with_a_command_of_unknown_kind(login: Shellvault, browsers: Browsers) -> None:
    browsers.install("surf")
    result = login.run(
        "login", "private_admin", "--browser", "surf", "--isolate", env=browsers.env()
    )
    assert_clean_failure(result, "--isolate", "surf")


def test_browser_that_fails_to_start(
    login: Shellvault, browsers: Browsers, signin: SigninServer
) -> None:
    browsers.install("chromium")
    env = browsers.env(STANDIN_MODE="nofetch", STANDIN_EXIT="3")
    result = login.run("login", "private_admin", "-t", "123456", "--browser", "chromium", env=env)
    assert_clean_failure(result, "chromium exited with status 3")
    assert signin.tokens[-1] not in result.stderr


def test_browser_that_never_asks_times_out(
    login: Shellvault, browsers: Browsers, signin: SigninServer
) -> None:
    browsers.install("chromium")
    env = browsers.env(STANDIN_MODE="nofetch", SHELLVAULT_BROWSER_TIMEOUT="1s")
    started = time.monotonic()
    result = login.run("login", "private_admin", "-t", "123456", "--browser", "chromium", env=env)
    assert_clean_failure(result, "did not open the sign-in page within 1s")
    assert time.monotonic() - started < 30
    assert signin.tokens[-1] not in result.stderr


def test_get_federation_token_refused(
    sv: Shellvault, iam_user: IamUser, signer: SignerRecorder, signin: SigninServer
) -> None:
    signer.refuse.add("GetFederationToken")
    result = sv.run("login", "private", "-n", "--stdout")
    assert_clean_failure(result, "GetFederationToken", "AccessDenied", "private")
    assert signin.requests == []


def test_plain_profile_without_a_key(login: Shellvault) -> None:
    login.write_config(MISSION_CONFIG + "\n[profile nokey]\nregion=eu-west-1\n")
    result = login.run("login", "nokey", "--stdout")
    assert_clean_failure(result, "nokey", "shellvault add nokey")


def test_signin_endpoint_refuses(login: Shellvault, signin: SigninServer) -> None:
    signin.status = 400
    result = login.run("login", "private_admin", "-t", "123456", "--stdout")
    line = assert_clean_failure(result, "getSigninToken", "HTTP 400", "private_admin")
    exported = login.env_json("private_admin")
    assert str(exported["AWS_SESSION_TOKEN"]) not in line
    assert str(exported["AWS_SECRET_ACCESS_KEY"]) not in line


def test_signin_endpoint_unreachable(login: Shellvault) -> None:
    closed = f"http://127.0.0.1:{free_port()}/federation"
    result = login.run(
        "login", "private_admin", "-t", "123456", "--stdout", env={"SHELLVAULT_SIGNIN_URL": closed}
    )
    assert_clean_failure(result, "cannot reach", closed)


@pytest.mark.parametrize(
    ("url", "mention"),
    [
        ("http://signin.example.com/federation", "https://"),
        ("https://signin.example.com/federation?x=1", "without query"),
        ("ftp://signin.example.com/federation", "https://"),
    ],
)
def test_unsafe_signin_url(login: Shellvault, sts: StsProxy, url: str, mention: str) -> None:
    result = login.run("login", "private_admin", "--stdout", env={"SHELLVAULT_SIGNIN_URL": url})
    assert_clean_failure(result, "SHELLVAULT_SIGNIN_URL", mention)
    assert sts.requests == []


@pytest.mark.parametrize(
    ("args", "mention"),
    [
        (("--stdout", "--isolate"), "--stdout"),
        (("--stdout", "--browser", "firefox"), "--stdout"),
        (("-d", "48h"), "36h"),
    ],
)
def test_contradictory_or_out_of_range_flags(
    sv: Shellvault, iam_user: IamUser, args: tuple[str, ...], mention: str
) -> None:
    result = sv.run("login", "private", *args)
    assert_clean_failure(result, mention)


# Pieces ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("region", "endpoint"),
    [
        (None, "https://signin.aws.amazon.com/federation"),
        ("eu-west-1", "https://signin.aws.amazon.com/federation"),
        ("cn-north-1", "https://signin.amazonaws.cn/federation"),
        ("cn-northwest-1", "https://signin.amazonaws.cn/federation"),
        ("us-gov-west-1", "https://signin.amazonaws-us-gov.com/federation"),
        ("us-gov-east-1", "https://signin.amazonaws-us-gov.com/federation"),
    ],
)
def test_partition_endpoints(region: str | None, endpoint: str) -> None:
    from shellvault import console

    assert console.federation_endpoint(console.partition_for(region)) == endpoint


def test_signin_url_variable_replaces_every_partition(monkeypatch: pytest.MonkeyPatch) -> None:
    from shellvault import console, settings

    monkeypatch.setenv("SHELLVAULT_SIGNIN_URL", "https://signin.internal.example/federation")
    for region in ("eu-west-1", "cn-north-1", "us-gov-west-1"):
        configured = settings.load().signin_url
        endpoint = console.federation_endpoint(console.partition_for(region), configured)
        assert endpoint == "https://signin.internal.example/federation"


def test_signin_url_setting(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from shellvault import console, settings

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    (tmp_path / "shellvault").mkdir()
    (tmp_path / "shellvault" / "config.toml").write_text(
        'signin_url = "https://signin.private.example/federation"\n'
    )
    configured = settings.load().signin_url
    assert console.federation_endpoint(console.AWS, configured) == (
        "https://signin.private.example/federation"
    )
    monkeypatch.setenv("SHELLVAULT_SIGNIN_URL", "https://signin.env.example/federation")
    assert settings.load().signin_url == "https://signin.env.example/federation"


@pytest.mark.parametrize(
    ("arn", "name"),
    [
        ("arn:aws:iam::123456789012:user/alice", "alice"),
        ("arn:aws:iam::123456789012:user/team/ops/bob", "bob"),
        ("arn:aws:iam::123456789012:user/" + "x" * 40, "x" * 32),
        ("arn:aws:iam::123456789012:user/a", "a_"),
    ],
)
def test_federation_name(arn: str, name: str) -> None:
    from shellvault.vault.federation_token import federation_name

    assert federation_name(arn, "p") == name


@pytest.mark.parametrize(
    "arn", ["arn:aws:iam::123456789012:root", "arn:aws:sts::123456789012:assumed-role/r/s", ""]
)
def test_federation_name_refuses_what_is_not_a_user(arn: str) -> None:
    from shellvault.errors import ShellvaultError
    from shellvault.vault.federation_token import federation_name

    with pytest.raises(ShellvaultError, match="IAM user keys and roles"):
        federation_name(arn, "p")


def test_folder_names_never_collide() -> None:
    from shellvault.browser import safe_folder_name

    names = ["prod", "Prod", "PROD", "a/b", "a_b", "a b", "..", ".", "-x", "é", "x" * 100]
    folders = [safe_folder_name(n) for n in names]
    assert len({f.lower() for f in folders}) == len(names)
    assert safe_folder_name("private_admin") == "private_admin"
    for folder in folders:
        assert re.fullmatch(r"[a-z0-9][a-z0-9._-]*", folder) and len(folder) <= 64


def test_unusable_browser_choices(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from shellvault import browser
    from shellvault.errors import ShellvaultError

    monkeypatch.setenv("PATH", str(tmp_path))
    for choice, mention in [("", "empty"), ("'unclosed", "cannot read"), ("nothere", "unknown")]:
        with pytest.raises(ShellvaultError, match=mention):
            browser.resolve(choice, False, "p")
    with pytest.raises(ShellvaultError, match="none was found"):
        browser.resolve(None, True, "p")
    monkeypatch.delenv("BROWSER", raising=False)
    # No --browser and no --isolate: Python's webbrowser decides, at open time.
    assert browser.resolve(None, False, "p").argv is None


def test_isolation_flags_go_before_the_url_of_a_custom_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from shellvault import browser

    folder = tmp_path / "bin"
    folder.mkdir()
    (folder / "brave-browser").write_text("#!/bin/sh\n")
    (folder / "brave-browser").chmod(0o755)
    monkeypatch.setenv("PATH", str(folder))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    launcher = browser.resolve("brave-browser --app={url} --incognito", True, "Team/Prod")
    profile_dir = launcher.profile_dir
    assert profile_dir is not None
    assert (
        Path(profile_dir).parent == tmp_path / "data" / "shellvault" / "browser" / "brave-browser"
    )
    assert launcher.command_for("http://127.0.0.1:1/x") == [
        "brave-browser",
        f"--user-data-dir={profile_dir}",
        "--no-first-run",
        "--new-window",
        "--app=http://127.0.0.1:1/x",
        "--incognito",
    ]
