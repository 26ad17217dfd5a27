"""Shell integration (issue 3): `init`, `use`/`unuse`, the prompt segment, refresh in place and
completion, in real bash, zsh and fish.

Interactive behaviour goes through a pseudo-terminal (pexpect): each shell starts with no user rc
file, sources the snippet from shell/, and gets a prompt that shows the segment and the last
status, `[TEXT|STATUS]SV> `, so every wait is on a pattern, never on a sleep. The `shellvault` the
shells run is this checkout's console script.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from shellvault.output.changes import CONFLICTING, EXPORTED
from tests.conftest import Shellvault
from tests.support import StsProxy, require

SHELLS = ("bash", "zsh", "fish")
ROOT = Path(__file__).resolve().parent.parent
MFA_PROMPT = r"shellvault: MFA code for arn:aws:iam::123456789012:mfa/user01 \(profile private\): "
# The prompt every interactive shell here shows: the segment and the last command's status.
PROMPT = re.compile(r"\[([^][|\r\n\x1b]*)\|(\d+)\]SV> ")
# Terminal control sequences line editors write around the text (colours, titles, cursor moves).
_CONTROL = re.compile(
    r"\x1b\[[0-9;?<>=]*[ -/]*[@-~]"  # CSI: colours, cursor moves, erasing
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)"  # OSC: window titles
    r"|\x1b[=>()][0-9A-Za-z]?|\r"  # keypad modes, character sets; carriage returns
)
ARGV = {
    "bash": ["--norc", "--noprofile", "-i"],
    "zsh": ["-f", "-i"],
    "fish": ["--no-config", "-i"],
}
# Typed after start-up. `S''V` keeps the echoed line itself from matching PROMPT.
SETUP = {
    "bash": (
        "bind 'set enable-bracketed-paste off'; source {snippet}; "
        "PS1='[${{SHELLVAULT_PROMPT_TEXT}}|$?]S''V> '"
    ),
    "zsh": (
        "unset zle_bracketed_paste; unsetopt prompt_sp; setopt prompt_subst; source {snippet}; "
        "PS1='[${{SHELLVAULT_PROMPT_TEXT}}|%?]S''V> '"
    ),
    "fish": (
        "set -g fish_greeting; source {snippet}; function fish_prompt; set -l s $status; "
        "printf '[%s|%s]S''V> ' \"$SHELLVAULT_PROMPT_TEXT\" $s; end"
    ),
}


def snippet(shell: str) -> Path:
    return ROOT / "shell" / f"shellvault.{shell}"


def shell_env(sv: Shellvault) -> dict[str, str]:
    """sv's environment, with this checkout's `shellvault` first on PATH and a usable terminal."""
    script = Path(sys.executable).with_name("shellvault")
    folder = script.parent
    if not script.exists():
        # Not installed with pip -e (or a different interpreter layout): an equivalent script.
        folder = sv.root / "bin"
        folder.mkdir(exist_ok=True)
        wrapper = folder / "shellvault"
        wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m shellvault "$@"\n')
        wrapper.chmod(0o755)
    return {
        **sv.env,
        "PATH": f"{folder}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}",
        "TERM": "xterm",
        "LC_ALL": "C.UTF-8",
        "PYTHONPATH": str(ROOT),
    }


def run_script(shell: str, script: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`script` in a non-interactive shell that has sourced the snippet."""
    binary = require(shell)
    flags = {"bash": ["--norc", "--noprofile"], "zsh": ["-f"], "fish": ["--no-config"]}[shell]
    return subprocess.run(
        [binary, *flags, "-c", f"source {snippet(shell)}\n{script}"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )


def age_cache(sv: Shellvault, profile: str, seconds_left: int) -> int:
    """Make `profile`'s cached role credentials expire in `seconds_left`: time passing, at once."""
    expires = int(time.time()) + seconds_left
    (path,) = [
        p
        for p in sv.cache_dir.glob("*.json")
        if json.loads(p.read_text()).get("profile") == profile
    ]
    entry = json.loads(path.read_text())
    entry["credentials"]["Expires"] = expires
    path.write_text(json.dumps(entry))
    return expires


class Session:
    """One interactive shell on a pseudo-terminal, with the snippet loaded."""

    def __init__(self, shell: str, env: dict[str, str], root: Path) -> None:
        import pexpect

        self.shell = shell
        self.root = root
        self.dumps = 0
        self.child = pexpect.spawn(
            require(shell),
            ARGV[shell],
            env=env,
            cwd=str(root),
            encoding="utf-8",
            codec_errors="replace",
            timeout=30,
            dimensions=(50, 400),
        )
        self.child.sendline(SETUP[shell].format(snippet=snippet(shell)))
        self.wait()

    def wait(self) -> tuple[str, int]:
        """The next prompt's segment text and status."""
        self.child.expect(PROMPT)
        match = self.child.match
        return match.group(1), int(match.group(2))

    def run(self, line: str) -> tuple[str, int, str]:
        """Type `line`; the next prompt's segment and status, and the output before it."""
        self.child.sendline(line)
        text, status = self.wait()
        return text, status, _CONTROL.sub("", self.child.before)

    def export(self, name: str, value: str) -> str:
        if self.shell == "fish":
            return f"set -gx {name} '{value}'"
        return f"export {name}='{value}'"

    def environment(self) -> dict[str, str]:
        """The shell's exported variables, read through a file (values may hold line breaks)."""
        self.dumps += 1
        path = self.root / f"env-{self.dumps}"
        _, status, _ = self.run(f"env -0 > {path}")
        assert status == 0
        pairs = (item.split("=", 1) for item in path.read_text().split("\0") if "=" in item)
        return {k: v for k, v in pairs if k != "_"}

    def close(self) -> None:
        self.child.close(force=True)


def aws(environment: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in environment.items() if k.startswith(("AWS_", "SHELLVAULT_"))}


def differences(a: dict[str, str], b: dict[str, str]) -> list[str]:
    """The names whose values differ: a failing comparison must not print credentials."""
    return sorted(k for k in a.keys() | b.keys() if a.get(k) != b.get(k))


@pytest.fixture(params=SHELLS)
def session(request: pytest.FixtureRequest, mission: Shellvault) -> Iterator[Session]:
    pytest.importorskip("pexpect")
    shell = Session(request.param, shell_env(mission), mission.root)
    yield shell
    shell.close()


# --- the snippets and `init` --------------------------------------------------------------------


@pytest.mark.parametrize("shell", SHELLS)
def test_snippets_know_every_variable_env_changes(shell: str) -> None:
    printer = {
        "bash": 'printf "%s\\n" "${_shellvault_env_vars[@]}" -- "${_shellvault_own_vars[@]}"',
        "zsh": 'printf "%s\\n" "${_shellvault_env_vars[@]}" -- "${_shellvault_own_vars[@]}"',
        "fish": "printf '%s\\n' $_shellvault_env_vars -- $_shellvault_own_vars",
    }[shell]
    result = run_script(shell, printer, dict(os.environ))
    assert result.returncode == 0 and result.stderr == ""
    names, own = result.stdout.split("--\n")
    assert tuple(names.split()) == EXPORTED + CONFLICTING
    assert own.split() == ["SHELLVAULT_REFRESH_ARGS", "SHELLVAULT_DIRENV"]


@pytest.mark.parametrize("shell", SHELLS)
def test_every_function_is_documented(shell: str) -> None:
    text = snippet(shell).read_text()
    pattern = r"^function (\w+)" if shell == "fish" else r"^ *(\w+)\(\) \{"
    names = set(re.findall(pattern, text, re.M))
    assert {"shellvault", "shellvault_prompt", "_shellvault_hook"} <= names
    for name in names:
        usage = text.find(f"# Usage: {name}")
        assert usage >= 0, f"{name} has no `# Usage:` line"
        block = text[usage : text.find("\n\n", text.find("# Example:", usage))]
        assert "# Example:" in block and block.count("\n#") >= 4, name


def test_init_prints_the_snippet_for_the_named_or_detected_shell(sv: Shellvault) -> None:
    env = shell_env(sv)
    for shell in SHELLS:
        result = subprocess.run(
            ["shellvault", "init", shell], env=env, capture_output=True, text=True, check=True
        )
        assert result.stdout == snippet(shell).read_text()
    # The parent shell decides; `; true` keeps bash from exec'ing shellvault in its place.
    detected = subprocess.run(
        [require("bash"), "--norc", "-c", "shellvault init; true"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert detected.stdout == snippet("bash").read_text()
    unsure = subprocess.run(
        ["/bin/sh", "-c", "shellvault init; echo rc=$?"], env=env, capture_output=True, text=True
    )
    assert unsure.stdout == "rc=1\n"
    assert unsure.stderr == (
        "shellvault: init: cannot tell which shell this is; "
        "name it: shellvault init bash|zsh|fish\n"
    )


@pytest.mark.parametrize("shell", SHELLS)
def test_use_without_the_snippet_says_how_to_set_it_up(mission: Shellvault, shell: str) -> None:
    binary = require(shell)
    flags = {"bash": ["--norc", "--noprofile"], "zsh": ["-f"], "fish": ["--no-config"]}[shell]
    status = "$status" if shell == "fish" else "$?"
    expected = {
        "bash": 'add eval "$(shellvault init bash)" to ~/.bashrc',
        "zsh": 'add eval "$(shellvault init zsh)" to ~/.zshrc',
        "fish": "add shellvault init fish | source to ~/.config/fish/config.fish",
    }[shell]
    for command in ("use private_admin -t 123456 --region eu-west-1", "use -h", "unuse"):
        result = subprocess.run(
            [binary, *flags, "-c", f"shellvault {command}; echo rc={status}"],
            env=shell_env(mission),
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
        )
        word = command.split()[0]
        assert result.stdout == "rc=2\n"
        assert result.stderr == (
            f"shellvault: '{word}' changes your shell and needs the shell integration: {expected}\n"
        )


# --- use and unuse, non-interactive parts ---------------------------------------------------------


@pytest.mark.parametrize("shell", SHELLS)
def test_use_records_refresh_flags_but_never_the_mfa_code(mission: Shellvault, shell: str) -> None:
    show = 'printf "%s" "$SHELLVAULT_REFRESH_ARGS"'
    result = run_script(
        shell,
        f"shellvault use private_admin --mfa-token 123456 -d 1h --region=eu-west-1\n{show}",
        shell_env(mission),
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "-d\n1h\n--region=eu-west-1"


@pytest.mark.parametrize("shell", SHELLS)
def test_use_rejects_bad_arguments_without_running_env(mission: Shellvault, shell: str) -> None:
    status = "$status" if shell == "fish" else "$?"
    lines = [
        "shellvault use",
        "shellvault use private_admin --format json",
        "shellvault use private_admin other",
        "shellvault use private_admin -d",
    ]
    script = "\n".join(f"{line}; echo rc={status}" for line in lines)
    result = run_script(shell, script, shell_env(mission))
    assert result.stdout.split() == ["rc=2"] * 4
    errors = result.stderr.splitlines()
    assert errors[0].startswith("shellvault: use needs a PROFILE")
    assert errors[1].startswith("shellvault: use: unknown option --format")
    assert errors[2] == "shellvault: use: one PROFILE only (got private_admin and other)"
    assert errors[3] == "shellvault: use: -d needs a value"


# --- interactive: prompt, use, unuse, failures ----------------------------------------------------


def test_use_loads_with_mfa_at_the_terminal_and_unuse_restores(
    session: Session, sts: StsProxy
) -> None:
    text, status, _ = session.run(session.export("AWS_PROFILE", "default"))
    assert (text, status) == ("", 0)
    before = aws(session.environment())
    assert before["AWS_PROFILE"] == "default"

    session.child.sendline("shellvault use private_admin --region eu-west-1")
    session.child.expect(MFA_PROMPT)
    session.child.sendline("123456")
    text, status = session.wait()
    assert status == 0
    assert re.fullmatch(r"private_admin (59m|1h00m)", text), text
    loaded = aws(session.environment())
    assert "AWS_PROFILE" not in loaded
    assert loaded["AWS_VAULT"] == loaded["SHELLVAULT_PROFILE"] == "private_admin"
    assert loaded["AWS_REGION"] == "eu-west-1"
    assert loaded["AWS_ACCESS_KEY_ID"].startswith("ASIA")
    assert loaded["SHELLVAULT_REFRESH_ARGS"] == "--region\neu-west-1"
    assert [r.get("TokenCode") for r in sts.requests] == ["123456", None]

    # A nested `use` does not remember again: `unuse` goes back to before the first one.
    text, status, _ = session.run("shellvault use private")
    assert status == 0 and re.fullmatch(r"private (59m|1h00m)", text), text
    text, status, _ = session.run("shellvault unuse")
    assert (text, status) == ("", 0)
    assert differences(aws(session.environment()), before) == []

    text, status, output = session.run("shellvault unuse")
    assert status == 1 and "shellvault: unuse: no profile is in use" in output


def test_failed_use_leaves_the_shell_exactly_as_it_was(session: Session, sts: StsProxy) -> None:
    text, status, _ = session.run("shellvault use private")
    assert status == 0 and text.startswith("private ")
    before = session.environment()

    text, status, output = session.run("shellvault use no_such_profile")
    assert status != 0 and text.startswith("private ")
    assert "no_such_profile" in output
    assert differences(session.environment(), before) == []

    sts.mode = "refuse"
    text, status, output = session.run("shellvault use private_admin -t 123456")
    assert status != 0 and text.startswith("private ")
    assert "AccessDenied" in output or "not allowed" in output
    assert differences(session.environment(), before) == []
    # Nothing was remembered either: `unuse` removes `private` instead of restoring anything.
    text, status, _ = session.run("shellvault unuse")
    assert (text, status) == ("", 0)
    assert not {k for k in aws(session.environment()) if k in EXPORTED}


def test_hook_keeps_the_command_status(session: Session) -> None:
    session.run("shellvault use private")
    fail = "false"
    _, status, _ = session.run(fail)
    assert status == 1
    _, status, _ = session.run("true")
    assert status == 0


# --- interactive: refresh in place ----------------------------------------------------------------


def _load_aged(session: Session, mission: Shellvault, seconds_left: int) -> str:
    """`use private_admin`, then its credentials as if they had been loaded a while ago."""
    session.child.sendline("shellvault use private_admin -t 123456")
    text, status = session.wait()
    assert status == 0, session.child.before
    age_cache(mission, "private_admin", seconds_left)
    text, status, _ = session.run("shellvault use private_admin")  # a cache hit: the aged entry
    assert status == 0 and re.fullmatch(r"private_admin (29|30)m", text), text
    return session.environment()["AWS_ACCESS_KEY_ID"]


def test_refresh_hook_crosses_the_window_once(
    session: Session, mission: Shellvault, sts: StsProxy
) -> None:
    old_key = _load_aged(session, mission, 1800)
    assert sts.actions() == ["GetSessionToken", "AssumeRole"]
    # A window longer than what is left: the next prompt refreshes, from the cached MFA session.
    text, status, output = session.run(session.export("AWS_MIN_TTL", "59m"))
    assert status == 0 and re.fullmatch(r"private_admin (59m|1h00m)", text), (text, output)
    assert "shellvault:" not in output
    assert session.environment()["AWS_ACCESS_KEY_ID"] != old_key
    for _ in range(3):
        text, _, output = session.run("true")
        assert re.fullmatch(r"private_admin (59m|1h00m)", text) and "shellvault" not in output
    assert sts.actions() == ["GetSessionToken", "AssumeRole", "AssumeRole"]
    assert "TokenCode" not in sts.requests[-1]


def test_refresh_that_needs_mfa_asks_at_the_terminal_with_the_use_flags(
    session: Session, mission: Shellvault, sts: StsProxy
) -> None:
    # -n: every AssumeRole is made from the stored key with an MFA code, so a refresh needs one.
    session.child.sendline("shellvault use private_admin -n -t 123456")
    _, status = session.wait()
    assert status == 0
    age_cache(mission, "private_admin", 1800)
    text, status, _ = session.run("shellvault use private_admin -n")  # the aged entry
    assert status == 0 and re.fullmatch(r"private_admin (29|30)m", text), text
    session.child.sendline(session.export("AWS_MIN_TTL", "59m"))
    session.child.expect(MFA_PROMPT.replace(r"private\)", r"private_admin\)"))
    session.child.sendline("654321")
    text, status = session.wait()
    assert status == 0 and re.fullmatch(r"private_admin (59m|1h00m)", text), text
    assert sts.actions() == ["AssumeRole", "AssumeRole"]
    assert [r.get("TokenCode") for r in sts.requests] == ["123456", "654321"]


def test_refresh_refused_says_so_once_then_stays_quiet(
    session: Session, mission: Shellvault, sts: StsProxy
) -> None:
    old_key = _load_aged(session, mission, 1800)
    sts.mode = "refuse"
    outputs = []
    text, _, output = session.run(session.export("AWS_MIN_TTL", "59m"))
    outputs.append(output)
    for _ in range(3):
        text, status, output = session.run("true")
        outputs.append(output)
        assert status == 0
    everything = "".join(outputs)
    assert everything.count("shellvault: could not refresh private_admin") == 1, everything
    # Still the old, still-valid credentials, marked as inside the window.
    assert re.fullmatch(r"private_admin (29|30)m!", text), text
    assert session.environment()["AWS_ACCESS_KEY_ID"] == old_key
    assert sts.actions() == ["GetSessionToken", "AssumeRole", "AssumeRole"]


# --- refresh and prompt text, non-interactive -----------------------------------------------------

_SET = {
    "bash": "export {name}='{value}'",
    "zsh": "export {name}='{value}'",
    "fish": "set -gx {name} '{value}'",
}


def _exports(shell: str, values: dict[str, str]) -> str:
    return "\n".join(_SET[shell].format(name=k, value=v) for k, v in values.items())


@pytest.mark.parametrize("shell", SHELLS)
def test_prompt_text(shell: str) -> None:
    now = int(time.time())
    cases = [
        ({}, ""),
        ({"SHELLVAULT_PROFILE": "p", "SHELLVAULT_EXPIRES": str(now + 2550)}, "p 42m"),
        ({"SHELLVAULT_PROFILE": "p", "SHELLVAULT_EXPIRES": str(now + 28770)}, "p 7h59m"),
        ({"SHELLVAULT_PROFILE": "p", "SHELLVAULT_EXPIRES": str(now + 3930)}, "p 1h05m"),
        ({"SHELLVAULT_PROFILE": "p", "SHELLVAULT_EXPIRES": str(now + 45)}, "p 4[45]s!"),
        ({"SHELLVAULT_PROFILE": "p", "SHELLVAULT_EXPIRES": str(now - 5)}, "p expired!"),
        ({"SHELLVAULT_PROFILE": "p", "SHELLVAULT_EXPIRES": str(now + 1230)}, "p 20m"),
        (
            {"SHELLVAULT_PROFILE": "p", "SHELLVAULT_EXPIRES": str(now + 1230), "AWS_MIN_TTL": "1h"},
            "p 20m!",
        ),
        ({"SHELLVAULT_PROFILE": "p"}, "p"),
        ({"SHELLVAULT_PROFILE": "p", "SHELLVAULT_SERVER": "http://127.0.0.1:1/"}, "p server"),
        (
            {
                "SHELLVAULT_PROFILE": "a&b $(x)",
                "SHELLVAULT_EXPIRES": str(now + 630),
                "SHELLVAULT_PROMPT_FORMAT": "aws:%p(%t)",
                "SHELLVAULT_PROMPT_STALE_MARK": "*",
            },
            r"aws:a&b \$\(x\)\(10m\*\)",
        ),
        (
            {
                "SHELLVAULT_PROFILE": "p",
                "SHELLVAULT_SERVER": "x",
                "SHELLVAULT_PROMPT_SERVER_MARK": "S",
            },
            "p S",
        ),
    ]
    # No refresh from this test: it only looks at the text.
    show = "shellvault_prompt; printf '<'; _shellvault_hook; "
    show += "printf '%s>' \"$SHELLVAULT_PROMPT_TEXT\""
    env = {**os.environ, "SHELLVAULT_AUTO_REFRESH": "0"}
    for values, expected in cases:
        result = run_script(shell, f"{_exports(shell, values)}\n{show}", env)
        assert result.returncode == 0 and result.stderr == "", result.stderr
        printed, kept = result.stdout.split("<")
        assert re.fullmatch(expected, printed), (values, printed)
        assert kept == printed + ">"


@pytest.mark.parametrize("shell", SHELLS)
def test_min_ttl_is_read_like_shellvault_reads_it(shell: str) -> None:
    values = {"": 900, "600": 600, "0900": 900, "15m": 900, "1h30m": 5400, "90s": 90, "x": 900}
    show = "_shellvault_min_ttl; echo $_shellvault_window"
    script = "\n".join(f"{_SET[shell].format(name='AWS_MIN_TTL', value=v)}\n{show}" for v in values)
    result = run_script(shell, script, dict(os.environ))
    assert result.stdout.split() == [str(v) for v in values.values()], result.stderr


@pytest.mark.parametrize("shell", SHELLS)
def test_server_and_off_switch_never_refresh(
    mission: Shellvault, shell: str, sts: StsProxy
) -> None:
    loaded = mission.env_json("private_admin", "-t", "123456")
    sts.stop()  # any refresh attempt would fail loudly
    values = {k: v for k, v in loaded.items() if v is not None}
    env = {**shell_env(mission), "AWS_MIN_TTL": "2h"}
    for extra in ({"SHELLVAULT_SERVER": "http://127.0.0.1:1/"}, {"SHELLVAULT_AUTO_REFRESH": "0"}):
        script = f"{_exports(shell, {**values, **extra})}\n_shellvault_hook\n_shellvault_hook"
        result = run_script(shell, script, env)
        assert result.returncode == 0 and result.stderr == "", result.stderr


@pytest.mark.parametrize("shell", SHELLS)
def test_under_direnv_the_hook_refreshes_only_the_cache(
    mission: Shellvault, shell: str, sts: StsProxy
) -> None:
    mission.env_json("private_admin", "-t", "123456")
    expires = age_cache(mission, "private_admin", 1800)
    loaded = mission.env_json("private_admin")
    assert loaded["SHELLVAULT_EXPIRES"] == str(expires)
    values = {k: v for k, v in loaded.items() if v is not None}
    values.update(SHELLVAULT_DIRENV="1", SHELLVAULT_REFRESH_ARGS="", AWS_MIN_TTL="59m")
    show = 'printf "%s %s\\n" "$AWS_ACCESS_KEY_ID" "$SHELLVAULT_EXPIRES"'
    script = f"{_exports(shell, values)}\n_shellvault_hook\n_shellvault_hook\n{show}"
    result = run_script(shell, script, shell_env(mission))
    assert result.returncode == 0 and result.stderr == "", result.stderr
    # The shell's variables are direnv's business; the cache entry is what changed.
    assert result.stdout == f"{loaded['AWS_ACCESS_KEY_ID']} {expires}\n"
    assert sts.actions() == ["GetSessionToken", "AssumeRole", "AssumeRole"]
    fresh = mission.env_json("private_admin")
    assert fresh["AWS_ACCESS_KEY_ID"] != loaded["AWS_ACCESS_KEY_ID"]
    assert int(fresh["SHELLVAULT_EXPIRES"] or 0) - time.time() > 3500


# --- bash's PROMPT_COMMAND ------------------------------------------------------------------------


def test_bash_hook_is_appended_once_to_prompt_command() -> None:
    show = 'source {s}\nprintf "%s|" "${{PROMPT_COMMAND[@]}}"'.format(s=snippet("bash"))
    result = run_script("bash", f"PROMPT_COMMAND='history -a;'\n{show}", dict(os.environ))
    assert result.stdout == "history -a;\n_shellvault_hook|"
    result = run_script("bash", f"PROMPT_COMMAND=(one two)\n{show}", dict(os.environ))
    assert result.stdout == "one|two|_shellvault_hook|"


# --- completion -----------------------------------------------------------------------------------

HOSTILE = "[profile $(touch pwned)]\n"


def _completion_env(mission: Shellvault) -> dict[str, str]:
    mission.write_config(mission.config_path.read_text() + HOSTILE)
    return shell_env(mission)


def test_bash_completion(mission: Shellvault) -> None:
    env = _completion_env(mission)

    def complete(*words: str) -> list[str]:
        quoted = " ".join(f"'{w}'" for w in words)
        script = (
            f"COMP_WORDS=({quoted}); COMP_CWORD={len(words) - 1}; _shellvault_complete; "
            'printf "%s\\n" "${COMPREPLY[@]}"'
        )
        result = run_script("bash", script, env)
        assert result.returncode == 0, result.stderr
        return result.stdout.splitlines()

    assert complete("shellvault", "cl") == ["clear"]
    assert complete("shellvault", "u") == ["use", "unuse"]
    assert complete("shellvault", "use", "priv") == ["private", "private_admin"]
    assert "$(touch pwned)" in complete("shellvault", "env", "")
    assert complete("shellvault", "env", "--format", "p") == ["powershell", "process"]
    assert complete("shellvault", "use", "private", "--re") == ["--region"]
    assert complete("shellvault", "init", "") == ["bash", "zsh", "fish"]
    assert complete("shellvault", "--v") == ["--version"]
    assert not (mission.root / "pwned").exists()


def test_fish_completion(mission: Shellvault) -> None:
    env = _completion_env(mission)

    def complete(line: str) -> list[str]:
        result = run_script("fish", f"complete -C '{line}'", env)
        assert result.returncode == 0, result.stderr
        return [entry.split("\t")[0] for entry in result.stdout.splitlines()]

    assert complete("shellvault cl") == ["clear"]
    assert complete("shellvault use priv") == ["private", "private_admin"]
    assert "$(touch pwned)" in complete("shellvault env ")
    assert complete("shellvault list --format j") == ["json"]
    assert complete("shellvault exec private --no") == ["--no-session"]
    assert "ls" in complete("shellvault exec private -- l")
    assert not (mission.root / "pwned").exists()


def test_zsh_completion_candidates(mission: Shellvault) -> None:
    env = _completion_env(mission)

    def candidates(*words: str) -> list[str]:
        quoted = " ".join(f"'{w}'" for w in words)
        result = run_script("zsh", f"_shellvault_candidates {quoted}", env)
        assert result.returncode == 0, result.stderr
        return result.stdout.splitlines()

    assert "clear" in candidates("shellvault", "")
    assert candidates("shellvault", "use", "") == ["private", "private_admin", "$(touch pwned)"]
    assert candidates("shellvault", "export", "--format", "") == [
        "env",
        "export-env",
        "json",
        "ini",
    ]
    assert "--unset" in candidates("shellvault", "env", "p", "-")
    assert not (mission.root / "pwned").exists()


def test_zsh_completion_at_the_terminal(mission: Shellvault) -> None:
    pytest.importorskip("pexpect")
    shell = Session("zsh", shell_env(mission), mission.root)
    try:
        # compinit after the snippet: the registration waits for the first prompt.
        shell.run("autoload -U compinit && compinit -u -D")
        shell.child.send("shellvault cle\t")
        # zsh draws the completed word, then an auto-removable space in bold.
        shell.child.expect("shellvault clear")
        shell.child.send("\x15")  # kill the line
        shell.child.send("shellvault use private_a\t")
        shell.child.expect("shellvault use private_admin")
        shell.child.send("\x15\r")
        shell.wait()
    finally:
        shell.close()


# --- forks ----------------------------------------------------------------------------------------


def _forks(shell: str, loops: int) -> int:
    """Processes created by `shell` running the hook `loops` times with fresh credentials."""
    strace = require("strace")
    binary = require(shell)
    now = int(time.time())
    values = {"SHELLVAULT_PROFILE": "p", "SHELLVAULT_EXPIRES": str(now + 3600)}
    if shell == "fish":
        loop = f"for i in (string split ' ' -- {' '.join(['x'] * loops)}); _shellvault_hook; end"
    else:
        loop = f"for i in {' '.join(['x'] * loops)}; do _shellvault_hook; done"
    flags = {"bash": ["--norc", "--noprofile"], "zsh": ["-f"], "fish": ["--no-config"]}[shell]
    script = f"source {snippet(shell)}\n{_exports(shell, values)}\n{loop if loops else ''}"
    trace = Path(os.environ.get("TMPDIR", "/tmp")) / f"shellvault-forks-{os.getpid()}-{shell}"
    try:
        subprocess.run(
            [strace, "-f", "-qq", "-e", "trace=clone,clone3,fork,vfork", "-o", str(trace)]
            + [binary, *flags, "-c", script],
            check=True,
            capture_output=True,
            stdin=subprocess.DEVNULL,
            timeout=60,
        )
        calls = [
            line
            for line in trace.read_text().splitlines()
            if re.search(r"\b(clone3?|v?fork)\(", line) and "CLONE_THREAD" not in line
        ]
    finally:
        trace.unlink(missing_ok=True)
    return len(calls)


@pytest.mark.parametrize("shell", SHELLS)
def test_hook_forks_nothing_while_fresh(shell: str) -> None:
    if shutil.which("strace") is None and os.environ.get("CI") != "true":
        pytest.skip("strace is not installed")
    assert _forks(shell, 200) == _forks(shell, 0)
    if shell != "fish":
        assert _forks(shell, 0) == 0
