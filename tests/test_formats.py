"""Output formats: real shells evaluate what `render` prints; other formats go through parsers.

The shell tests run bash, zsh, dash and fish on hypothesis-generated values and compare, byte for
byte, what a child process then sees in its environment (`env -0`). A missing shell is a skip
locally but a failure under CI=true, so CI cannot go green by silently testing nothing.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from shellvault.credentials import Credentials
from shellvault.output.changes import EnvChanges
from shellvault.output.formats import (
    ENV_FORMATS,
    EXPORT_FORMATS,
    render,
    render_export,
    render_process,
)


def require(cmd: str) -> str:
    """Path of `cmd`; skip when it is missing, but fail under CI=true."""
    path = shutil.which(cmd)
    if path is None:
        message = f"{cmd} is not installed"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message + " (CI=true: missing shells fail instead of skipping)")
        pytest.skip(message)
    return path


# --- values ------------------------------------------------------------------------------

# Anything an environment value can hold: every code point except NUL (C strings end there)
# and the surrogates (category Cs), which have no UTF-8 encoding.
any_char = st.characters(exclude_categories=["Cs"], exclude_characters="\0")

# Pieces that have broken shell quoting somewhere, or would prove code ran (CANARY files).
NASTY = (
    "'",
    '"',
    "\\",
    "\\'",
    "'\\''",
    "''",
    "\n",
    "\r",
    "\t",
    ";",
    "&&",
    "|",
    "!",
    "!!",
    "!$",
    "%",
    "%self",
    "$",
    "$HOME",
    "${HOME}",
    "${:-$}",
    "$(touch CANARY)",
    "`touch CANARY`",
    "(touch CANARY)",
    "*",
    "~",
    "#",
    "{a,b}",
    "é",
    "日本",
    "\u2018",
    "\u2019",
    "\u201a",
    "\u201b",
    "\u00a0",
    "\u2028",
    "\x85",
    "\x7f",
    "\x1b[31m",
    "\uf600",  # fish's internal ENCODE_DIRECT range
    "\ufdd0",  # fish's internal reserved range (wildcard / expansion markers)
    "\U0001f600",
)

values = st.one_of(
    st.text(any_char, max_size=30),
    st.lists(st.one_of(st.sampled_from(NASTY), st.text(any_char, max_size=4)), max_size=10).map(
        "".join
    ),
)


def make_changes(vals: list[str]) -> EnvChanges:
    sets = {f"SV_SET_{i}": v for i, v in enumerate(vals)}
    # SV_GONE_0/1 exist beforehand; SV_NEVER never does (unsetting it must still be silent).
    return EnvChanges(sets, ("SV_GONE_0", "SV_GONE_1", "SV_NEVER"))


PRESET = {"SV_GONE_0": "before", "SV_GONE_1": "x\ny", "SV_SET_0": "old value"}

# --- real shells -------------------------------------------------------------------------

# Each evaluates the file named by $1-equivalent, then dumps the environment a child sees.
POSIX_RUN = 'eval "$(cat out.txt)"; st=$?; env -0 > env.bin; exit $st'
SHELLS: dict[str, tuple[str, list[str], str]] = {
    # id: (format, argv prefix, script)
    "bash": ("bash", ["bash", "--norc", "--noprofile", "-c"], "set -H; " + POSIX_RUN),
    "bash-posix": ("bash", ["bash", "--posix", "--norc", "--noprofile", "-c"], POSIX_RUN),
    "zsh": ("zsh", ["zsh", "-f", "-c"], POSIX_RUN),
    "zsh-rcquotes": ("zsh", ["zsh", "-f", "-c"], "setopt rcquotes; " + POSIX_RUN),
    "dash": ("sh", ["dash", "-c"], POSIX_RUN),
    "fish-source": (
        "fish",
        ["fish", "--no-config", "-c"],
        "source out.txt; set st $status; env -0 > env.bin; exit $st",
    ),
    "fish-pipe": (
        "fish",
        ["fish", "--no-config", "-c"],
        "cat out.txt | source; set st $status; env -0 > env.bin; exit $st",
    ),
    # `eval (cmd)` splits the output on newlines and joins the pieces with spaces.
    "fish-eval": (
        "fish",
        ["fish", "--no-config", "-c"],
        "eval (cat out.txt); set st $status; env -0 > env.bin; exit $st",
    ),
}
LOCALES = ("C.UTF-8", "C")


def run_in_shell(shell_id: str, locale: str, changes: EnvChanges) -> None:
    fmt, argv, script = SHELLS[shell_id]
    require(argv[0])
    text = render(changes, fmt)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "out.txt").write_bytes(text.encode())
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": tmp,
            "XDG_CONFIG_HOME": tmp,
            "XDG_DATA_HOME": tmp,
            "XDG_CACHE_HOME": tmp,
            "LC_ALL": locale,
            **PRESET,
        }
        proc = subprocess.run(argv + [script], cwd=work, env=env, capture_output=True, timeout=30)
        assert not (work / "CANARY").exists(), f"a value was executed:\n{text}"
        assert proc.stdout == b"", text
        assert proc.stderr == b"", text
        assert proc.returncode == 0, text
        seen: dict[bytes, bytes] = {}
        for entry in (work / "env.bin").read_bytes().split(b"\0")[:-1]:
            key, _, raw = entry.partition(b"=")
            seen[key] = raw
    for name, value in changes.sets.items():
        assert seen.get(name.encode()) == value.encode(), (name, text)
    for name in changes.unsets:
        assert name.encode() not in seen, (name, text)


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("shell_id", list(SHELLS))
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(vals=st.lists(values, min_size=1, max_size=4))
@example(vals=["$(touch CANARY)`touch CANARY`(touch CANARY)", "it's", "a\nb\\", ""])
@example(vals=["'", "\\", "\n", "'\\''"])
@example(vals=["!!", "!$", "\u2019\u2018", "x\r\n"])
def test_shell_round_trip(shell_id: str, locale: str, vals: list[str]) -> None:
    run_in_shell(shell_id, locale, make_changes(vals))


def test_realistic_credentials_in_every_shell() -> None:
    changes = EnvChanges(
        {
            "AWS_ACCESS_KEY_ID": "ASIAEXAMPLEEXAMPLE12",
            "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            "AWS_SESSION_TOKEN": "IQoJb3JpZ2luX2VjE//////////wEaCXVzLWVhc3QtMSJH==",
            "AWS_CREDENTIAL_EXPIRATION": "2024-05-01T12:00:00Z",
            "SHELLVAULT_PROFILE": "dev",
        },
        ("SV_GONE_0", "SV_NEVER"),
    )
    for shell_id in SHELLS:
        run_in_shell(shell_id, "C.UTF-8", changes)


def test_interactive_bash_does_not_history_expand() -> None:
    """An interactive bash (history expansion on) still assigns `!` sequences verbatim.

    History expansion applies to lines the user types, not to the text `eval` runs; this runs
    a real `bash -i` reading the eval line from stdin to show it.
    """
    require("bash")
    changes = EnvChanges({"A": 'x!!y !$ !-1 !echo "!!" !#', "B": "^a^b"}, ("SV_GONE_0",))
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "out.txt").write_text(render(changes, "bash"))
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": tmp, "PS1": ""}
        env.update(HISTFILE=os.devnull, LC_ALL="C.UTF-8", **PRESET)
        script = 'set -o histexpand\neval "$(cat out.txt)"\nenv -0 > env.bin\nexit\n'
        subprocess.run(
            ["bash", "--norc", "--noprofile", "-i"],
            input=script.encode(),
            cwd=work,
            env=env,
            capture_output=True,
            timeout=30,
        )
        entries = (work / "env.bin").read_bytes().split(b"\0")
    assert f"A={changes.sets['A']}".encode() in entries
    assert b"B=^a^b" in entries
    assert not any(e.startswith(b"SV_GONE_0=") for e in entries)


def test_require_fails_under_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception):
        require("shellvault-no-such-shell")
    monkeypatch.setenv("CI", "false")
    with pytest.raises(pytest.skip.Exception):
        require("shellvault-no-such-shell")


# --- exact shell text --------------------------------------------------------------------


def test_posix_text() -> None:
    changes = EnvChanges({"A": "it's", "B": "$(x)"}, ("C",))
    expected = "export A='it'\\''s'\nexport B='$(x)'\nunset -v C\n"
    for fmt in ("bash", "zsh", "sh"):
        assert render(changes, fmt) == expected


def test_fish_text() -> None:
    changes = EnvChanges({"A": "it's \\ a\nb"}, ("C",))
    assert render(changes, "fish") == (
        "set -gx A 'it\\'s \\\\ a'\\n'b';\nif set -q -g C; set -e -g C; end;\n"
    )


def test_empty_changes() -> None:
    for fmt in ENV_FORMATS:
        assert render(EnvChanges(), fmt) == ("{}\n" if fmt == "json" else "")


@pytest.mark.parametrize("fmt", ENV_FORMATS)
@pytest.mark.parametrize("name", ["", "1A", "A-B", "A B", "A=B", "A;rm", "$A", "Ä", "A\n"])
def test_bad_names_rejected(fmt: str, name: str) -> None:
    with pytest.raises(ValueError):
        render(EnvChanges({name: "v"}), fmt)
    with pytest.raises(ValueError):
        render(EnvChanges({}, (name,)), fmt)


@pytest.mark.parametrize("fmt", ENV_FORMATS)
def test_nul_rejected(fmt: str) -> None:
    with pytest.raises(ValueError):
        render(EnvChanges({"A": "a\0b"}), fmt)


def test_unknown_format() -> None:
    with pytest.raises(ValueError):
        render(EnvChanges({"A": "b"}), "tcsh")
    with pytest.raises(ValueError):
        render_export(EnvChanges(), Credentials("a", "b"), "p", "yaml")


# --- PowerShell --------------------------------------------------------------------------

# about_Quoting_Rules: a single-quoted string is verbatim; the only escape is a quote written
# twice; and the typographic quotes U+2018, U+2019, U+201A, U+201B count as single quotes.
PS_QUOTES = "'\u2018\u2019\u201a\u201b"
PS_SET = re.compile(r"\$Env:([A-Za-z_][A-Za-z0-9_]*) = ")
PS_REMOVE = re.compile(r"Remove-Item Env:([A-Za-z_][A-Za-z0-9_]*) -ErrorAction SilentlyContinue\n")


def parse_ps_single_quoted(text: str, pos: int) -> tuple[str, int]:
    """Reference reader for one PowerShell single-quoted literal starting at `pos`."""
    if text[pos] not in PS_QUOTES:
        raise SyntaxError(f"expected a single quote at {pos}")
    out: list[str] = []
    i = pos + 1
    while True:
        if i >= len(text):
            raise SyntaxError("unterminated string")
        c = text[i]
        if c in PS_QUOTES:
            if i + 1 < len(text) and text[i + 1] in PS_QUOTES:
                # PowerShell keeps the second character of the pair.
                out.append(text[i + 1])
                i += 2
                continue
            return "".join(out), i + 1
        out.append(c)
        i += 1


def parse_powershell(text: str) -> tuple[dict[str, str], list[str]]:
    sets: dict[str, str] = {}
    removes: list[str] = []
    pos = 0
    while pos < len(text):
        if m := PS_SET.match(text, pos):
            value, pos = parse_ps_single_quoted(text, m.end())
            if text[pos : pos + 1] != "\n":
                raise SyntaxError(f"code after the string at {pos}: {text[pos:]!r}")
            sets[m.group(1)] = value
            pos += 1
        elif m := PS_REMOVE.match(text, pos):
            removes.append(m.group(1))
            pos = m.end()
        else:
            raise SyntaxError(f"unexpected statement at {pos}: {text[pos:]!r}")
    return sets, removes


@settings(max_examples=300, deadline=None)
@given(vals=st.lists(values, min_size=1, max_size=4))
def test_powershell_round_trip(vals: list[str]) -> None:
    changes = make_changes(vals)
    sets, removes = parse_powershell(render(changes, "powershell"))
    assert sets == changes.sets
    assert removes == list(changes.unsets)


def test_powershell_literals() -> None:
    def ps(value: str) -> str:
        return render(EnvChanges({"A": value}), "powershell")

    assert ps("plain") == "$Env:A = 'plain'\n"
    assert ps("it's") == "$Env:A = 'it''s'\n"
    assert ps("it\u2019s") == "$Env:A = 'it\u2019\u2019s'\n"
    assert ps("\u2018\u201a\u201b") == "$Env:A = '\u2018\u2018\u201a\u201a\u201b\u201b'\n"
    assert ps('$(calc) `n $x "') == "$Env:A = '$(calc) `n $x \"'\n"
    assert ps("a\nb") == "$Env:A = 'a\nb'\n"
    assert render(EnvChanges({}, ("B",)), "powershell") == (
        "Remove-Item Env:B -ErrorAction SilentlyContinue\n"
    )
    # The reference parser itself: an undoubled U+2019 ends the string early.
    with pytest.raises(SyntaxError):
        parse_powershell("$Env:A = 'it\u2019s'\n")


# --- dotenv ------------------------------------------------------------------------------


def dotenv_read(text: str) -> dict[str, str | None]:
    import dotenv

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / ".env"
        path.write_bytes(text.encode())
        # Defaults on purpose: interpolate=True, read from a file (universal newlines).
        return dict(dotenv.dotenv_values(path))


@settings(max_examples=300, deadline=None)
@given(vals=st.lists(values, min_size=1, max_size=4))
@example(vals=["ends in a backslash\\", 'next "line" has quotes"'])
@example(vals=["${HOME}", "${:-$}", "$${HOME}${", "a\r\nb"])
def test_dotenv_round_trip_python_dotenv(vals: list[str]) -> None:
    changes = make_changes(vals)
    assert dotenv_read(render(changes, "dotenv")) == changes.sets


def test_dotenv_text() -> None:
    def dotenv(value: str) -> str:
        return render(EnvChanges({"A": value}), "dotenv")

    # Plain rule: single quotes, read literally by python-dotenv, Node's dotenv and compose.
    assert dotenv("wJalr/K7+bPx=") == "A='wJalr/K7+bPx='\n"
    assert dotenv('say "hi" $HOME # x') == "A='say \"hi\" $HOME # x'\n"
    assert dotenv("") == "A=''\n"
    # Fallback rule: double quotes with backslash escapes; `${` spelled `${:-$}{`.
    assert dotenv("it's") == 'A="it\'s"\n'
    assert dotenv("a\nb\r") == 'A="a\\nb\\r"\n'
    assert dotenv('\\"') == 'A="\\\\\\""\n'
    assert dotenv("${HOME}") == 'A="${:-$}{HOME}"\n'
    assert dotenv("x\\") == 'A="x\\\\${:-}"\n'
    # Unsets cannot be expressed in a dotenv file.
    assert render(EnvChanges({"A": "1"}, ("B",)), "dotenv") == "A='1'\n"


# --- json --------------------------------------------------------------------------------


@settings(max_examples=100, deadline=None)
@given(vals=st.lists(values, min_size=1, max_size=4))
def test_json_round_trip(vals: list[str]) -> None:
    changes = make_changes(vals)
    text = render(changes, "json")
    assert text.endswith("}\n")
    document = json.loads(text)
    assert list(document) == [*changes.sets, *changes.unsets]
    assert document == {**changes.sets, **dict.fromkeys(changes.unsets)}


def test_json_text() -> None:
    assert render(EnvChanges({"B": "1", "A": "2"}, ("C",)), "json") == (
        '{\n  "B": "1",\n  "A": "2",\n  "C": null\n}\n'
    )


# --- credential_process and aws-vault export ----------------------------------------------

EXPIRES = 1714564800  # 2024-05-01T12:00:00Z
TEMPORARY = Credentials("ASIAEXAMPLE", "secret/key+=", "token//==", EXPIRES)
LONG_TERM = Credentials("AKIAEXAMPLE", "secret")


def test_render_process_temporary() -> None:
    text = render_process(TEMPORARY)
    assert text.endswith("}\n")
    document = json.loads(text)
    assert list(document) == [
        "Version",
        "AccessKeyId",
        "SecretAccessKey",
        "SessionToken",
        "Expiration",
    ]
    assert document == {
        "Version": 1,
        "AccessKeyId": "ASIAEXAMPLE",
        "SecretAccessKey": "secret/key+=",
        "SessionToken": "token//==",
        "Expiration": "2024-05-01T12:00:00Z",
    }


def test_render_process_long_term_omits_fields() -> None:
    assert json.loads(render_process(LONG_TERM)) == {
        "Version": 1,
        "AccessKeyId": "AKIAEXAMPLE",
        "SecretAccessKey": "secret",
    }


def test_render_process_token_without_expiry() -> None:
    document = json.loads(render_process(Credentials("A", "B", "T")))
    assert document["SessionToken"] == "T"
    assert "Expiration" not in document


def export_changes() -> EnvChanges:
    # Shaped like changes_for(): extra shellvault variables and unsets that export ignores.
    return EnvChanges(
        {
            "AWS_ACCESS_KEY_ID": "ASIAEXAMPLE",
            "AWS_SECRET_ACCESS_KEY": "secret/key+=",
            "AWS_SESSION_TOKEN": "token//==",
            "AWS_CREDENTIAL_EXPIRATION": "2024-05-01T12:00:00Z",
            "AWS_REGION": "eu-west-1",
            "AWS_DEFAULT_REGION": "eu-west-1",
            "SHELLVAULT_PROFILE": "dev",
            "SHELLVAULT_EXPIRES": str(EXPIRES),
            "AWS_VAULT": "dev",
        },
        ("AWS_PROFILE", "AWS_SECURITY_TOKEN"),
    )


def test_export_env_matches_aws_vault() -> None:
    expected = (
        "AWS_ACCESS_KEY_ID=ASIAEXAMPLE\n"
        "AWS_SECRET_ACCESS_KEY=secret/key+=\n"
        "AWS_SESSION_TOKEN=token//==\n"
        "AWS_CREDENTIAL_EXPIRATION=2024-05-01T12:00:00Z\n"
        "AWS_REGION=eu-west-1\n"
        "AWS_DEFAULT_REGION=eu-west-1\n"
    )
    assert render_export(export_changes(), TEMPORARY, "dev", "env") == expected
    exported = "".join("export " + line + "\n" for line in expected.splitlines())
    assert render_export(export_changes(), TEMPORARY, "dev", "export-env") == exported


def test_export_env_long_term_without_region() -> None:
    changes = EnvChanges(
        {"AWS_ACCESS_KEY_ID": "AKIAEXAMPLE", "AWS_SECRET_ACCESS_KEY": "secret"},
        ("AWS_SESSION_TOKEN", "AWS_CREDENTIAL_EXPIRATION"),
    )
    assert render_export(changes, LONG_TERM, "p", "env") == (
        "AWS_ACCESS_KEY_ID=AKIAEXAMPLE\nAWS_SECRET_ACCESS_KEY=secret\n"
    )
    assert render_export(changes, LONG_TERM, "p", "ini") == (
        "[profile p]\naws_access_key_id=AKIAEXAMPLE\naws_secret_access_key=secret\n"
    )


def test_export_env_quotes_only_when_needed() -> None:
    changes = EnvChanges({"AWS_ACCESS_KEY_ID": "a b'c", "AWS_SECRET_ACCESS_KEY": "$(x)"})
    assert render_export(changes, LONG_TERM, "p", "export-env") == (
        "export AWS_ACCESS_KEY_ID='a b'\"'\"'c'\nexport AWS_SECRET_ACCESS_KEY='$(x)'\n"
    )


def test_export_json_is_credential_process() -> None:
    assert render_export(export_changes(), TEMPORARY, "dev", "json") == render_process(TEMPORARY)
    assert render_process(TEMPORARY) == (
        "{\n"
        '  "Version": 1,\n'
        '  "AccessKeyId": "ASIAEXAMPLE",\n'
        '  "SecretAccessKey": "secret/key+=",\n'
        '  "SessionToken": "token//==",\n'
        '  "Expiration": "2024-05-01T12:00:00Z"\n'
        "}\n"
    )


def test_export_ini() -> None:
    assert render_export(export_changes(), TEMPORARY, "dev", "ini") == (
        "[profile dev]\n"
        "aws_access_key_id=ASIAEXAMPLE\n"
        "aws_secret_access_key=secret/key+=\n"
        "aws_session_token=token//==\n"
        "aws_credential_expiration=2024-05-01T12:00:00Z\n"
        "region=eu-west-1\n"
    )


@pytest.mark.parametrize("profile", ["a]b", "a\nb", "a\rb", "x]\n[evil"])
def test_export_ini_rejects_bad_profile(profile: str) -> None:
    with pytest.raises(ValueError):
        render_export(export_changes(), TEMPORARY, profile, "ini")


def test_export_ini_rejects_line_break_in_value() -> None:
    changes = EnvChanges({"AWS_ACCESS_KEY_ID": "a\n[other]", "AWS_SECRET_ACCESS_KEY": "s"})
    with pytest.raises(ValueError):
        render_export(changes, LONG_TERM, "p", "ini")


def test_export_formats_constant() -> None:
    assert EXPORT_FORMATS == ("env", "export-env", "json", "ini")
    assert ENV_FORMATS == ("bash", "zsh", "sh", "fish", "powershell", "dotenv", "json")


def test_module_stays_light() -> None:
    """formats is on the hot path: importing it must not drag in boto3 or similar."""
    code = (
        "import sys; import shellvault.output.formats; "
        "heavy = {'boto3', 'botocore', 'keyring', 'cryptography'} & set(sys.modules); "
        "print(sorted(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_dotenv_reader_stream_matches_file() -> None:
    """Sanity for the helper: reading from a stream gives the same answer on plain values."""
    import dotenv

    text = render(EnvChanges({"A": "1", "B": "x y"}), "dotenv")
    assert dict(dotenv.dotenv_values(stream=io.StringIO(text))) == dotenv_read(text)
