"""Every way shellvault can fail, held to the project's standard for failures.

A failure exits non-zero with exactly one `shellvault: …` line on stderr that names the profile,
file or flag and what to do; nothing on stdout (so `eval "$(shellvault env P)"` never half-applies);
no traceback; no secret anywhere. And it damages nothing: tests that could damage state start from
a minted session (`primed`), then prove after the failure that every byte of the keystore, its
index, the session cache and the config is unchanged, that the session still exports while STS
refuses everything (and is not even asked), and that the stored key still opens.

Minting once per test would blow the time budget, so one home is primed per module and copied
(nothing in it names its own path); the STS proxy is shared with it because its URL is part of
every cache key.

Unreadable config uses a folder where the file should be: the tests run as root, for whom mode
bits mean nothing, and an unprivileged user (setpriv) cannot even reach this Python under /root.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import Shellvault
from tests.support import (
    KEY_ID,
    MISSION_CONFIG,
    SECRET,
    StsProxy,
    clean_environment,
    free_port,
    require,
)

# One primed home is copied into every test: see the `sts` fixture in conftest.py.
SHARED_STS = True

OTHER_MFA = "arn:aws:iam::123456789012:mfa/other"
# Roles beside the mission's: one reusing its MFA session, one needing another MFA device.
MORE_ROLES = f"""
[profile private_readonly]
source_profile=private
role_arn=arn:aws:iam::123456789012:role/readonly
mfa_serial=arn:aws:iam::123456789012:mfa/user01

[profile private_other]
source_profile=private
role_arn=arn:aws:iam::123456789012:role/other
mfa_serial={OTHER_MFA}
"""
ROLE = "arn:aws:iam::123456789012:role/x"


def assert_clean_failure(result: subprocess.CompletedProcess[str], *must_mention: str) -> str:
    """The standard for every failure; returns the one stderr line."""
    assert SECRET not in result.stdout + result.stderr, "the secret key leaked into the output"
    assert result.returncode != 0, f"expected a failure, got exit 0; stderr: {result.stderr}"
    assert result.stdout == "", f"stdout must stay empty on failure, got {result.stdout!r}"
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, f"expected one stderr line, got {len(lines)}:\n{result.stderr}"
    line = lines[0]
    assert line.startswith("shellvault: "), line
    for text in must_mention:
        assert text in line, f"{text!r} is missing from: {line}"
    return line


def without(sv: Shellvault, *names: str) -> Shellvault:
    """The same home with `names` removed from the environment (`run(env=…)` can only add)."""
    return dataclasses.replace(sv, env={k: v for k, v in sv.env.items() if k not in names})


def stored_state(sv: Shellvault) -> dict[str, bytes]:
    """Every byte of the keystore, its index and the session cache (empty lock files aside)."""
    data = Path(sv.env["XDG_DATA_HOME"]) / "shellvault"
    files = [p for p in data.rglob("*") if p.is_file() and p.suffix != ".lock"]
    files += sv.cache_dir.glob("*.json")
    return {str(p): p.read_bytes() for p in sorted(files)}


def keystore_entry(sv: Shellvault, service: str, username: str) -> Path:
    """The file keystore's entry file for one keyring entry (named by its SHA-256)."""
    digest = hashlib.sha256(f"{service}\0{username}".encode()).hexdigest()
    path = Path(sv.env["XDG_DATA_HOME"]) / "shellvault" / "keys" / f"{digest}.json"
    assert path.is_file(), path
    return path


@dataclasses.dataclass
class Primed:
    """The mission's setup with a minted `private_admin` session, to prove failures harmless."""

    sv: Shellvault
    sts: StsProxy
    env: dict[str, str | None]
    state: dict[str, bytes]
    config: str = MISSION_CONFIG + MORE_ROLES

    def run(self, *args: str, **kwargs: object) -> subprocess.CompletedProcess[str]:
        return self.sv.run(*args, **kwargs)  # type: ignore[arg-type]

    def set_config(self, text: str) -> None:
        """A deliberate config edit: the harm check expects this text afterwards."""
        self.config = text
        self.sv.write_config(text)

    def restore_config(self) -> None:
        """Undo a test's breaking of the config, before the harm check."""
        if self.sv.config_path.is_dir():
            self.sv.config_path.rmdir()
        self.sv.write_config(self.config)

    def assert_untouched(self) -> None:
        assert stored_state(self.sv) == self.state, "the failure changed stored state"
        assert self.sv.config_path.read_text() == self.config, "the failure changed the config"
        # From here on any STS call fails, and would be recorded: only the cache and the keystore
        # can answer. (The proxy is shared by the module's tests, so it is not stopped.)
        self.sts.mode = "refuse"
        calls = len(self.sts.requests)
        assert self.sv.env_json("private_admin") == self.env
        assert self.sv.env_json("private", "-n")["AWS_ACCESS_KEY_ID"] == KEY_ID
        rows = {r["profile"]: r for r in json.loads(self.sv.ok("list", "--json").stdout)}
        assert rows["private"]["key_stored"] is True
        assert [s["kind"] for s in rows["private_admin"]["sessions"]] == ["assume-role"]
        assert len(self.sts.requests) == calls


@pytest.fixture(scope="module")
def template(
    tmp_path_factory: pytest.TempPathFactory, shared_sts: StsProxy
) -> tuple[Shellvault, dict[str, str | None]]:
    """The mission's setup, a key stored and `private_admin` minted once: each test copies it."""
    root = tmp_path_factory.mktemp("primed")
    sv = Shellvault(clean_environment(root, shared_sts.url), root)
    sv.write_config(MISSION_CONFIG + MORE_ROLES)
    sv.add_key("private")
    env = sv.env_json("private_admin", "-t", "123456")
    assert shared_sts.actions()[-2:] == ["GetSessionToken", "AssumeRole"]
    return sv, env


@pytest.fixture
def primed(
    template: tuple[Shellvault, dict[str, str | None]], sts: StsProxy, tmp_path: Path
) -> Primed:
    source, env = template
    shutil.copytree(source.root, tmp_path, symlinks=True, dirs_exist_ok=True)
    sv = Shellvault(clean_environment(tmp_path, sts.url), tmp_path)
    return Primed(sv, sts, env, stored_state(sv))


# Profiles and the config ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "mention"),
    [
        (("env", "nosuch"), "shellvault add nosuch"),
        (("exec", "nosuch", "--", "true"), "shellvault add nosuch"),
        (("export", "nosuch"), "shellvault add nosuch"),
        (("clear", "nosuch"), "shellvault add nosuch"),
        (("remove", "--force", "nosuch"), "no key"),
    ],
    ids=["env", "exec", "export", "clear", "remove"],
)
def test_unknown_profile(primed: Primed, args: tuple[str, ...], mention: str) -> None:
    assert_clean_failure(primed.run(*args), "profile nosuch", mention)
    primed.assert_untouched()


def test_unknown_profile_with_a_line_break_in_its_name(primed: Primed) -> None:
    assert_clean_failure(primed.run("env", "no\nsuch"), "profile no such")
    primed.assert_untouched()


def test_config_that_is_a_folder(primed: Primed) -> None:
    config = primed.sv.config_path
    config.unlink()
    config.mkdir()
    assert_clean_failure(primed.run("env", "private_admin"), str(config), "AWS_CONFIG_FILE")
    primed.restore_config()
    primed.assert_untouched()


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("region = eu-west-1\n[profile private]\n", "line 1"),
        ("[profile private\nregion = eu-west-1\n", "line 1"),
        ("[profile private]\n[profile x\n", "line 2"),
        (f"[profile private]\n\naws_secret_access_key {SECRET}\n", "line 3"),
    ],
    ids=["no-section-header", "unclosed-first-header", "unclosed-header", "no-equals-sign"],
)
def test_malformed_config_names_the_line(primed: Primed, text: str, line: str) -> None:
    primed.sv.write_config(text)
    for args in (("env", "private_admin"), ("list",), ("add", "fresh")):
        result = primed.run(*args, input=f"{KEY_ID}\n{SECRET}\n")
        assert_clean_failure(result, str(primed.sv.config_path), line)  # no SECRET: checked
    primed.restore_config()
    primed.assert_untouched()


def test_config_that_is_not_text(primed: Primed) -> None:
    primed.sv.config_path.write_bytes(b"[profile private]\nregion = \xff\xfe\n")
    assert_clean_failure(primed.run("env", "private_admin"), str(primed.sv.config_path), "UTF-8")
    primed.restore_config()
    primed.assert_untouched()


@pytest.mark.parametrize(
    ("content", "mention"),
    [
        (None, "make it a readable file"),
        ("backend = file\n", "not valid TOML"),
        ('colour = "blue"\n', "unknown keys colour"),
    ],
    ids=["folder", "not-toml", "unknown-key"],
)
def test_unusable_settings_file(primed: Primed, content: str | None, mention: str) -> None:
    settings = Path(primed.sv.env["XDG_CONFIG_HOME"]) / "shellvault" / "config.toml"
    if content is None:
        settings.mkdir(parents=True)
    else:
        settings.parent.mkdir(parents=True)
        settings.write_text(content)
    assert_clean_failure(primed.run("env", "private_admin"), str(settings), mention)
    if content is None:
        settings.rmdir()
    else:
        settings.unlink()
    primed.assert_untouched()


@pytest.mark.parametrize(
    ("section", "target", "mentions"),
    [
        (
            "[profile loop_a]\nsource_profile=loop_b\nrole_arn={role}\n"
            "[profile loop_b]\nsource_profile=loop_a\nrole_arn={role}\n",
            "loop_a",
            ("loop_a -> loop_b -> loop_a", "source_profile"),
        ),
        (
            "[profile orphan]\nsource_profile=ghost\nrole_arn={role}\n",
            "orphan",
            ("profile orphan", "ghost", "shellvault add ghost"),
        ),
        (
            "[profile rootless]\nrole_arn={role}\n",
            "rootless",
            ("profile rootless", "set source_profile"),
        ),
        ("[profile lonely]\n", "lonely", ("profile lonely", "shellvault add lonely")),
    ],
    ids=["source-loop", "missing-source", "role-without-source", "no-key-no-source"],
)
def test_unusable_chain(
    primed: Primed, section: str, target: str, mentions: tuple[str, ...]
) -> None:
    primed.set_config(primed.config + "\n" + section.format(role=ROLE))
    assert_clean_failure(primed.run("env", target), *mentions)
    assert primed.sts.requests == []  # refused before any STS call
    primed.assert_untouched()


# MFA -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("flags", "mfa_process", "mentions"),
    [
        ((), None, ("profile private", OTHER_MFA, "-t CODE", "mfa_process")),
        (("-t", "12"), None, ("profile private", "-t", "6 digits", OTHER_MFA)),
        ((), "echo 123456; exit 3", ("mfa_process 'echo 123456; exit 3'", "status 3")),
        ((), "echo not-a-code", ("profile private", "mfa_process", "6 digits", OTHER_MFA)),
    ],
    ids=["no-way-to-ask", "short-code", "mfa-process-fails", "mfa-process-garbage"],
)
def test_mfa_code_unavailable(
    primed: Primed, flags: tuple[str, ...], mfa_process: str | None, mentions: tuple[str, ...]
) -> None:
    # private_other needs a code from another MFA device than the cached session carries.
    if mfa_process is not None:
        primed.set_config(primed.config + f"mfa_process={mfa_process}\n")
    assert_clean_failure(primed.run("env", *flags, "private_other"), *mentions)
    assert primed.sts.requests == []
    primed.assert_untouched()


# STS -------------------------------------------------------------------------------------------


def test_sts_unreachable(primed: Primed) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    result = primed.run("env", "private", env={"AWS_ENDPOINT_URL_STS": url})
    assert_clean_failure(result, "profile private", url, "unreachable", "AWS_ENDPOINT_URL_STS")
    primed.assert_untouched()


def test_sts_hung_fails_within_30_seconds(primed: Primed) -> None:
    primed.sts.mode = "hang"
    started = time.monotonic()
    result = primed.run("env", "private", timeout=45)
    elapsed = time.monotonic() - started
    assert_clean_failure(result, "profile private", "timed out", primed.sts.url)
    assert elapsed < 30, f"a hung STS held shellvault for {elapsed:.0f}s"
    primed.assert_untouched()


@pytest.mark.parametrize(
    ("mode", "profile", "mentions"),
    [
        ("refuse", "private", ("GetSessionToken", "profile private", "AccessDenied")),
        ("refuse", "private_readonly", ("AssumeRole", "profile private_readonly", "AccessDenied")),
        # Signed with the long-term key, a rejected token means the stored key is bad...
        ("expired", "private", ("profile private", "ExpiredToken", "shellvault add private")),
        # ...signed with the cached MFA session, that session is: clearing it is the fix.
        (
            "expired",
            "private_readonly",
            ("profile private_readonly", "ExpiredToken", "shellvault clear private_readonly"),
        ),
    ],
    ids=["refuse-session", "refuse-role", "expired-key", "expired-session"],
)
def test_sts_refuses(primed: Primed, mode: str, profile: str, mentions: tuple[str, ...]) -> None:
    primed.sts.mode = mode
    assert_clean_failure(primed.run("env", profile), *mentions)
    primed.assert_untouched()


def test_expired_token_for_a_role_from_the_stored_key_names_the_key_owner(primed: Primed) -> None:
    primed.sts.mode = "expired"
    result = primed.run("env", "-n", "-t", "123456", "private_readonly")
    assert_clean_failure(result, "profile private_readonly", "shellvault add private`")
    primed.assert_untouched()


# The keystore ----------------------------------------------------------------------------------


def test_secret_service_without_a_session_bus(primed: Primed) -> None:
    sv = without(primed.sv, "DBUS_SESSION_BUS_ADDRESS")
    env = {
        "SHELLVAULT_BACKEND": "secret-service",
        "DBUS_SESSION_BUS_ADDRESS": f"unix:path={primed.sv.root}/no-such-bus",
    }
    result = sv.run("env", "private", env=env, timeout=30)
    assert_clean_failure(result, "secret-service", "profile private", "SHELLVAULT_BACKEND=file")
    primed.assert_untouched()


@pytest.mark.parametrize("profile", ["private", "private_admin"], ids=["cold", "warm"])
def test_unknown_backend(primed: Primed, profile: str) -> None:
    # Even where the cache could answer: a mistyped name must not work until the cache runs out.
    result = primed.run("env", profile, env={"SHELLVAULT_BACKEND": "nope"})
    assert_clean_failure(result, "'nope'", "SHELLVAULT_BACKEND", "file")
    primed.assert_untouched()


@pytest.mark.parametrize("passphrase", [None, ""], ids=["unset", "empty"])
def test_file_keystore_without_passphrase_is_locked(primed: Primed, passphrase: str | None) -> None:
    sv = without(primed.sv, "SHELLVAULT_FILE_PASSPHRASE")
    env = {} if passphrase is None else {"SHELLVAULT_FILE_PASSPHRASE": passphrase}
    result = sv.run("env", "private", env=env)
    assert_clean_failure(result, "locked", "profile private", "SHELLVAULT_FILE_PASSPHRASE")
    primed.assert_untouched()


def test_wrong_file_passphrase(primed: Primed) -> None:
    result = primed.run("env", "private", env={"SHELLVAULT_FILE_PASSPHRASE": "wrong horse"})
    line = assert_clean_failure(result, "wrong passphrase", "profile private")
    assert "wrong horse" not in line
    primed.assert_untouched()


@pytest.mark.parametrize(
    ("service", "profile", "what"),
    [
        ("shellvault", "private", "the key of profile private"),
        ("shellvault-session", "private_readonly", "the MFA session of profile private"),
    ],
    ids=["key-entry", "mfa-session-entry"],
)
def test_tampered_keystore_entry(primed: Primed, service: str, profile: str, what: str) -> None:
    username = "private"
    if service == "shellvault-session":  # the one MFA session the primed mint stored
        index = Path(primed.sv.env["XDG_DATA_HOME"]) / "shellvault" / "index-file.json"
        (username,) = json.loads(index.read_text())["sessions"]
    entry = keystore_entry(primed.sv, service, username)
    original = entry.read_bytes()
    document = json.loads(original)
    sealed = document["ciphertext"]
    document["ciphertext"] = sealed[:10] + ("A" if sealed[10] != "A" else "B") + sealed[11:]
    entry.write_text(json.dumps(document))
    tampered = entry.read_bytes()

    result = primed.run("env", profile)
    assert_clean_failure(result, "altered or is corrupt", what, entry.name, "store the key again")
    assert entry.read_bytes() == tampered, "the damaged entry must be left for the user to see"
    entry.write_bytes(original)
    primed.assert_untouched()


# The session cache -----------------------------------------------------------------------------


@pytest.mark.parametrize("shape", ["below-a-file", "is-a-file"])
def test_cache_folder_that_cannot_be_created(primed: Primed, shape: str) -> None:
    plain = primed.sv.root / "plain-file"
    plain.write_text("not a folder\n")
    folder = plain / "sessions" if shape == "below-a-file" else plain
    result = primed.run("env", "private", env={"SHELLVAULT_CACHE_DIR": str(folder)})
    assert_clean_failure(result, str(folder), "SHELLVAULT_CACHE_DIR")
    assert primed.sts.requests == []  # failed before minting
    primed.assert_untouched()


@pytest.mark.parametrize(
    "garbage",
    [b"", b"\x00\xffgarbage", b"[1, 2, 3]", b'{"v": 1, "profile": "private_admin"}', b"{"],
    ids=["empty", "binary", "foreign-json", "incomplete-entry", "truncated"],
)
def test_corrupt_cache_entry_is_replaced(primed: Primed, garbage: bytes) -> None:
    (entry,) = primed.sv.cache_dir.glob("*.json")
    entry.write_bytes(garbage)
    result = primed.sv.ok("env", "--format", "json", "private_admin")
    assert result.stderr == ""
    env = json.loads(result.stdout)
    assert env["AWS_ACCESS_KEY_ID"] != primed.env["AWS_ACCESS_KEY_ID"]
    # A new role session from the MFA session in the keystore: no code needed.
    assert primed.sts.actions() == ["AssumeRole"]
    assert json.loads(entry.read_text())["credentials"]["AccessKeyId"] == env["AWS_ACCESS_KEY_ID"]


def test_refresh_failure_inside_the_window_keeps_the_old_credentials(primed: Primed) -> None:
    primed.sts.mode = "refuse"
    # With one hour as the window, the 1h role session is due for refresh at once.
    result = primed.sv.ok("env", "--format", "json", "private_admin", env={"AWS_MIN_TTL": "1h"})
    assert json.loads(result.stdout) == primed.env
    assert SECRET not in result.stderr
    (warning,) = result.stderr.splitlines()
    assert warning.startswith("shellvault: could not refresh profile private_admin"), warning
    assert "AccessDenied" in warning and "using cached credentials" in warning
    assert primed.sts.actions() == ["AssumeRole"]  # the refresh really was attempted
    primed.assert_untouched()


def test_refresh_failure_near_expiry_is_fatal(primed: Primed) -> None:
    (entry,) = primed.sv.cache_dir.glob("*.json")
    document = json.loads(entry.read_text())
    document["credentials"]["Expires"] = int(time.time()) + 30  # inside the last minute
    entry.write_text(json.dumps(document))
    state = stored_state(primed.sv)
    primed.sts.mode = "refuse"
    assert_clean_failure(
        primed.run("env", "private_admin"), "profile private_admin", "AccessDenied"
    )
    assert stored_state(primed.sv) == state


# Flags and variables ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("flags", "env", "mentions"),
    [
        (("--duration", "5m"), {}, ("--duration", "15m")),
        (("--duration", "nonsense"), {}, ("--duration", "'nonsense'", "1h")),
        ((), {"AWS_ASSUME_ROLE_TTL": "forever"}, ("AWS_ASSUME_ROLE_TTL", "'forever'")),
        ((), {"AWS_MIN_TTL": "1 hour"}, ("AWS_MIN_TTL", "'1 hour'")),
    ],
    ids=["duration-too-short", "duration-nonsense", "assume-role-ttl", "min-ttl"],
)
def test_bad_duration(
    primed: Primed, flags: tuple[str, ...], env: dict[str, str], mentions: tuple[str, ...]
) -> None:
    result = primed.run("env", *flags, "-t", "123456", "private_other", env=env)
    assert_clean_failure(result, *mentions)
    assert primed.sts.requests == []
    primed.assert_untouched()


def test_region_botocore_cannot_use(primed: Primed) -> None:
    # The MFA session is cached: only the AssumeRole in that region is attempted.
    result = primed.run("env", "--region", "a,b", "private_admin")
    assert_clean_failure(result, "private_admin", "'a,b'", "region")
    primed.assert_untouched()


@pytest.mark.parametrize(
    ("args", "mention"),
    [
        (("env", "--format", "nope", "private_admin"), "shellvault env --help"),
        (("env", "--duration"), "shellvault env --help"),
        (("frobnicate",), "shellvault --help"),
        ((), "shellvault --help"),
        (("exec", "private_admin", "--region", "--", "true"), "shellvault exec --help"),
    ],
    ids=["bad-choice", "missing-value", "unknown-command", "no-command", "exec-late-flag"],
)
def test_usage_errors(primed: Primed, args: tuple[str, ...], mention: str) -> None:
    assert_clean_failure(primed.run(*args), mention)
    primed.assert_untouched()


def test_exec_of_a_missing_command(primed: Primed) -> None:
    result = primed.run("exec", "private_admin", "--", "/nonexistent/tool")
    assert_clean_failure(result, "/nonexistent/tool")
    primed.assert_untouched()


# add -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("flags", "text", "fix"),
    [
        ((), "", "two lines"),
        ((), f"{KEY_ID}\n", "two lines"),
        ((), f"\n{SECRET}\n", "two lines"),
        (("--env",), "", "AWS_SECRET_ACCESS_KEY"),
    ],
    ids=["empty", "no-secret", "no-key-id", "env-without-variables"],
)
def test_add_without_a_key_keeps_the_stored_one(
    primed: Primed, flags: tuple[str, ...], text: str, fix: str
) -> None:
    result = primed.run("add", *flags, "private", input=text)
    assert_clean_failure(result, "profile private", fix)
    primed.assert_untouched()


def test_add_with_spaces_in_the_secret(primed: Primed) -> None:
    result = primed.run("add", "private", input=f"{KEY_ID}\nwJalr XUtnFEMI\n")
    assert_clean_failure(result, "profile private", "spaces", "copy them again")
    primed.assert_untouched()


def test_add_to_a_profile_with_source_profile(primed: Primed) -> None:
    result = primed.run("add", "private_admin", input=f"{KEY_ID}\n{SECRET}\n")
    assert_clean_failure(
        result, "profile private_admin", "source_profile", "shellvault add private`"
    )
    primed.assert_untouched()


# env without a profile -------------------------------------------------------------------------


def test_env_unset_needs_no_profile_config_or_keystore(sv: Shellvault) -> None:
    bash = require("bash")
    sv.config_path.mkdir()  # nothing it could read would work
    result = without(sv, "SHELLVAULT_FILE_PASSPHRASE").ok(
        "env", "--unset", "--format", "bash", env={"SHELLVAULT_BACKEND": "nope"}
    )
    assert result.stderr == ""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SESSION_TOKEN", "SHELLVAULT_PROFILE", "AWS_VAULT"):
        assert f"unset -v {name}\n" in result.stdout
    script = (
        "export AWS_ACCESS_KEY_ID=AKIAX AWS_SESSION_TOKEN=t SHELLVAULT_PROFILE=p AWS_VAULT=p\n"
        'eval "$1"\n'
        'echo "${AWS_ACCESS_KEY_ID-gone} ${AWS_SESSION_TOKEN-gone} '
        '${SHELLVAULT_PROFILE-gone} ${AWS_VAULT-gone}"\n'
    )
    after = subprocess.run(
        [bash, "-c", script, "bash", result.stdout], capture_output=True, text=True, check=True
    )
    assert after.stdout == "gone gone gone gone\n"


@pytest.mark.parametrize(
    ("args", "mentions"),
    [
        (("env", "--format", "bash"), ("PROFILE", "--unset")),
        (("env", "--unset", "--format", "process"), ("--unset", "process")),
    ],
    ids=["no-profile", "unset-as-process"],
)
def test_env_misuse(sv: Shellvault, args: tuple[str, ...], mentions: tuple[str, ...]) -> None:
    assert_clean_failure(sv.run(*args), *mentions)


# Secrets ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("failure", ["refuse", "expired", "wrong-passphrase", "tampered"])
def test_debug_output_of_a_failure_holds_no_secret(primed: Primed, failure: str) -> None:
    env: dict[str, str] = {}
    if failure in ("refuse", "expired"):
        primed.sts.mode = failure
    elif failure == "wrong-passphrase":
        env["SHELLVAULT_FILE_PASSPHRASE"] = "wrong horse"
    else:
        entry = keystore_entry(primed.sv, "shellvault", "private")
        entry.write_bytes(entry.read_bytes().replace(b'"ciphertext": "', b'"ciphertext": "AAAA'))
    result = primed.run("--debug", "env", "private", env=env)
    assert result.returncode != 0 and result.stdout == ""
    assert "Traceback" not in result.stderr
    for secret in (SECRET, KEY_ID, "wrong horse", str(primed.env["AWS_SECRET_ACCESS_KEY"])):
        assert secret not in result.stderr, f"{secret} leaked into --debug output"
    assert result.stderr.splitlines()[-1].startswith("shellvault: ")


def test_add_refuses_temporary_credentials(primed: Primed) -> None:
    result = primed.run(
        "add",
        "--env",
        "fresh",
        env={
            "AWS_ACCESS_KEY_ID": "ASIAEXAMPLEEXAMPLE00",
            "AWS_SECRET_ACCESS_KEY": "s" * 40,
            "AWS_SESSION_TOKEN": "token",
        },
    )
    assert_clean_failure(result, "fresh", "temporary", "AKIA")
    primed.assert_untouched()
