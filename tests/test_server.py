"""`exec --server`: the loopback credential endpoint, the child it serves, and its refusals.

The refusals are unit-tested on the pure `refusal()` (a foreign peer address cannot be produced
without binding something other than loopback, which this endpoint must never do) and over real
HTTP; the whole command runs against moto with boto3 and the Debian AWS CLI in the child.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from email.message import Message
from pathlib import Path
from typing import Any

import pytest

from shellvault import server
from shellvault.credentials import Credentials
from shellvault.errors import MfaError
from tests.conftest import Shellvault
from tests.support import PASSPHRASE, SECRET, StsProxy, require

TOKEN = "t" * 43
PORT = 40000
GOOD_KEYS = Credentials("ASIAEXAMPLE", "secret/value", "token+value", 2_000_000_000)


def headers(*pairs: tuple[str, str]) -> Message:
    message = Message()
    for name, value in pairs:
        message[name] = value  # Message appends: a repeated name stays repeated
    return message


def good(*extra: tuple[str, str]) -> Message:
    return headers(("Host", f"127.0.0.1:{PORT}"), ("Authorization", TOKEN), *extra)


def refused(
    message: Message, *, method: str = "GET", path: str = "/", peer: str = "127.0.0.1"
) -> int | None:
    answer = server.refusal(method, path, message, peer, PORT, TOKEN)
    return None if answer is None else answer.status


# The pure checks ------------------------------------------------------------------------------


def test_a_good_request_passes() -> None:
    assert refused(good()) is None
    assert refused(good(), path="/?refresh=1") is None
    localhost = headers(("Host", f"LocalHost:{PORT}"), ("Authorization", TOKEN))
    assert refused(localhost) is None
    assert refused(good(), peer="::1") is None
    assert refused(good(), peer="127.0.0.2") is None  # all of 127/8 is this machine


@pytest.mark.parametrize(
    "peer", ["192.0.2.10", "10.0.0.1", "::ffff:192.0.2.10", "2001:db8::1", "", "not-an-ip"]
)
def test_foreign_peers_are_refused(peer: str) -> None:
    assert refused(good(), peer=peer) == 403


@pytest.mark.parametrize(
    "message",
    [
        headers(("Authorization", TOKEN)),  # no Host
        headers(("Host", "evil.example"), ("Authorization", TOKEN)),
        headers(("Host", f"evil.example:{PORT}"), ("Authorization", TOKEN)),  # DNS rebinding
        headers(("Host", "127.0.0.1"), ("Authorization", TOKEN)),  # wrong port
        headers(("Host", f"127.0.0.1:{PORT + 1}"), ("Authorization", TOKEN)),
        headers(("Host", f"169.254.170.2:{PORT}"), ("Authorization", TOKEN)),
        headers(("Host", f"127.0.0.1:{PORT}"), ("Host", "evil.example"), ("Authorization", TOKEN)),
        good(("Origin", "https://evil.example")),  # a web page, never an SDK
        headers(("Host", f"127.0.0.1:{PORT}")),  # no token
        headers(("Host", f"127.0.0.1:{PORT}"), ("Authorization", "")),
        headers(("Host", f"127.0.0.1:{PORT}"), ("Authorization", TOKEN[:-1])),
        headers(("Host", f"127.0.0.1:{PORT}"), ("Authorization", TOKEN + "x")),
        headers(("Host", f"127.0.0.1:{PORT}"), ("Authorization", f"Bearer {TOKEN}")),
        headers(("Host", f"127.0.0.1:{PORT}"), ("Authorization", "tökén")),
        good(("Authorization", TOKEN)),  # twice
    ],
    ids=[
        "no-host",
        "foreign-host",
        "rebound-host",
        "host-without-port",
        "other-port",
        "ecs-address",
        "two-hosts",
        "origin",
        "no-token",
        "empty-token",
        "short-token",
        "long-token",
        "bearer",
        "non-ascii",
        "two-tokens",
    ],
)
def test_wrong_host_origin_or_token_is_403(message: Message) -> None:
    assert refused(message) == 403


def test_paths_and_methods_only_after_the_token() -> None:
    assert refused(good(), path="/credentials") == 404
    assert refused(good(), path="//") == 404
    assert refused(good(), method="POST") == 405
    # Without the token nothing else is revealed.
    assert refused(headers(("Host", f"127.0.0.1:{PORT}")), path="/credentials") == 403


def test_sdk_document_has_the_container_fields() -> None:
    assert server.sdk_document(GOOD_KEYS) == {
        "AccessKeyId": "ASIAEXAMPLE",
        "SecretAccessKey": "secret/value",
        "Token": "token+value",
        "Expiration": "2033-05-18T03:33:20Z",
    }


def test_child_environment_changes() -> None:
    endpoint = server.CredentialServer(lambda: GOOD_KEYS, "test")
    try:
        changes = server.server_changes("p", endpoint, "eu-west-1")
        assert changes.sets == {
            "AWS_CONTAINER_CREDENTIALS_FULL_URI": f"http://127.0.0.1:{endpoint.port}/",
            "AWS_CONTAINER_AUTHORIZATION_TOKEN": endpoint.token,
            "AWS_REGION": "eu-west-1",
            "AWS_DEFAULT_REGION": "eu-west-1",
            "SHELLVAULT_PROFILE": "p",
            "SHELLVAULT_SERVER": "1",
            "AWS_VAULT": "p",
        }
        for name in (
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
            "AWS_SESSION_TOKEN",
            "AWS_CREDENTIAL_EXPIRATION",
            "SHELLVAULT_EXPIRES",
            "AWS_PROFILE",
            "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
            "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
        ):
            assert name in changes.unsets
        bare = server.server_changes("p", endpoint, None, set_aws_vault=False)
        assert "AWS_REGION" not in bare.sets and "AWS_VAULT" not in bare.sets
    finally:
        endpoint.stop()


# Over real HTTP -------------------------------------------------------------------------------


def request(
    endpoint: server.CredentialServer,
    path: str = "/",
    *,
    token: str | None = None,
    host: str | None = None,
) -> tuple[int, dict[str, str]]:
    connection = http.client.HTTPConnection("127.0.0.1", endpoint.port, timeout=10)
    try:
        connection.putrequest("GET", path, skip_host=True)
        connection.putheader("Host", host or f"127.0.0.1:{endpoint.port}")
        if token is not None:
            connection.putheader("Authorization", token)
        connection.endheaders()
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


def test_endpoint_over_http(capsys: pytest.CaptureFixture[str]) -> None:
    endpoint = server.CredentialServer(lambda: GOOD_KEYS, "test").start()
    try:
        assert endpoint._httpd.server_address[0] == "127.0.0.1"
        assert len(endpoint.token) >= 43  # 32 random bytes, URL-safe base64
        assert server.CredentialServer(lambda: GOOD_KEYS, "x").token != endpoint.token
        status, body = request(endpoint, token=endpoint.token)
        assert (status, body) == (200, server.sdk_document(GOOD_KEYS))
        localhost = f"localhost:{endpoint.port}"
        assert request(endpoint, token=endpoint.token, host=localhost)[0] == 200
        assert request(endpoint, token="wrong")[0] == 403
        assert request(endpoint)[0] == 403
        assert (
            request(endpoint, token=endpoint.token, host=f"evil.example:{endpoint.port}")[0] == 403
        )
        status, body = request(endpoint, "/latest/meta-data", token=endpoint.token)
        assert status == 404 and body["Code"] == "NotFound"
    finally:
        endpoint.stop()
    assert capsys.readouterr().err == ""  # refusals are not logged over the child's output


def test_failed_fetch_is_500_once_and_the_next_request_retries(
    capsys: pytest.CaptureFixture[str],
) -> None:
    outcomes: list[Credentials | Exception] = [MfaError("profile p needs a code"), GOOD_KEYS]

    def fetch() -> Credentials:
        outcome = outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    endpoint = server.CredentialServer(fetch, "credentials for profile p").start()
    try:
        status, body = request(endpoint, token=endpoint.token)
        assert status == 500
        assert body == {
            "Code": "CredentialsUnavailable",
            "Message": "shellvault: profile p needs a code",
        }
        assert capsys.readouterr().err == (
            "shellvault: credentials for profile p: profile p needs a code\n"
        )
        assert request(endpoint, token=endpoint.token)[0] == 200
    finally:
        endpoint.stop()


def test_concurrent_requests_fetch_one_at_a_time() -> None:
    inside, most, calls = 0, 0, 0
    guard = threading.Lock()

    def fetch() -> Credentials:
        nonlocal inside, most, calls
        with guard:
            inside += 1
            calls += 1
            most = max(most, inside)
        time.sleep(0.05)
        with guard:
            inside -= 1
        return GOOD_KEYS

    endpoint = server.CredentialServer(fetch, "test").start()
    try:
        threads = [
            threading.Thread(target=request, args=(endpoint,), kwargs={"token": endpoint.token})
            for _ in range(8)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(10)
    finally:
        endpoint.stop()
    assert (calls, most) == (8, 1)


def test_run_child_passes_the_exit_status_through() -> None:
    environment = dict(os.environ)
    assert server.run_child(["sh", "-c", "exit 7"], environment) == 7
    assert server.run_child(["sh", "-c", "kill -TERM $$"], environment) == 128 + signal.SIGTERM


# The whole command --------------------------------------------------------------------------


def server_env(mission: Shellvault, **extra: str) -> dict[str, str]:
    return {**mission.env, "AWS_PAGER": "", **extra}


def run_server(
    mission: Shellvault, *args: str, env: dict[str, str] | None = None, timeout: float = 90
) -> subprocess.CompletedProcess[str]:
    return mission.run("exec", "--server", *args, env=env, timeout=timeout)


BOTO3_CHILD = """
import json, sys
import boto3
from botocore.credentials import RefreshableCredentials

# An hour compressed into a test: every use of the credentials is now inside botocore's
# refresh window, so the SDK asks the endpoint again each time, as it would near expiry.
RefreshableCredentials._advisory_refresh_timeout = 3600
RefreshableCredentials._mandatory_refresh_timeout = 3600
session = boto3.Session()
client = session.client("sts", endpoint_url=sys.argv[1])
seen = []
for _ in range(3):
    arn = client.get_caller_identity()["Arn"]
    seen.append(session.get_credentials().get_frozen_credentials().access_key)
print(json.dumps({"arn": arn, "keys": seen, "method": session.get_credentials().method}))
"""


def test_boto3_child_keeps_working_across_refreshes_with_mfa_process(
    mission: Shellvault, sts: StsProxy
) -> None:
    # -n: every mint is an AssumeRole with MFA, so every refresh needs a new code.
    mission.write_config(mission.config_path.read_text() + "mfa_process=echo 654321\n")
    result = run_server(
        mission,
        "-n",
        "-t",
        "123456",
        "private_admin",
        "--",
        sys.executable,
        "-c",
        BOTO3_CHILD,
        sts.upstream,
        env={"AWS_MIN_TTL": "1h"},  # the 1h role is due again on every request
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    seen = json.loads(result.stdout)
    assert seen["arn"] == "arn:aws:sts::123456789012:assumed-role/admins-assume/user01"
    assert seen["method"] == "container-role"
    assert len(set(seen["keys"])) == 3  # a new key each time, and the calls kept working
    assert set(sts.actions()) == {"AssumeRole"}
    codes = [r["TokenCode"] for r in sts.requests]
    # The -t code once, before the child started; later codes only from mfa_process.
    assert codes[0] == "123456" and set(codes[1:]) == {"654321"} and len(codes) >= 4


def test_aws_cli_child_keeps_working_across_refreshes(mission: Shellvault, sts: StsProxy) -> None:
    aws = require("/usr/bin/aws")
    script = (
        "set -e\n"
        "for i in 1 2; do\n"
        f"  {aws} configure export-credentials --format env-no-export | grep AWS_ACCESS_KEY_ID\n"
        f"  {aws} sts get-caller-identity --endpoint-url {sts.upstream} --query Arn --output text\n"
        "done\n"
    )
    result = run_server(
        mission,
        "-t",
        "123456",
        "private_admin",
        "--",
        "sh",
        "-c",
        script,
        env=server_env(mission, AWS_MIN_TTL="1h"),
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 4
    first, second = lines[0], lines[2]
    assert first.startswith("AWS_ACCESS_KEY_ID=ASIA") and second.startswith("AWS_ACCESS_KEY_ID=")
    assert first != second
    arn = "arn:aws:sts::123456789012:assumed-role/admins-assume/user01"
    assert lines[1] == lines[3] == arn
    # One MFA session before the child; every later mint an AssumeRole from it, no code.
    assert sts.actions()[:2] == ["GetSessionToken", "AssumeRole"]
    assert set(sts.actions()[2:]) == {"AssumeRole"} and len(sts.actions()) >= 4
    assert all("TokenCode" not in r for r in sts.requests[1:])


PROBE_CHILD = """
import http.client, json, os, sys, urllib.parse
from concurrent.futures import ThreadPoolExecutor

uri = urllib.parse.urlsplit(os.environ["AWS_CONTAINER_CREDENTIALS_FULL_URI"])
token = os.environ["AWS_CONTAINER_AUTHORIZATION_TOKEN"]

def get(path="/", token=token, host=uri.netloc):
    connection = http.client.HTTPConnection(uri.hostname, uri.port, timeout=30)
    connection.putrequest("GET", path, skip_host=True)
    connection.putheader("Host", host)
    if token is not None:
        connection.putheader("Authorization", token)
    connection.endheaders()
    response = connection.getresponse()
    return response.status, json.loads(response.read())

argv_holders = []
for pid in os.listdir("/proc"):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            if token.encode() in handle.read():
                argv_holders.append(pid)
    except OSError:
        pass

statuses = {
    "good": get()[0],
    "bad-token": get(token="x" * len(token))[0],
    "no-token": get(token=None)[0],
    "foreign-host": get(host="evil.example:%d" % uri.port)[0],
    "bad-path": get("/credentials")[0],
}
status, first = get()
# A refresh after the cache is gone: concurrent requests must mint once.
os.system(sys.executable + " -m shellvault clear private_admin >/dev/null 2>&1")
with ThreadPoolExecutor(8) as pool:
    answers = list(pool.map(lambda _: get(), range(8)))
print(json.dumps({
    "env": dict(os.environ),
    "statuses": statuses,
    "argv_holders": argv_holders,
    "first": first,
    "after": [a[0] for a in answers],
    "keys": sorted({a[1]["AccessKeyId"] for a in answers}),
}))
sys.exit(3)
"""


def test_child_environment_refusals_and_one_mint_per_refresh(
    mission: Shellvault, sts: StsProxy
) -> None:
    mission.write_config(mission.config_path.read_text() + "mfa_process=echo 654321\n")
    inherited = {
        "AWS_ACCESS_KEY_ID": "AKIAINHERITED0000000",
        "AWS_SECRET_ACCESS_KEY": "inherited",
        "AWS_SESSION_TOKEN": "inherited",
        "AWS_CREDENTIAL_EXPIRATION": "2030-01-01T00:00:00Z",
        "SHELLVAULT_EXPIRES": "1893456000",
        "AWS_PROFILE": "elsewhere",
        "AWS_DEFAULT_PROFILE": "elsewhere",
        "AWS_SECURITY_TOKEN": "inherited",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "/v2/credentials/x",
        "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE": "/nonexistent",
        "UNRELATED": "kept",
    }
    parent = {**mission.env, **inherited}
    result = run_server(
        mission, "-t", "123456", "private_admin", "--", sys.executable, "-c", PROBE_CHILD,
        env=inherited,
    )  # fmt: skip
    assert result.returncode == 3, result.stderr  # the child's status, passed through
    assert result.stderr == ""
    report = json.loads(result.stdout)
    child = report["env"]
    uri = child["AWS_CONTAINER_CREDENTIALS_FULL_URI"]
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/", uri)
    token = child["AWS_CONTAINER_AUTHORIZATION_TOKEN"]
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", token)
    expected = {k: v for k, v in parent.items() if k not in inherited or k == "UNRELATED"}
    expected.update(
        AWS_CONTAINER_CREDENTIALS_FULL_URI=uri,
        AWS_CONTAINER_AUTHORIZATION_TOKEN=token,
        AWS_REGION="ap-northeast-1",
        AWS_DEFAULT_REGION="ap-northeast-1",
        SHELLVAULT_PROFILE="private_admin",
        SHELLVAULT_SERVER="1",
        AWS_VAULT="private_admin",
    )
    assert child == expected
    assert report["argv_holders"] == []  # the token is in no process's argv
    assert report["statuses"] == {
        "good": 200,
        "bad-token": 403,
        "no-token": 403,
        "foreign-host": 403,
        "bad-path": 404,
    }
    first = report["first"]
    assert set(first) == {"AccessKeyId", "SecretAccessKey", "Token", "Expiration"}
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", first["Expiration"])
    assert report["after"] == [200] * 8 and len(report["keys"]) == 1
    assert report["keys"] != [first["AccessKeyId"]]
    # Before the child: session and role; after the clear: one session (via mfa_process) and
    # one role for all eight requests.
    assert sts.actions() == ["GetSessionToken", "AssumeRole", "GetSessionToken", "AssumeRole"]
    assert [r.get("TokenCode") for r in sts.requests[::2]] == ["123456", "654321"]


RETRY_CHILD = """
import http.client, json, os, subprocess, sys, urllib.parse

uri = urllib.parse.urlsplit(os.environ["AWS_CONTAINER_CREDENTIALS_FULL_URI"])

def get():
    connection = http.client.HTTPConnection(uri.hostname, uri.port, timeout=30)
    connection.request("GET", "/", headers={
        "Authorization": os.environ["AWS_CONTAINER_AUTHORIZATION_TOKEN"]})
    response = connection.getresponse()
    return response.status, json.loads(response.read())

shellvault = [sys.executable, "-m", "shellvault"]
results = [get()]
subprocess.run([*shellvault, "clear", "private_admin"], capture_output=True, check=True)
results.append(get())  # needs MFA, which the endpoint cannot get: fails
results.append(get())  # tries again (nothing remembered): fails again
# What the error advises: mint in another terminal; the endpoint then serves that.
subprocess.run([*shellvault, "env", "-t", "234567", "private_admin"], capture_output=True,
               check=True)
results.append(get())
print(json.dumps(results))
"""


def test_later_mint_needing_mfa_without_mfa_process_fails_then_retries(
    mission: Shellvault, sts: StsProxy
) -> None:
    result = run_server(
        mission, "-t", "123456", "private_admin", "--", sys.executable, "-c", RETRY_CHILD
    )
    assert result.returncode == 0, result.stderr
    results = json.loads(result.stdout)
    assert [status for status, _ in results] == [200, 500, 500, 200]
    error = results[1][1]
    assert error["Code"] == "CredentialsUnavailable"
    assert "needs a new MFA code" in error["Message"] and "mfa_process" in error["Message"]
    # One line on shellvault's stderr per failed request; no prompt, no traceback.
    lines = result.stderr.splitlines()
    assert len(lines) == 2 and lines[0] == lines[1]
    assert lines[0].startswith("shellvault: credentials for profile private_admin: ")
    assert "needs a new MFA code" in lines[0]
    assert SECRET not in result.stdout + result.stderr
    # The failed requests called no STS at all: the code is needed before the first call.
    assert sts.actions() == ["GetSessionToken", "AssumeRole", "GetSessionToken", "AssumeRole"]


def test_signals_are_forwarded_and_the_status_passed_through(
    mission: Shellvault, tmp_path: Path
) -> None:
    mission.env_json("private_admin", "-t", "123456")
    for signum, code in ((signal.SIGTERM, 42), (signal.SIGINT, 43), (signal.SIGHUP, 44)):
        ready = tmp_path / f"ready-{signum}"
        child = (
            "import pathlib, signal, sys, time\n"
            f"signal.signal({int(signum)}, lambda *_: sys.exit({code}))\n"
            f"pathlib.Path({str(ready)!r}).touch()\n"
            "time.sleep(60)\n"
        )
        process = subprocess.Popen(
            [sys.executable, "-m", "shellvault", "exec", "-s", "private_admin", "--"]
            + [sys.executable, "-c", child],
            env=mission.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,  # no terminal: only shellvault gets the signal
        )
        deadline = time.monotonic() + 30
        while not ready.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        process.send_signal(signum)
        out, err = process.communicate(timeout=30)
        assert (process.returncode, out, err) == (code, "", "")


@pytest.mark.parametrize(
    ("command", "status"),
    [(["sh", "-c", "exit 7"], 7), (["sh", "-c", "kill -KILL $$"], 128 + 9), (["true"], 0)],
    ids=["exit-7", "killed", "ok"],
)
def test_exit_status_is_the_childs(mission: Shellvault, command: list[str], status: int) -> None:
    mission.env_json("private_admin", "-t", "123456")
    result = run_server(mission, "private_admin", "--", *command)
    assert (result.returncode, result.stdout, result.stderr) == (status, "", "")


def test_flags_after_the_profile_and_the_short_alias(mission: Shellvault) -> None:
    result = mission.run(
        "exec", "private_admin", "-s", "-t", "123456", "--", "sh", "-c",
        'echo "$SHELLVAULT_SERVER ${AWS_ACCESS_KEY_ID-none}"',
    )  # fmt: skip
    assert (result.returncode, result.stdout) == (0, "1 none\n"), result.stderr


def assert_one_line_failure(result: subprocess.CompletedProcess[str], *mentions: str) -> None:
    assert result.returncode != 0 and result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("shellvault: "), result.stderr
    for text in mentions:
        assert text in lines[0]


def test_failures_before_the_child_starts(mission: Shellvault, tmp_path: Path) -> None:
    marker = tmp_path / "child-ran"
    child = ["--", "touch", str(marker)]
    # No MFA code at all (no terminal, no -t, no mfa_process): nothing starts.
    assert_one_line_failure(run_server(mission, "private_admin", *child), "MFA code")
    # The long-term key has no expiry, which the SDKs' container format requires.
    assert_one_line_failure(run_server(mission, "-n", "private", *child), "drop -n")
    assert_one_line_failure(run_server(mission, "nosuch", *child), "nosuch")
    assert not marker.exists()
    result = run_server(mission, "-t", "123456", "private_admin", "--", str(tmp_path / "nope"))
    assert_one_line_failure(result, "cannot run")


def test_default_profile_keys_in_files_are_named(mission: Shellvault) -> None:
    credentials = mission.root / "home" / ".aws" / "credentials"
    credentials.write_text("[default]\naws_access_key_id = AKIAOLD\naws_secret_access_key = x\n")
    result = run_server(mission, "-t", "123456", "private_admin", "--", "true")
    assert result.returncode == 0
    assert result.stderr.count("\n") == 1 and str(credentials) in result.stderr


# Prompts on a real terminal --------------------------------------------------------------------


def spawn(mission: Shellvault, *args: str, env: dict[str, str]) -> Any:
    pexpect = pytest.importorskip("pexpect")
    return pexpect.spawn(
        sys.executable,
        ["-m", "shellvault", *args],
        env=env,
        encoding="utf-8",
        timeout=30,
        cwd=str(mission.root),
    )


def test_prompts_come_before_the_child_and_never_after(mission: Shellvault) -> None:
    """MFA at start on the terminal; a later mint needing MFA fails instead of prompting."""
    script = (
        "echo child-started; "
        f"{sys.executable} -m shellvault clear private_admin >/dev/null 2>&1; "
        f"{sys.executable} -c 'import os, urllib.request as u; "
        'r = u.Request(os.environ["AWS_CONTAINER_CREDENTIALS_FULL_URI"], '
        'headers={"Authorization": os.environ["AWS_CONTAINER_AUTHORIZATION_TOKEN"]}); '
        "u.urlopen(r)' >/dev/null 2>&1; "
        "echo child-done $?"
    )
    child = spawn(mission, "exec", "-s", "private_admin", "--", "sh", "-c", script, env=mission.env)
    child.expect(r"shellvault: MFA code for \S+ \(profile \S+\): ")
    assert "child-started" not in child.before
    child.sendline("123456")
    child.expect("child-started")
    child.expect("child-done 1")
    while_running = child.before
    child.expect(pexpect_eof())
    assert "MFA code for" not in while_running + child.before  # the endpoint never prompted
    assert "needs a new MFA code" in while_running
    child.close()
    assert child.exitstatus == 0


def test_file_keystore_passphrase_is_asked_before_the_child(mission: Shellvault) -> None:
    mission.env_json("private_admin", "-t", "123456")  # warm: the start itself needs no keystore
    env = {k: v for k, v in mission.env.items() if k != "SHELLVAULT_FILE_PASSPHRASE"}
    child = spawn(
        mission, "exec", "-s", "private_admin", "--", "sh", "-c", "echo child-started", env=env
    )
    child.expect("passphrase for the file keystore")
    assert "child-started" not in child.before
    child.sendline(PASSPHRASE)
    child.expect("child-started")
    child.expect(pexpect_eof())
    child.close()
    assert child.exitstatus == 0


def test_ctrl_c_reaches_the_child_once(mission: Shellvault) -> None:
    """The terminal sends Ctrl-C to the child itself; forwarding it too would double it."""
    mission.env_json("private_admin", "-t", "123456")
    child_code = (
        "import signal, sys, time\n"
        "got = []\n"
        "signal.signal(signal.SIGINT, lambda *_: got.append(1))\n"
        "print('child-ready', flush=True)\n"
        "while not got: time.sleep(0.01)\n"
        "time.sleep(0.5)\n"
        "sys.exit(10 + len(got))\n"
    )
    child = spawn(
        mission, "exec", "-s", "private_admin", "--", sys.executable, "-c", child_code,
        env=mission.env,
    )  # fmt: skip
    child.expect("child-ready")
    child.sendintr()
    child.expect(pexpect_eof())
    child.close()
    assert child.exitstatus == 11


def pexpect_eof() -> Any:
    import pexpect  # type: ignore[import-untyped]

    return pexpect.EOF
