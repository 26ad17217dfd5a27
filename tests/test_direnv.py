"""`use aws_profile` under the real direnv 2.32: what it exports, its fast path, refreshes made
elsewhere, failures inside an .envrc, hostile values, and `shellvault direnv install`.

Every test installs the library with `shellvault direnv install` into a throwaway home and runs
`direnv export json` in a project folder, with this checkout's console script first on PATH. The
fast path is proven by taking Python away: a `shellvault` on PATH that only records that it ran
and exits 99, with the STS proxy stopped. Interactive behaviour (cd in bash, zsh and fish, MFA
typed at a terminal) is in test_direnv_terminal.py.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from shellvault import resources
from shellvault.direnv import Request
from tests.conftest import Shellvault
from tests.support import (
    MISSION_CONFIG,
    SECRET,
    StsProxy,
    clean_environment,
    require,
)

# One primed home is copied into every test: see the `sts` fixture in conftest.py.
SHARED_STS = True

LIBRARY = Path(__file__).resolve().parent.parent / "direnvrc" / "shellvault.sh"
CONSOLE_SCRIPT = Path(sys.executable).with_name("shellvault")
USAGE_ERROR = "usage: use aws_profile PROFILE"

Env = dict[str, str | None]


@dataclass
class Direnv:
    """A throwaway home with the library installed and one allowed project folder."""

    sv: Shellvault = field(repr=False)
    env: dict[str, str] = field(repr=False)
    project: Path
    fake_bin: Path
    marker: Path
    exports: list[subprocess.CompletedProcess[str]] = field(default_factory=list, repr=False)

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        # What hypothesis prints for a failing example: not the whole environment and outputs.
        printer.text(f"Direnv(project={str(self.project)!r})")

    def envrc(self, text: str) -> None:
        (self.project / ".envrc").write_text(text)
        subprocess.run(["direnv", "allow", str(self.project)], env=self.env, check=True)

    def export(
        self,
        extra: dict[str, str] | None = None,
        *,
        loaded: dict[str, str] | None = None,
        no_python: bool = False,
    ) -> tuple[Env, str]:
        """`direnv export json` in the project: (the changes, direnv's stderr).

        `loaded` is the shell's environment after an earlier export (to see watches fire);
        `no_python` puts a `shellvault` first on PATH that exits 99 and leaves a marker.
        """
        env = dict(loaded if loaded is not None else self.env)
        env.update(extra or {})
        if no_python:
            env["PATH"] = f"{self.fake_bin}{os.pathsep}{env['PATH']}"
        result = subprocess.run(
            [require("direnv"), "export", "json"],
            cwd=self.project,
            env=env,
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # no terminal: a prompt could never hang a test
            timeout=60,
        )
        assert result.returncode == 0, result.stderr
        assert SECRET not in result.stdout + result.stderr
        self.exports.append(result)
        changes: Env = json.loads(result.stdout) if result.stdout.strip() else {}
        return changes, result.stderr

    def python_ran(self) -> bool:
        """True (and reset) when the fake `shellvault` was called since the last check."""
        ran = self.marker.exists()
        self.marker.unlink(missing_ok=True)
        return ran

    @property
    def rendered(self) -> Path:
        return self.sv.cache_dir / "direnv"


def apply(env: dict[str, str], changes: Env) -> dict[str, str]:
    """The shell's environment after direnv applied `changes`."""
    result = dict(env)
    for name, value in changes.items():
        if value is None:
            result.pop(name, None)
        else:
            result[name] = value
    return result


def loaded_vars(changes: Env) -> Env:
    """The changes without direnv's own bookkeeping variables."""
    return {k: v for k, v in changes.items() if not k.startswith("DIRENV_")}


def aws_vars(changes: Env) -> Env:
    return {k: v for k, v in changes.items() if k.startswith(("AWS_", "SHELLVAULT_"))}


def status_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if "aws_profile " in line and "left" in line]


def make_direnv(sv: Shellvault) -> Direnv:
    """Direnv around `sv`'s home: PATH, a project folder and the fake `shellvault`."""
    require("direnv")
    require("bash")
    assert CONSOLE_SCRIPT.exists(), "install the checkout: pip install -e ."
    env = direnv_environment(sv.env)
    project = sv.root / "project"
    project.mkdir()
    fake_bin = sv.root / "fake-bin"
    fake_bin.mkdir()
    marker = sv.root / "python-ran"
    fake = fake_bin / "shellvault"
    fake.write_text(
        f"#!/bin/sh\n: > '{marker}'\necho 'shellvault: this test took Python away' >&2\nexit 99\n"
    )
    fake.chmod(0o755)
    return Direnv(sv, env, project, fake_bin, marker)


def direnv_environment(base: dict[str, str]) -> dict[str, str]:
    """`base` with this checkout's `shellvault` first on PATH and direnv's logging on."""
    env = dict(base)
    env["PATH"] = f"{CONSOLE_SCRIPT.parent}{os.pathsep}{env.get('PATH', os.defpath)}"
    env["DIRENV_LOG_FORMAT"] = "direnv: %s"
    # Not the 5-second "taking a while" warning in the middle of the assertions.
    env["DIRENV_WARN_TIMEOUT"] = "1m"
    return env


def install_library(sv: Shellvault) -> None:
    installed = subprocess.run(
        ["shellvault", "direnv", "install"],
        env=direnv_environment(sv.env),
        capture_output=True,
        text=True,
        check=True,
    )
    assert "installed" in installed.stderr


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory, shared_sts: StsProxy) -> Path:
    """The mission's home with the library installed and `private_admin` minted once (by -t).

    Each test copies it: storing a key and minting take a second and a half per test otherwise.
    Nothing in it names its own path.
    """
    root = tmp_path_factory.mktemp("primed")
    sv = Shellvault(clean_environment(root, shared_sts.url), root)
    sv.write_config(MISSION_CONFIG)
    sv.add_key("private")
    sv.env_json("private_admin", "-t", "123456")
    install_library(sv)
    return root


@pytest.fixture
def dv(sv: Shellvault) -> Direnv:
    """A fresh home (nothing stored, nothing minted) with the library installed."""
    install_library(sv)
    return make_direnv(sv)


@pytest.fixture
def mdv(template: Path, sts: StsProxy, tmp_path: Path) -> Direnv:
    """The mission's profiles, the library installed, `private_admin` minted: a warm cache."""
    shutil.copytree(template, tmp_path, symlinks=True, dirs_exist_ok=True)
    return make_direnv(Shellvault(clean_environment(tmp_path, sts.url), tmp_path))


# --- what it loads -----------------------------------------------------------------------------


def test_exports_exactly_what_env_exports(mdv: Direnv, sts: StsProxy) -> None:
    mdv.envrc("use aws_profile private_admin\n")
    stale = {
        name: "stale" for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SDK_LOAD_CONFIG")
    }
    stale["AWS_SECURITY_TOKEN"] = stale["AWS_CREDENTIAL_FILE"] = "stale"
    changes, stderr = mdv.export(stale)
    expected = mdv.sv.env_json("private_admin")
    expected.update(SHELLVAULT_DIRENV="1", SHELLVAULT_REFRESH_ARGS="")
    assert loaded_vars(changes) == expected
    assert sts.requests == []  # served from the cache the template's -t filled
    (status,) = status_lines(stderr)
    until = expected["AWS_CREDENTIAL_EXPIRATION"]
    assert re.search(rf"aws_profile private_admin: (59m|1h00m) left \(until {until}\)", status)


def test_flags_reach_env_and_the_refresh_args(mdv: Direnv) -> None:
    mdv.envrc("use aws_profile private_admin -d 20m --region eu-west-1\n")
    changes, _ = mdv.export()
    plain = mdv.sv.env_json("private_admin", "--duration=20m", "--region=eu-west-1")
    expected = plain | {
        "SHELLVAULT_DIRENV": "1",
        "SHELLVAULT_REFRESH_ARGS": "--duration=20m\n--region=eu-west-1",
    }
    assert aws_vars(changes) == {k: v for k, v in expected.items() if v is not None}
    assert changes["AWS_REGION"] == "eu-west-1"
    # The prompt hook passes those lines to `shellvault env`: they are its flags, as given.
    lines = str(changes["SHELLVAULT_REFRESH_ARGS"]).split("\n")
    assert mdv.sv.env_json("private_admin", *lines) == plain


def test_works_with_assume_role_ttl_in_the_environment(mdv: Direnv) -> None:
    ttl = {"AWS_ASSUME_ROLE_TTL": "1h"}
    mdv.envrc("use aws_profile private_admin\n")
    changes, _ = mdv.export(ttl)
    expected = mdv.sv.env_json("private_admin", env=ttl)
    assert aws_vars(changes)["AWS_ACCESS_KEY_ID"] == expected["AWS_ACCESS_KEY_ID"]
    again, _ = mdv.export(ttl, no_python=True)
    assert not mdv.python_ran()
    assert aws_vars(again) == aws_vars(changes)


def test_unloaded_on_leaving(mdv: Direnv) -> None:
    mdv.envrc("use aws_profile private_admin\n")
    changes, _ = mdv.export()
    inside = apply(mdv.env, changes)
    result = subprocess.run(
        ["direnv", "export", "json"],
        cwd=mdv.sv.root,
        env=inside,
        capture_output=True,
        text=True,
        check=True,
    )
    left = json.loads(result.stdout)
    assert all(left[name] is None for name in aws_vars(changes))


# --- the fast path -----------------------------------------------------------------------------


def test_fast_path_on_a_warm_cache_needs_neither_python_nor_sts(mdv: Direnv, sts: StsProxy) -> None:
    # Under strict_env (errexit, nounset, pipefail), both paths must run clean too.
    mdv.envrc("strict_env\nuse aws_profile private_admin\nexport AFTER=1\n")
    first, _ = mdv.export()
    assert first["AFTER"] == "1" and first["AWS_VAULT"] == "private_admin"
    assert watched(first)[-2:] == [str(entry(mdv)), str(mdv.sv.config_path)]
    (rendered,) = mdv.rendered.iterdir()
    assert rendered.name == "v1,private_admin.sh"
    assert stat.S_IMODE(rendered.stat().st_mode) == 0o600
    assert stat.S_IMODE(mdv.rendered.stat().st_mode) == 0o700
    sts.mode = "refuse"  # anything but the file would now fail (and be recorded)
    second, stderr = mdv.export(no_python=True)
    assert not mdv.python_ran() and sts.requests == []
    assert loaded_vars(second) == loaded_vars(first)
    assert second["AFTER"] == "1"
    (status,) = status_lines(stderr)
    assert "aws_profile private_admin: " in status and "this test took Python away" not in stderr


def test_fast_path_gives_what_the_python_path_gives(mdv: Direnv) -> None:
    mdv.envrc("use aws_profile private_admin --duration 20m --region us-west-2\n")
    slow, slow_err = mdv.export({"SHELLVAULT_DIRENV_FAST": "0"})
    assert slow["AWS_VAULT"] == "private_admin"
    fast, fast_err = mdv.export(no_python=True)
    assert not mdv.python_ran()
    assert loaded_vars(fast) == loaded_vars(slow)
    assert fast["SHELLVAULT_REFRESH_ARGS"] == "--duration=20m\n--region=us-west-2"
    # The same status line, give or take the minute that may have turned in between.
    pattern = re.compile(r"\d+(h\d\d)?m left")
    assert pattern.sub("", status_lines(fast_err)[0]) == pattern.sub("", status_lines(slow_err)[0])


def later(path: Path) -> None:
    """Move `path`'s mtime two seconds past now: an edit made after the file was rendered.

    Done explicitly because an edit within the same clock tick as the render would look no
    newer; people edit seconds later, tests microseconds later.
    """
    info = path.stat()
    os.utime(path, ns=(info.st_atime_ns, max(info.st_mtime_ns, time.time_ns()) + 2_000_000_000))


STALE_CASES = {
    "config edited": lambda d: (
        d.sv.config_path.write_text(d.sv.config_path.read_text() + "# edited\n"),
        later(d.sv.config_path),
        {},
    )[-1],
    "AWS_ASSUME_ROLE_TTL changed": lambda d: {"AWS_ASSUME_ROLE_TTL": "2h"},
    "AWS_MIN_TTL set": lambda d: {"AWS_MIN_TTL": "15m"},
    "SHELLVAULT_SET_AWS_VAULT set but empty": lambda d: {"SHELLVAULT_SET_AWS_VAULT": ""},
    "settings file created": lambda d: (
        (Path(d.env["XDG_CONFIG_HOME"]) / "shellvault").mkdir(parents=True, exist_ok=True),
        (Path(d.env["XDG_CONFIG_HOME"]) / "shellvault" / "config.toml").write_text(
            "set_aws_vault = false\n"
        ),
        {},
    )[-1],
    "entry rewritten": lambda d: (
        [later(p) for p in d.sv.cache_dir.glob("*.json")],
        {},
    )[-1],
    "turned off": lambda d: {"SHELLVAULT_DIRENV_FAST": "0"},
}


@pytest.mark.parametrize("case", STALE_CASES)
def test_fast_path_not_taken_when_anything_changed(mdv: Direnv, case: str) -> None:
    mdv.envrc("use aws_profile private_admin\nexport AFTER=1\n")
    mdv.export()
    extra = STALE_CASES[case](mdv)
    changes, stderr = mdv.export(extra, no_python=True)
    assert mdv.python_ran()
    assert aws_vars(changes) == {} and changes["AFTER"] == "1"
    assert "direnv: shellvault: this test took Python away" in stderr


def test_clear_removes_the_rendered_file_and_the_fast_path(mdv: Direnv) -> None:
    mdv.envrc("use aws_profile private_admin\n")
    mdv.export()
    assert list(mdv.rendered.iterdir())
    mdv.sv.ok("clear", "private_admin")
    assert list(mdv.rendered.iterdir()) == []
    changes, _ = mdv.export(no_python=True)
    assert mdv.python_ran() and aws_vars(changes) == {}


def test_clear_of_another_profile_keeps_it_and_remove_drops_it(mdv: Direnv) -> None:
    mdv.sv.write_config(mdv.sv.config_path.read_text() + "\n[profile solo]\n")
    mdv.sv.add_key("solo")
    mdv.envrc("use aws_profile private_admin\n")
    mdv.export()
    (rendered,) = mdv.rendered.iterdir()
    mdv.sv.env_json("solo")
    mdv.sv.ok("clear", "solo")
    assert rendered.exists()
    mdv.sv.ok("remove", "--force", "private")
    assert not rendered.exists()


def test_fast_path_stops_at_the_refresh_deadline(mdv: Direnv) -> None:
    mdv.envrc("use aws_profile private_admin\n")
    expires = int(str(mdv.sv.env_json("private_admin")["SHELLVAULT_EXPIRES"]))
    # A refresh window that ends four seconds from now: the file's deadline.
    deadline = int(time.time()) + 4
    window = {"AWS_MIN_TTL": f"{expires - deadline}s"}
    mdv.export(window)
    text = next(mdv.rendered.iterdir()).read_text()
    assert f"_shellvault_direnv_deadline={deadline}\n" in text
    before, _ = mdv.export(window, no_python=True)
    assert not mdv.python_ran() and before["AWS_VAULT"] == "private_admin"
    while time.time() < deadline:  # the clock, not a guess: wait for the deadline itself
        time.sleep(0.05)
    after, _ = mdv.export(window, no_python=True)
    assert mdv.python_ran() and aws_vars(after) == {}


def test_expired_files_are_pruned_when_another_is_written(mdv: Direnv) -> None:
    mdv.envrc("use aws_profile private_admin\n")
    mdv.export()
    (old,) = mdv.rendered.iterdir()
    # Pretend it expired a minute ago (its content says so; the mtime is irrelevant here).
    text = re.sub(
        r"^_shellvault_direnv_expires=\d+$",
        f"_shellvault_direnv_expires={int(time.time()) - 60}",
        old.read_text(),
        flags=re.MULTILINE,
    )
    stale = mdv.rendered / "v1,private_admin,reu-west-1.sh"
    stale.write_text(text)
    mdv.envrc("use aws_profile private_admin --region us-east-2\n")
    mdv.export()
    assert sorted(p.name for p in mdv.rendered.iterdir()) == [
        "v1,private_admin,rus-east-2.sh",
        "v1,private_admin.sh",
    ]


def test_unsafe_names_take_the_python_path(mdv: Direnv) -> None:
    # `private` calls STS in its own (unset) region, so any --region value mints fine.
    mdv.envrc("use aws_profile private --region 'a,b'\n")
    changes, _ = mdv.export()
    assert changes["AWS_REGION"] == "a,b"
    assert not mdv.rendered.exists()
    again, _ = mdv.export(no_python=True)
    assert mdv.python_ran() and aws_vars(again) == {}


# --- freshness: a refresh made elsewhere --------------------------------------------------------


def wait_for_next_second(path: Path) -> None:
    """direnv records watched mtimes in whole seconds: a change must land in a later one."""
    second = int(path.stat().st_mtime)
    while time.time() < second + 1:
        time.sleep(0.02)


def entry(d: Direnv) -> Path:
    (path,) = [p for p in d.sv.cache_dir.glob("*.json")]
    return path


def test_refresh_elsewhere_makes_direnv_load_the_new_credentials(mdv: Direnv) -> None:
    mdv.envrc("use aws_profile private_admin\n")
    first, _ = mdv.export()
    shell = apply(mdv.env, first)
    unchanged, _ = mdv.export(loaded=shell)
    assert unchanged == {}  # nothing changed, nothing re-evaluated
    wait_for_next_second(entry(mdv))
    # Another process drops the session and mints a new one, as another shell would.
    mdv.sv.ok("clear", "private_admin")
    fresh = mdv.sv.env_json("private_admin", "-t", "654321")
    reloaded, _ = mdv.export(loaded=shell)
    assert reloaded["AWS_ACCESS_KEY_ID"] == fresh["AWS_ACCESS_KEY_ID"] != first["AWS_ACCESS_KEY_ID"]
    assert reloaded["AWS_SESSION_TOKEN"] == fresh["AWS_SESSION_TOKEN"]


def test_prompt_hook_style_refresh_reaches_direnv(mdv: Direnv, sts: StsProxy) -> None:
    """The prompt hook rewrites the entry in place (no clear): direnv reloads, Python serves."""
    mdv.envrc("use aws_profile private_admin\n")
    first, _ = mdv.export()
    shell = apply(mdv.env, first)
    wait_for_next_second(entry(mdv))
    args = str(first["SHELLVAULT_REFRESH_ARGS"]).splitlines()
    # What the hook runs when the credentials enter its window (a one-hour role is due at once).
    refreshed = mdv.sv.env_json("private_admin", *args, env={"AWS_MIN_TTL": "2h"})
    assert sts.actions()[-1] == "AssumeRole"
    reloaded, _ = mdv.export(loaded=shell)
    assert reloaded["AWS_ACCESS_KEY_ID"] == refreshed["AWS_ACCESS_KEY_ID"]
    assert reloaded["AWS_ACCESS_KEY_ID"] != first["AWS_ACCESS_KEY_ID"]
    # ...and the file was rendered again from the new entry: warm again without Python.
    again, _ = mdv.export(no_python=True)
    assert not mdv.python_ran() and again["AWS_ACCESS_KEY_ID"] == refreshed["AWS_ACCESS_KEY_ID"]


def test_direnv_reload_mints_when_needed(mdv: Direnv, sts: StsProxy) -> None:
    mdv.sv.write_config(mdv.sv.config_path.read_text() + "mfa_process=echo 222333\n")
    mdv.envrc("use aws_profile private_admin\n")
    first, _ = mdv.export()
    shell = apply(mdv.env, first)
    mdv.sv.ok("clear")  # every session, the MFA one included
    wait_for_next_second(mdv.project / ".envrc")
    subprocess.run(["direnv", "reload"], cwd=mdv.project, env=shell, check=True)
    reloaded, _ = mdv.export(loaded=shell)
    assert reloaded["AWS_ACCESS_KEY_ID"] != first["AWS_ACCESS_KEY_ID"]
    assert sts.requests[-2]["TokenCode"] == "222333"


# --- failures inside an .envrc -----------------------------------------------------------------


@pytest.mark.parametrize("strict", [False, True], ids=["plain", "strict_env"])
@pytest.mark.parametrize("failure", ["unknown profile", "sts refuses", "no mfa code"])
def test_failure_logs_one_error_exports_nothing_and_the_envrc_goes_on(
    mdv: Direnv, sts: StsProxy, strict: bool, failure: str
) -> None:
    dv = mdv
    profile, mentions = {
        "unknown profile": ("nope", "profile nope is not in"),
        "sts refuses": ("private", "STS refused GetSessionToken for profile private"),
        # -n: assume the role from the key, which needs a code (and there is no terminal)
        "no mfa code": ("private_admin -n", "needs an MFA code"),
    }[failure]
    if failure == "sts refuses":
        sts.mode = "refuse"
    dv.envrc(("strict_env\n" if strict else "") + f"use aws_profile {profile}\nexport AFTER=1\n")
    changes, stderr = dv.export({"AWS_PROFILE": "kept"})
    assert changes.get("AFTER") == "1"
    assert aws_vars(changes) == {}
    errors = [line for line in stderr.splitlines() if "shellvault:" in line]
    assert len(errors) == 1, stderr
    assert errors[0].startswith("\x1b[38;5;1mdirenv: shellvault: ") and mentions in errors[0]
    assert status_lines(stderr) == []
    # Fixing the config (the usual cure) re-evaluates the .envrc: the config is watched.
    assert str(dv.sv.config_path) in watched(changes)


def watched(changes: Env) -> list[str]:
    """The paths in direnv's DIRENV_WATCHES (zlib-compressed JSON in URL-safe base64)."""
    data = str(changes["DIRENV_WATCHES"])
    raw = zlib.decompress(base64.urlsafe_b64decode(data + "=" * (-len(data) % 4)))
    return [str(item["Path"]) for item in json.loads(raw)]


@pytest.mark.parametrize(
    ("line", "mentions"),
    [
        ("use aws_profile", USAGE_ERROR),
        ("use aws_profile -n", USAGE_ERROR),
        ("use aws_profile private_admin -t 123456", "no -t here"),
        ("use aws_profile private_admin --bogus", "unknown argument --bogus"),
        ("use aws_profile private_admin -d", "-d needs a value"),
        ("use aws_profile private_admin -d 5m", "at least 15m"),
    ],
)
def test_usage_errors_under_strict_env(mdv: Direnv, line: str, mentions: str) -> None:
    mdv.envrc(f"strict_env\n{line}\nexport AFTER=1\n")
    changes, stderr = mdv.export()
    assert changes.get("AFTER") == "1" and aws_vars(changes) == {}
    assert mentions in stderr


def test_shell_options_of_the_envrc_do_not_get_in_the_way(mdv: Direnv) -> None:
    mdv.envrc("set -o noclobber\nIFS=,\nshopt -s nocasematch\nuse aws_profile private_admin\n")
    slow, _ = mdv.export({"SHELLVAULT_DIRENV_FAST": "0"})
    fast, _ = mdv.export(no_python=True)
    assert not mdv.python_ran()
    assert slow["AWS_VAULT"] == fast["AWS_VAULT"] == "private_admin"


def test_shellvault_missing_from_path(mdv: Direnv) -> None:
    mdv.envrc("use aws_profile private_admin\nexport AFTER=1\n")
    env = {"PATH": "/usr/bin:/bin", "SHELLVAULT_DIRENV_FAST": "0"}
    changes, stderr = mdv.export(env)
    assert changes["AFTER"] == "1" and aws_vars(changes) == {}
    assert "shellvault: command not found on PATH" in stderr


def test_warnings_on_success_are_passed_on(mdv: Direnv) -> None:
    dv = mdv
    dv.sv.write_config(
        dv.sv.config_path.read_text() + "\n[profile deep]\nsource_profile=private_admin\n"
        "role_arn=arn:aws:iam::210987654321:role/deep\nduration_seconds=7200\n"
    )
    dv.envrc("use aws_profile deep\n")
    changes, stderr = dv.export()
    assert changes["AWS_VAULT"] == "deep"
    assert re.search(r"direnv: shellvault: .*role chaining", stderr)


def test_direnv_env_fails_cleanly(mission: Shellvault) -> None:
    result = mission.run("direnv", "env", "nope")
    assert result.returncode != 0 and result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert line.startswith("shellvault: profile nope is not in")


# --- hostile values ----------------------------------------------------------------------------

FRAGMENTS = ["'", '"', "$(touch {canary})", "`touch {canary}`", "\n", ";", "é", "日本", "\\"]
FRAGMENTS += ["${HOME}", " ", "-", "--", "=", "%s", "!", "*", "$'x'", ",", "/", "\t", "\r"]


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    st.lists(
        st.sampled_from(FRAGMENTS)
        | st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\0")),
        min_size=1,
        max_size=6,
    ).map("".join)
)
@example("$(touch {canary})';`touch {canary}`\n\"; touch {canary} #")
@example("us-east-1")
@example("--")  # Python 3.11's argparse turns `--region=--` into [] unless handled
def test_hostile_regions_come_back_byte_exact(mdv: Direnv, text: str) -> None:
    dv = mdv
    canary = dv.sv.root / "canary"
    region = text.replace("{canary}", str(canary))
    if not region:
        return
    if not (dv.project / ".envrc").exists():
        dv.envrc('use aws_profile private --region "$HOSTILE_REGION"\n')
    changes, _ = dv.export({"HOSTILE_REGION": region})
    assert changes["AWS_REGION"] == changes["AWS_DEFAULT_REGION"] == region
    assert changes["SHELLVAULT_REFRESH_ARGS"] == f"--region={region}"
    assert changes["AWS_VAULT"] == "private"
    assert not canary.exists()


@settings(max_examples=60, deadline=None)
@given(
    st.text(max_size=12),
    st.sampled_from(["", "1h", "90m", "1h30m", "a b", "é"]),
    st.booleans(),
    st.sampled_from(["", "eu-west-1", "us-gov-west-1", "x/y", "a,b"]),
)
def test_library_and_python_agree_on_file_names(
    profile: str, duration: str, no_session: bool, region: str
) -> None:
    bash = require("bash")
    if not profile or profile.startswith("-") or "\0" in profile:
        return
    script = (
        f"source {LIBRARY}\n"
        '_shellvault_direnv_fast_name "$1" "$2" "$3" "$4" && printf %s "$_shellvault_direnv_name"'
    )
    result = subprocess.run(
        [bash, "-c", script, "-", profile, duration, "1" if no_session else "", region],
        capture_output=True,
        text=True,
        env={"LC_ALL": "C.UTF-8", "PATH": os.environ["PATH"]},
    )
    expected = Request(profile, duration or None, no_session, region or None).fast_path_name()
    assert (result.stdout if result.returncode == 0 else None) == expected


def test_library_clock_and_countdown() -> None:
    """Now never silently empty (it would compare as 0, before every deadline); countdowns
    written as Python writes them."""
    from shellvault.credentials import format_time_left

    samples = [-5, 0, 1, 59, 60, 61, 3540, 3599, 3600, 3661, 7201, 43200]
    script = (
        f"source {LIBRARY}\nset -u\n"
        '_shellvault_direnv_now && echo "now $_shellvault_direnv_now"\n'
        "unset EPOCHSECONDS\n"
        '_shellvault_direnv_now && echo "unset $_shellvault_direnv_now"\n'
        "EPOCHSECONDS=garbage\n"
        "_shellvault_direnv_now || echo 'garbage refused'\n"
        f"for s in {' '.join(map(str, samples))}; do\n"
        '  _shellvault_direnv_time_left "$s" && echo "left $_shellvault_direnv_left"\n'
        "done\n"
    )
    before = int(time.time())
    lines = subprocess.run(
        [require("bash"), "-c", script], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    after = int(time.time())
    assert before <= int(lines[0].split()[1]) <= after
    assert before <= int(lines[1].split()[1]) <= after
    assert lines[2] == "garbage refused"
    assert lines[3:] == [f"left {format_time_left(s)}" for s in samples]


# --- install and print -------------------------------------------------------------------------


def run_direnv_command(sv: Shellvault, *args: str) -> subprocess.CompletedProcess[str]:
    return sv.run("direnv", *args)


def test_install_into_an_empty_config(sv: Shellvault) -> None:
    result = run_direnv_command(sv, "install")
    target = Path(sv.env["XDG_CONFIG_HOME"]) / "direnv" / "lib" / "shellvault.sh"
    assert result.returncode == 0 and result.stdout == ""
    assert f"installed {target}" in result.stderr
    assert (
        target.read_text() == LIBRARY.read_text() == resources.read_text("direnvrc", LIBRARY.name)
    )
    assert stat.S_IMODE(target.stat().st_mode) == 0o644
    again = run_direnv_command(sv, "install")
    assert again.returncode == 0 and "already up to date" in again.stderr


def test_install_honours_direnv_config(sv: Shellvault) -> None:
    folder = sv.root / "elsewhere"
    result = sv.run("direnv", "install", env={"DIRENV_CONFIG": str(folder)})
    assert result.returncode == 0
    assert (folder / "lib" / "shellvault.sh").read_text() == LIBRARY.read_text()


@pytest.mark.parametrize("where", ["direnvrc", "home"])
def test_install_names_an_old_definition_that_would_win(sv: Shellvault, where: str) -> None:
    if where == "direnvrc":
        rc = Path(sv.env["XDG_CONFIG_HOME"]) / "direnv" / "direnvrc"
        rc.parent.mkdir(parents=True)
    else:
        rc = Path(sv.env["HOME"]) / ".direnvrc"
    rc.write_text(
        "# my old setup\nexport FOO=1\n\nuse_aws_profile() {\n"
        '  export $(aws-vault exec "$1" -- env | grep AWS_)\n}\n'
    )
    result = run_direnv_command(sv, "install")
    assert result.returncode == 1 and result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert line.startswith("shellvault: installed ")
    assert f"{rc} line 4" in line and "delete that definition" in line
    target = Path(sv.env["XDG_CONFIG_HOME"]) / "direnv" / "lib" / "shellvault.sh"
    assert target.exists()
    rc.write_text("# my old setup\nexport FOO=1\n")
    assert run_direnv_command(sv, "install").returncode == 0


def test_old_definition_really_wins_in_direnv(mdv: Direnv) -> None:
    """Why install warns: direnv sources direnvrc after lib/*.sh."""
    rc = Path(mdv.env["XDG_CONFIG_HOME"]) / "direnv" / "direnvrc"
    rc.write_text("function use_aws_profile {\n  export OLD=1\n}\n")
    mdv.envrc("use aws_profile private_admin\n")
    changes, _ = mdv.export()
    assert changes.get("OLD") == "1" and aws_vars(changes) == {}


def test_print_is_the_library(sv: Shellvault) -> None:
    result = sv.ok("direnv", "print")
    assert result.stdout == LIBRARY.read_text()


def test_every_library_function_is_documented() -> None:
    text = LIBRARY.read_text()
    functions = re.findall(r"^([A-Za-z_][A-Za-z0-9_]*)\(\) \{$", text, re.MULTILINE)
    assert "use_aws_profile" in functions and len(functions) >= 6
    for name in functions:
        block = text[: text.index(f"\n{name}() {{")].rsplit("\n\n", 1)[-1]
        assert block.startswith(f"# Usage: {name}"), name
        assert "# Example" in block, name
        purpose = [line for line in block.splitlines()[1:] if line.strip("# ")]
        assert len(purpose) >= 2, name
