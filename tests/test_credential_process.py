"""`credential_process = shellvault env --format process P` and `shellvault config process`.

Real consumers: boto3 in a separate process and the Debian AWS CLI v2 (`/usr/bin/aws`, by
absolute path: a pip-installed v1 may shadow it). Cache hits are proven by stopping the STS proxy
before the consumers run.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.conftest import Shellvault
from tests.support import StsProxy, require

ARN = "arn:aws:sts::123456789012:assumed-role/admins-assume/user01"

BOTO3_PROFILE = """
import json, sys
import boto3
session = boto3.Session(profile_name=sys.argv[2] if len(sys.argv) > 2 else None)
identity = session.client("sts", endpoint_url=sys.argv[1]).get_caller_identity()
credentials = session.get_credentials()
print(json.dumps({"arn": identity["Arn"], "method": credentials.method,
                  "key": credentials.get_frozen_credentials().access_key}))
"""


def consumer_env(sv: Shellvault, **extra: str) -> dict[str, str]:
    # AWS_PAGER: the CLI would page through `less` on a terminal.
    return {**sv.env, "AWS_PAGER": "", **extra}


def run(command: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command,
        env=env,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        start_new_session=True,  # no terminal: a prompt would fail, not hang
        timeout=120,
    )


def boto3_identity(
    sv: Shellvault, endpoint: str, profile: str | None = None, **env: str
) -> dict[str, str]:
    args = [sys.executable, "-c", BOTO3_PROFILE, endpoint, *([profile] if profile else [])]
    result = run(args, consumer_env(sv, **env))
    assert result.returncode == 0, result.stderr
    answer: dict[str, str] = json.loads(result.stdout)
    return answer


def aws(sv: Shellvault, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    binary = require("/usr/bin/aws")
    return run([binary, *args], consumer_env(sv, **env))


def exported_key(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stderr
    values = dict(line.split("=", 1) for line in result.stdout.split() if "=" in line)
    return values["AWS_ACCESS_KEY_ID"]


def add_process_profile(sv: Shellvault, name: str = "via_process") -> None:
    sv.write_config(
        sv.config_path.read_text()
        + f"\n[profile {name}]\n"
        + f"credential_process = {sys.executable} -m shellvault env --format process "
        + "private_admin\nregion = us-east-1\n"
    )


# credential_process -----------------------------------------------------------------------------


def test_sdks_use_the_process_and_repeated_calls_hit_the_cache(
    mission: Shellvault, sts: StsProxy
) -> None:
    add_process_profile(mission)
    minted = mission.env_json("private_admin", "-t", "123456")
    sts.stop()  # from here on, anything but a cache hit fails
    moto = sts.upstream

    seen = boto3_identity(mission, moto, "via_process")
    assert seen == {"arn": ARN, "method": "custom-process", "key": minted["AWS_ACCESS_KEY_ID"]}

    identity = aws(
        mission, "sts", "get-caller-identity", "--profile", "via_process", "--endpoint-url", moto
    )
    assert identity.returncode == 0, identity.stderr
    assert json.loads(identity.stdout)["Arn"] == ARN

    # The AWS CLI does not cache process output and may run it twice: several at once, all
    # answered from shellvault's cache.
    def export(_: int) -> str:
        return exported_key(
            aws(
                mission,
                "configure",
                "export-credentials",
                "--profile",
                "via_process",
                "--format",
                "env",
            )  # fmt: skip
        )

    with ThreadPoolExecutor(4) as pool:
        keys = set(pool.map(export, range(4)))
    assert keys == {minted["AWS_ACCESS_KEY_ID"]}
    assert sts.actions() == ["GetSessionToken", "AssumeRole"]


def test_mfa_prompt_reaches_the_terminal_while_the_cli_captures_output(
    mission: Shellvault, sts: StsProxy
) -> None:
    pexpect = pytest.importorskip("pexpect")
    binary = require("/usr/bin/aws")
    add_process_profile(mission)
    child = pexpect.spawn(
        binary,
        [
            "sts",
            "get-caller-identity",
            "--profile",
            "via_process",
            "--endpoint-url",
            sts.upstream,
            "--query",
            "Arn",
            "--output",
            "text",
        ],  # fmt: skip
        env=consumer_env(mission),
        encoding="utf-8",
        timeout=60,
    )
    child.expect(r"shellvault: MFA code for arn:aws:iam::123456789012:mfa/user01 \(profile \S+\): ")
    child.sendline("123456")
    child.expect(ARN)
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    assert sts.requests[0]["TokenCode"] == "123456"


def test_process_failure_reaches_the_sdk_as_one_line(mission: Shellvault) -> None:
    add_process_profile(mission)
    # No cache, no terminal, no mfa_process: the SDK shows shellvault's stderr.
    result = aws(
        mission, "configure", "export-credentials", "--profile", "via_process", "--format", "env"
    )
    assert result.returncode != 0 and result.stdout == ""
    assert "shellvault: profile" in result.stderr and "MFA code" in result.stderr


# config process ---------------------------------------------------------------------------------


def test_config_process_appends_a_working_profile(mission: Shellvault, sts: StsProxy) -> None:
    before = mission.config_path.read_text()
    result = mission.ok("config", "process", "private_admin", "--as", "admin_process")
    assert result.stdout == ""
    assert "admin_process" in result.stderr
    text = mission.config_path.read_text()
    assert text.startswith(before)  # comments and layout kept: appended as text
    section = text[len(before) :]
    header, process_line, region_line = section.strip("\n").splitlines()
    assert header == "[profile admin_process]"
    key, _, command = process_line.partition(" = ")
    assert key == "credential_process"
    words = shlex.split(command)
    assert os.path.isabs(words[0])
    assert words[-4:] == ["env", "--format", "process", "private_admin"]
    assert region_line == "region = ap-northeast-1"

    minted = mission.env_json("private_admin", "-t", "123456")
    sts.stop()
    seen = boto3_identity(mission, sts.upstream, AWS_PROFILE="admin_process")
    assert seen == {"arn": ARN, "method": "custom-process", "key": minted["AWS_ACCESS_KEY_ID"]}
    identity = aws(
        mission, "sts", "get-caller-identity", "--endpoint-url", sts.upstream,
        AWS_PROFILE="admin_process",
    )  # fmt: skip
    assert identity.returncode == 0, identity.stderr
    assert json.loads(identity.stdout)["Arn"] == ARN


def test_config_process_quotes_a_launcher_path_with_spaces(
    mission: Shellvault, sts: StsProxy
) -> None:
    # A console script like pip writes, installed in a folder whose name has spaces.
    folder = mission.root / "my tools"
    folder.mkdir()
    launcher = folder / "shellvault"
    launcher.write_text(
        f"#!{sys.executable}\nimport sys\nfrom shellvault.cli import main\nsys.exit(main())\n"
    )
    launcher.chmod(0o755)
    result = run(
        [str(launcher), "config", "process", "private_admin", "--as", "spaced"],
        consumer_env(mission),
    )
    assert result.returncode == 0, result.stderr
    line = mission.config_path.read_text().splitlines()[-2]
    assert line == (f"credential_process = '{launcher}' env --format process private_admin")
    minted = mission.env_json("private_admin", "-t", "123456")
    sts.stop()
    seen = boto3_identity(mission, sts.upstream, "spaced")
    assert seen["key"] == minted["AWS_ACCESS_KEY_ID"]
    assert (
        exported_key(
            aws(
                mission, "configure", "export-credentials", "--profile", "spaced", "--format", "env"
            )
        )
        == minted["AWS_ACCESS_KEY_ID"]
    )


def test_config_process_without_a_region(mission: Shellvault) -> None:
    mission.ok("config", "process", "private", "--as", "plain_process")
    tail = mission.config_path.read_text().splitlines()[-2:]
    assert tail[0] == "[profile plain_process]"
    assert tail[1].startswith("credential_process = ")
    assert tail[1].endswith(" env --format process private")


@pytest.mark.parametrize(
    ("args", "mentions"),
    [
        (("private", "--as", "private_admin"), ("private_admin", "role_arn", "botocore")),
        (("private_admin", "--as", "private"), ("private", "already exists")),
        (("private_admin", "--as", "private_admin"), ("--as private_admin", "another name")),
        (("nosuch", "--as", "fresh"), ("nosuch",)),
        (("nokey", "--as", "fresh"), ("nokey", "shellvault add nokey")),
        (("private_admin", "--as", "in_credentials"), ("in_credentials", "credentials")),
        (("private_admin", "--as", "bad]name"), ("bad]name",)),
        (("private_admin",), ("--as",)),
    ],
    ids=[
        "onto-role",
        "existing",
        "itself",
        "unknown",
        "no-key",
        "in-credentials-file",
        "bad-name",
        "no-as",
    ],
)
def test_config_process_refusals(
    mission: Shellvault, args: tuple[str, ...], mentions: tuple[str, ...]
) -> None:
    credentials = Path(mission.env["HOME"]) / ".aws" / "credentials"
    credentials.write_text("[in_credentials]\naws_access_key_id = AKIAOTHER\n")
    mission.write_config(mission.config_path.read_text() + "\n[profile nokey]\n")
    before = mission.config_path.read_text()
    result = mission.run("config", "process", *args)
    assert result.returncode != 0 and result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("shellvault: "), result.stderr
    for text in mentions:
        assert text in lines[0], lines[0]
    assert mission.config_path.read_text() == before
