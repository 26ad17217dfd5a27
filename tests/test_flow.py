"""The whole flow against moto: add, env, exec, cache behaviour and the STS calls made."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.conftest import Shellvault
from tests.support import KEY_ID, StsProxy, require

MFA = "arn:aws:iam::123456789012:mfa/user01"


def test_role_with_mfa_exports_exactly_the_right_environment(
    mission: Shellvault, sts: StsProxy
) -> None:
    env = mission.env_json("private_admin", "-t", "123456")
    expires = int(env["SHELLVAULT_EXPIRES"] or 0)
    assert 3500 < expires - time.time() <= 3600
    assert env == {
        "AWS_ACCESS_KEY_ID": env["AWS_ACCESS_KEY_ID"],
        "AWS_SECRET_ACCESS_KEY": env["AWS_SECRET_ACCESS_KEY"],
        "AWS_SESSION_TOKEN": env["AWS_SESSION_TOKEN"],
        "AWS_CREDENTIAL_EXPIRATION": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(expires)),
        "AWS_REGION": "ap-northeast-1",
        "AWS_DEFAULT_REGION": "ap-northeast-1",
        "SHELLVAULT_PROFILE": "private_admin",
        "SHELLVAULT_EXPIRES": str(expires),
        "AWS_VAULT": "private_admin",
        "AWS_PROFILE": None,
        "AWS_DEFAULT_PROFILE": None,
        "AWS_SECURITY_TOKEN": None,
        "AWS_SDK_LOAD_CONFIG": None,
        "AWS_CREDENTIAL_FILE": None,
    }
    assert str(env["AWS_ACCESS_KEY_ID"]).startswith("ASIA")
    assert list(env) == list(env)  # order is part of the contract only for readability
    # One MFA session (8h, with the role's serial: the mission puts it only on the role), then
    # AssumeRole from it without a second code.
    session, role = sts.requests
    assert session["Action"] == "GetSessionToken"
    assert session["DurationSeconds"] == "28800"
    assert (session["SerialNumber"], session["TokenCode"]) == (MFA, "123456")
    assert role["Action"] == "AssumeRole"
    assert role["RoleArn"] == "arn:aws:iam::123456789012:role/admins-assume"
    assert role["RoleSessionName"] == "user01"
    assert role["DurationSeconds"] == "3600"
    assert "SerialNumber" not in role and "TokenCode" not in role


def test_assumed_role_identity_through_boto3(mission: Shellvault, sts: StsProxy) -> None:
    env = mission.env_json("private_admin", "-t", "123456")
    import boto3

    client = boto3.client(
        "sts",
        region_name="us-east-1",
        endpoint_url=sts.upstream,
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=env["AWS_SESSION_TOKEN"],
    )
    arn = client.get_caller_identity()["Arn"]
    assert arn == "arn:aws:sts::123456789012:assumed-role/admins-assume/user01"


def test_warm_cache_needs_no_sts(mission: Shellvault, sts: StsProxy) -> None:
    first = mission.env_json("private_admin", "-t", "123456")
    sts.stop()  # anything but a cache hit would now fail
    second = mission.env_json("private_admin")
    assert second == first


def test_second_role_with_same_mfa_device_needs_no_code(mission: Shellvault, sts: StsProxy) -> None:
    mission.write_config(
        mission.config_path.read_text() + "\n[profile private_readonly]\nsource_profile=private\n"
        "role_arn=arn:aws:iam::123456789012:role/readonly\n"
        f"mfa_serial={MFA}\n"
    )
    mission.env_json("private_admin", "-t", "123456")
    # No -t, no terminal, no mfa_process: only the cached MFA session can serve this.
    env = mission.env_json("private_readonly")
    assert env["SHELLVAULT_PROFILE"] == "private_readonly"
    assert sts.actions() == ["GetSessionToken", "AssumeRole", "AssumeRole"]
    assert "TokenCode" not in sts.requests[2]


def test_config_edit_mints_a_new_session_unrelated_edit_does_not(
    mission: Shellvault, sts: StsProxy
) -> None:
    mission.env_json("private_admin", "-t", "123456")
    mission.write_config(mission.config_path.read_text() + "\n[profile unrelated]\nregion=x\n")
    mission.env_json("private_admin")
    assert sts.actions() == ["GetSessionToken", "AssumeRole"]
    edited = mission.config_path.read_text().replace("role/admins-assume", "role/other")
    mission.write_config(edited)
    env = mission.env_json("private_admin")
    assert sts.actions() == ["GetSessionToken", "AssumeRole", "AssumeRole"]
    assert sts.requests[-1]["RoleArn"].endswith("role/other")
    assert env["SHELLVAULT_PROFILE"] == "private_admin"


def test_long_role_duration_skips_the_session(mission: Shellvault, sts: StsProxy) -> None:
    env = mission.env_json("private_admin", "-t", "123456", env={"AWS_ASSUME_ROLE_TTL": "12h"})
    assert env["SHELLVAULT_PROFILE"] == "private_admin"
    (role,) = sts.requests
    assert role["Action"] == "AssumeRole"
    assert role["DurationSeconds"] == "43200"
    assert (role["SerialNumber"], role["TokenCode"]) == (MFA, "123456")


def test_role_chain_is_capped_at_one_hour_and_says_so(mission: Shellvault, sts: StsProxy) -> None:
    mission.write_config(
        mission.config_path.read_text() + "\n[profile deep]\nsource_profile=private_admin\n"
        "role_arn=arn:aws:iam::210987654321:role/deep\nduration_seconds=7200\n"
    )
    result = mission.ok("env", "--format", "json", "-t", "123456", "deep")
    assert "role chaining" in result.stderr and "deep" in result.stderr
    assert sts.actions() == ["GetSessionToken", "AssumeRole", "AssumeRole"]
    assert [r["DurationSeconds"] for r in sts.requests[1:]] == ["3600", "3600"]


def test_no_session_assumes_from_the_long_term_key(mission: Shellvault, sts: StsProxy) -> None:
    mission.env_json("private_admin", "-n", "-t", "123456")
    (role,) = sts.requests
    assert role["Action"] == "AssumeRole" and role["TokenCode"] == "123456"


def test_plain_profile_gets_a_one_hour_session(mission: Shellvault, sts: StsProxy) -> None:
    env = mission.env_json("private")
    (session,) = sts.requests
    assert session["Action"] == "GetSessionToken" and session["DurationSeconds"] == "3600"
    assert "SerialNumber" not in session
    assert "AWS_REGION" not in env


def test_no_session_plain_profile_exports_the_stored_key(
    mission: Shellvault, sts: StsProxy
) -> None:
    env = mission.env_json("private", "-n")
    assert env["AWS_ACCESS_KEY_ID"] == KEY_ID
    assert env["AWS_SESSION_TOKEN"] is None and env["SHELLVAULT_EXPIRES"] is None
    assert sts.requests == []


def test_mfa_process_supplies_the_code(mission: Shellvault, sts: StsProxy) -> None:
    mission.write_config(mission.config_path.read_text() + "mfa_process=echo 654321\n")
    mission.env_json("private_admin")
    assert sts.requests[0]["TokenCode"] == "654321"


def test_concurrent_cold_calls_mint_once(mission: Shellvault, sts: StsProxy) -> None:
    counter = mission.root / "mfa-calls"
    mission.write_config(
        mission.config_path.read_text() + f"mfa_process=echo x >> {counter}; echo 123456\n"
    )

    def call(_: int) -> dict[str, str | None]:
        return mission.env_json("private_admin")

    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(call, range(16)))
    assert len({r["AWS_ACCESS_KEY_ID"] for r in results}) == 1
    assert sts.actions() == ["GetSessionToken", "AssumeRole"]
    assert counter.read_text() == "x\n"


def test_refresh_window_mints_again(mission: Shellvault, sts: StsProxy) -> None:
    mission.env_json("private_admin", "-t", "123456")
    # With one hour as the window, a 1h role is due at once; the 8h MFA session is not.
    mission.env_json("private_admin", env={"AWS_MIN_TTL": "1h"})
    assert sts.actions() == ["GetSessionToken", "AssumeRole", "AssumeRole"]


def test_file_modes_under_a_permissive_umask(mission: Shellvault) -> None:
    old = os.umask(0)
    try:
        mission.env_json("private_admin", "-t", "123456")
    finally:
        os.umask(old)
    for folder in (mission.cache_dir,):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    files = [p for p in mission.cache_dir.rglob("*") if p.is_file()]
    assert files
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    keys = mission.root / "home" / ".local" / "share" / "shellvault" / "keys"
    assert stat.S_IMODE(keys.stat().st_mode) == 0o700


def test_long_term_key_and_mfa_session_never_reach_the_file_cache(mission: Shellvault) -> None:
    from tests.support import SECRET

    env = mission.env_json("private_admin", "-t", "123456")
    blob = b"".join(p.read_bytes() for p in mission.cache_dir.rglob("*") if p.is_file())
    assert SECRET.encode() not in blob and KEY_ID.encode() not in blob
    entries = [json.loads(p.read_text()) for p in mission.cache_dir.glob("*.json")]
    assert [e["kind"] for e in entries] == ["assume-role"]
    assert entries[0]["credentials"]["AccessKeyId"] == env["AWS_ACCESS_KEY_ID"]
    home = mission.root / "home"
    everything = b"".join(p.read_bytes() for p in home.rglob("*") if p.is_file())
    assert SECRET.encode() not in everything


def test_exec_replaces_the_process(mission: Shellvault) -> None:
    script = (
        "import os, sys, json; "
        "print(json.dumps({'pid': os.getpid(), 'env': {k: v for k, v in os.environ.items() "
        "if k.startswith(('AWS_', 'SHELLVAULT_'))}}))"
    )
    command = [
        sys.executable,
        "-m",
        "shellvault",
        "exec",
        "-t",
        "123456",
        "private_admin",
        "--",
        sys.executable,
        "-c",
        script,
    ]
    process = subprocess.Popen(
        command,
        env={**mission.env, "AWS_PROFILE": "stale", "AWS_SDK_LOAD_CONFIG": "1"},
        stdout=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    out, _ = process.communicate(timeout=60)
    answer = json.loads(out)
    assert answer["pid"] == process.pid  # the same process: execve, not a child
    env = answer["env"]
    assert env["AWS_VAULT"] == "private_admin" and env["SHELLVAULT_PROFILE"] == "private_admin"
    assert "AWS_PROFILE" not in env and "AWS_SDK_LOAD_CONFIG" not in env
    assert env["AWS_REGION"] == env["AWS_DEFAULT_REGION"] == "ap-northeast-1"
    assert env["AWS_ACCESS_KEY_ID"].startswith("ASIA")


def test_exec_inside_another_profile_says_what_it_replaces(mission: Shellvault) -> None:
    result = mission.ok(
        "exec",
        "-t",
        "123456",
        "private_admin",
        "--",
        "true",
        env={"SHELLVAULT_PROFILE": "private", "AWS_VAULT": "private"},
    )
    assert "replaces active profile private" in result.stderr


def test_ambient_credentials_are_never_a_source(mission: Shellvault, sts: StsProxy) -> None:
    mission.env_json(
        "private_admin",
        "-t",
        "123456",
        env={
            "AWS_ACCESS_KEY_ID": "AKIAAMBIENTAMBIENT00",
            "AWS_SECRET_ACCESS_KEY": "x" * 40,
            "AWS_PROFILE": "does-not-exist",
        },
    )
    assert sts.actions() == ["GetSessionToken", "AssumeRole"]


def test_add_appends_the_profile_keeping_comments(sv: Shellvault) -> None:
    original = "# keep me\n[profile other]\nregion = eu-west-1 ; inline\n"
    sv.write_config(original)
    sv.add_key("fresh")
    assert sv.config_path.read_text() == original + "\n[profile fresh]\n"
    sv.ok("add", "--no-config", "another", input="AKIAOTHER\nsecret\n")
    assert "another" not in sv.config_path.read_text()


def test_add_from_environment_and_remove_drop_sessions(sv: Shellvault, sts: StsProxy) -> None:
    sv.ok(
        "add",
        "--env",
        "private",
        env={"AWS_ACCESS_KEY_ID": KEY_ID, "AWS_SECRET_ACCESS_KEY": "s" * 40},
    )
    sv.env_json("private")
    assert list(sv.cache_dir.glob("*.json"))
    sv.add_key("private")  # a new key: sessions of the old one must go
    assert not list(sv.cache_dir.glob("*.json"))
    sv.env_json("private")
    sv.ok("remove", "--force", "private")
    assert not list(sv.cache_dir.glob("*.json"))
    listing = json.loads(sv.ok("list", "--json").stdout)
    assert listing == [
        {
            "profile": "private",
            "key_stored": False,
            "source_profile": None,
            "role_arn": None,
            "region": None,
            "sessions": [],
        }
    ]


def test_remove_without_terminal_asks_for_force(mission: Shellvault) -> None:
    result = mission.run("remove", "private")
    assert result.returncode != 0 and "--force" in result.stderr and result.stdout == ""
    assert json.loads(mission.ok("list", "--json").stdout)[0]["key_stored"] is True


def test_list_and_clear(mission: Shellvault, sts: StsProxy) -> None:
    mission.env_json("private_admin", "-t", "123456")
    rows = {r["profile"]: r for r in json.loads(mission.ok("list", "--json").stdout)}
    assert rows["private"]["key_stored"] is True
    assert [s["store"] for s in rows["private"]["sessions"]] == ["keystore"]
    assert [s["kind"] for s in rows["private_admin"]["sessions"]] == ["assume-role"]
    assert 3500 < rows["private_admin"]["sessions"][0]["seconds_left"] <= 3600
    table = mission.ok("list").stdout
    assert "private_admin" in table and "assume-role:59m" in table

    mission.ok("clear", "private_admin")
    rows = {r["profile"]: r for r in json.loads(mission.ok("list", "--json").stdout)}
    assert rows["private"]["sessions"] == [] and rows["private_admin"]["sessions"] == []
    mission.env_json("private_admin", "-t", "234567")
    assert sts.actions() == ["GetSessionToken", "AssumeRole"] * 2


def test_export_behaves_like_aws_vault(mission: Shellvault) -> None:
    mission.env_json("private_admin", "-t", "123456")
    lines = mission.ok("export", "private_admin").stdout.splitlines()
    assert [line.split("=", 1)[0] for line in lines] == [
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_CREDENTIAL_EXPIRATION",
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
    ]
    process = json.loads(mission.ok("env", "--format", "process", "private_admin").stdout)
    assert process["Version"] == 1 and process["Expiration"].endswith("Z")


@pytest.mark.parametrize("shell", ["bash", "zsh", "sh", "fish"])
def test_env_output_evaluates_in_real_shells(mission: Shellvault, shell: str) -> None:
    binary = require(shell)
    expected = mission.env_json("private_admin", "-t", "123456")
    text = mission.ok("env", "--format", shell, "private_admin").stdout
    script = mission.root / f"load.{shell}"
    script.write_text(text)
    program = f"source {script}; env" if shell == "fish" else f'eval "$(cat {script})"; env'
    result = subprocess.run(
        [binary, "-c", program],
        env={**mission.env, "AWS_PROFILE": "stale", "AWS_DEFAULT_PROFILE": "stale"},
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stderr == ""
    seen = dict(line.split("=", 1) for line in result.stdout.splitlines() if "=" in line)
    for name, value in expected.items():
        assert seen.get(name) == value, name


def test_the_aws_cli_uses_exported_credentials(mission: Shellvault, sts: StsProxy) -> None:
    aws = require("/usr/bin/aws")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "shellvault",
            "exec",
            "-t",
            "123456",
            "private_admin",
            "--",
            aws,
            "sts",
            "get-caller-identity",
            "--endpoint-url",
            sts.upstream,
            "--output",
            "json",
        ],
        env=mission.env,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    arn = json.loads(result.stdout)["Arn"]
    assert arn == "arn:aws:sts::123456789012:assumed-role/admins-assume/user01"


def test_credential_process_calling_shellvault_never_recurses(sv: Shellvault) -> None:
    sv.write_config(
        f"[profile loop]\ncredential_process = {sys.executable} -m shellvault env "
        "--format process loop\n"
    )
    started = time.monotonic()
    result = sv.run("env", "--format", "process", "loop", timeout=30)
    assert result.returncode != 0 and result.stdout == ""
    assert "profile loop has no key" in result.stderr
    assert time.monotonic() - started < 10


def test_list_for_launchers(mission: Shellvault) -> None:
    mission.env_json("private_admin", "-t", "123456")
    assert mission.ok("list", "--format", "lines").stdout == "private\nprivate_admin\n"
    items = json.loads(mission.ok("list", "--format", "alfred").stdout)["items"]
    assert [i["arg"] for i in items] == ["private", "private_admin"]
    admin = items[1]
    assert admin["title"] == admin["autocomplete"] == "private_admin"
    assert "admins-assume" in admin["subtitle"] and "left" in admin["subtitle"]


def test_warm_path_imports_neither_boto3_nor_keyring(mission: Shellvault) -> None:
    mission.env_json("private_admin", "-t", "123456")
    result = subprocess.run(
        [
            sys.executable,
            "-X",
            "importtime",
            "-m",
            "shellvault",
            "env",
            "--format",
            "bash",
            "private_admin",
        ],
        env={**mission.env, "SHELLVAULT_BACKEND": "secret-service"},  # any keystore use fails
        capture_output=True,
        text=True,
        start_new_session=True,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, result.stderr[-500:]
    imported = {line.split("|")[-1].strip() for line in result.stderr.splitlines() if "|" in line}
    heavy = {"boto3", "botocore", "keyring", "cryptography", "platformdirs", "shellingham"}
    assert not heavy & imported


def test_expired_entries_are_pruned_on_the_next_mint(mission: Shellvault) -> None:
    mission.env_json("private_admin", "-t", "123456")
    (entry,) = mission.cache_dir.glob("*.json")
    stale = json.loads(entry.read_text())
    stale["credentials"]["Expires"] = int(time.time()) - 60
    old = mission.cache_dir / ("0" * 40 + ".json")
    old.write_text(json.dumps(stale))
    mission.ok("clear", "private_admin")
    old.write_text(json.dumps(stale))
    mission.env_json("private_admin", "-t", "234567")
    assert not old.exists()
    assert len(list(mission.cache_dir.glob("*.json"))) == 1


def test_exec_hands_its_own_refresh_state_to_the_child(mission: Shellvault) -> None:
    script = "import os, json; print(json.dumps(dict(os.environ)))"
    result = mission.ok(
        "exec",
        "-t",
        "123456",
        "--region",
        "eu-west-1",
        "private_admin",
        "--",
        sys.executable,
        "-c",
        script,
        env={
            "SHELLVAULT_DIRENV": "1",
            "SHELLVAULT_SERVER": "1",
            "SHELLVAULT_REFRESH_ARGS": "--region=us-east-1",
            "AWS_CONTAINER_CREDENTIALS_FULL_URI": "http://127.0.0.1:1/",
        },
    )
    env = json.loads(result.stdout)
    assert env["SHELLVAULT_REFRESH_ARGS"] == "--region=eu-west-1"  # never the MFA code
    for name in ("SHELLVAULT_DIRENV", "SHELLVAULT_SERVER", "AWS_CONTAINER_CREDENTIALS_FULL_URI"):
        assert name not in env
