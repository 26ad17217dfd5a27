"""`use aws_profile` at a real terminal: bash, zsh and fish hosting direnv, driven through a
pseudo-terminal with pexpect.

- `cd` into the project loads the credentials and `cd` out unloads them, in each shell;
- an MFA code typed at the terminal prompt works under direnv in each shell. fish runs direnv's
  hook with the terminal still in its editor mode (Enter sends CR, no echo), where a line read
  from /dev/tty would never end: this test sends Enter as a real terminal does, `\\r`.

Shells start without rc files. Every wait is on a pattern in the output; nothing sleeps.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

import tests.test_direnv as base
from tests.conftest import Shellvault
from tests.support import SECRET, StsProxy, require
from tests.test_direnv import Direnv

# The same fixtures as test_direnv.py: one shared STS proxy, a primed home copied per test.
template, dv, mdv = base.template, base.dv, base.mdv

# One primed home is copied into every test: see the `sts` fixture in conftest.py.
SHARED_STS = True

pexpect = pytest.importorskip("pexpect")

SHELLS = {
    "bash": (["--norc", "--noprofile", "-i"], 'eval "$(direnv hook bash)"'),
    "zsh": (["-f", "-i"], 'eval "$(direnv hook zsh)"'),
    "fish": (["--no-config", "-i"], "direnv hook fish | source"),
}
PROMPTS = {
    "bash": "PS1='READY''> '",
    "zsh": "PS1='READY''> '",
    "fish": "function fish_prompt; printf 'READY''> '; end",
}
READY = "READY> "
KEY = re.compile(r"KEY=\[(ASIA[A-Z0-9]+)?\]")


class Terminal:
    def __init__(self, shell: str, d: Direnv) -> None:
        binary = require(shell)
        args, hook = SHELLS[shell]
        env = {**d.env, "TERM": "xterm", "fish_greeting": ""}
        self.child = pexpect.spawn(
            binary, args, env=env, cwd=str(d.sv.root), encoding="utf-8", timeout=30
        )
        self.run(PROMPTS[shell])
        self.run(hook)

    def run(self, line: str) -> str:
        """Type `line`, wait for the next prompt, return what was printed in between."""
        self.child.sendline(line)
        self.child.expect_exact(READY)
        return str(self.child.before)

    def key(self) -> str | None:
        # "K""EY": the typed command line never matches the pattern, only the output does.
        self.child.sendline('echo "K""EY=[$AWS_ACCESS_KEY_ID]"')
        self.child.expect(KEY)
        match = self.child.match
        self.child.expect_exact(READY)
        return match.group(1) if match else None

    def close(self) -> None:
        self.child.close(force=True)


@pytest.fixture
def terminals() -> Iterator[list[Terminal]]:
    opened: list[Terminal] = []
    yield opened
    for terminal in opened:
        terminal.close()


@pytest.mark.parametrize("shell", SHELLS)
def test_cd_loads_and_unloads(
    mdv: Direnv, sts: StsProxy, shell: str, terminals: list[Terminal]
) -> None:
    require("direnv")
    mdv.envrc("use aws_profile private_admin\n")
    expected = mdv.sv.env_json("private_admin")["AWS_ACCESS_KEY_ID"]
    term = Terminal(shell, mdv)
    terminals.append(term)
    assert term.key() is None
    entered = term.run("cd project")
    assert "direnv: using aws_profile private_admin" in entered
    assert re.search(r"direnv: aws_profile private_admin: \S+ left \(until ", entered)
    assert "+AWS_ACCESS_KEY_ID" in entered and SECRET not in entered
    assert term.key() == expected
    left = term.run("cd ..")
    assert "direnv: unloading" in left
    assert term.key() is None
    assert sts.requests == []


@pytest.mark.parametrize("shell", SHELLS)
def test_mfa_code_typed_at_the_terminal(
    mission: Shellvault, dv: Direnv, sts: StsProxy, shell: str, terminals: list[Terminal]
) -> None:
    dv.envrc("use aws_profile private_admin\n")
    term = Terminal(shell, dv)
    terminals.append(term)
    term.child.sendline("cd project")
    term.child.expect_exact("MFA code for arn:aws:iam::123456789012:mfa/user01")
    term.child.send("123456\r")  # Enter, as a terminal sends it
    term.child.expect_exact("direnv: export +AWS_ACCESS_KEY_ID")
    term.child.expect_exact(READY)
    key = term.key()
    assert key is not None
    assert sts.actions() == ["GetSessionToken", "AssumeRole"]
    assert sts.requests[0]["TokenCode"] == "123456"
    # The terminal is back in the shell's hands: a command still runs.
    assert "hello" in term.run("echo hel''lo")
