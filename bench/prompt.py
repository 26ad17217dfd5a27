"""The prompt segment and the refresh hook while credentials are fresh: forks and time per prompt.

Run: `python -m bench.prompt [--prompts N] [--calls N]`. Needs bash, zsh, fish, strace and pexpect.
No STS and no cache are involved: with fresh credentials the hook must not run shellvault at all,
so the shells get a profile and an expiry one hour ahead and nothing else.

For each shell, three measurements:

- forks per prompt: a real interactive shell on a pseudo-terminal under `strace -f`, Enter pressed
  N times; processes created (clone/clone3/fork/vfork without CLONE_THREAD) with N prompts minus
  with none, divided by N. Configurations: the shell alone with a prompt of the same shape
  (baseline), the snippet with the segment read from SHELLVAULT_PROMPT_TEXT, and (bash, zsh) the
  segment through `$(shellvault_prompt)`, which forks a subshell per prompt.
- time per prompt: the same interactive round trip (Enter to the next prompt) without strace.
- time per hook call: `_shellvault_hook` called in a loop in a non-interactive shell, loop of N
  calls minus an empty loop of N, divided by N: the hook's own cost, without terminal noise.

Target (issue 3): 0 forks per prompt while fresh in bash >= 5 and zsh; fish as few as it allows.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHELLS = ("bash", "zsh", "fish")
PROMPT = re.compile(r"\[[^][\r\n\x1b]*\]SV> ")
ARGV = {"bash": ["--norc", "--noprofile", "-i"], "zsh": ["-f", "-i"], "fish": ["--no-config", "-i"]}
FLAGS = {"bash": ["--norc", "--noprofile"], "zsh": ["-f"], "fish": ["--no-config"]}

# The prompt of each configuration; `S''V` keeps the typed line from matching PROMPT.
BASH_SEGMENT = "PS1='[${SHELLVAULT_PROMPT_TEXT}]S''V> '"
ZSH_SEGMENT = "setopt prompt_subst; PS1='[${SHELLVAULT_PROMPT_TEXT}]S''V> '"
FISH_SEGMENT = "function fish_prompt; printf '[%s]S''V> ' \"$SHELLVAULT_PROMPT_TEXT\"; end"
CONFIGS: dict[str, dict[str, tuple[bool, str]]] = {
    # name: (load the snippet, prompt setup)
    "bash": {
        "baseline": (False, "PS1='[x]S''V> '"),
        "segment": (True, BASH_SEGMENT),
        "$(shellvault_prompt)": (True, "PS1='[$(shellvault_prompt)]S''V> '"),
    },
    "zsh": {
        "baseline": (False, "PS1='[x]S''V> '"),
        "segment": (True, ZSH_SEGMENT),
        "$(shellvault_prompt)": (True, "setopt prompt_subst; PS1='[$(shellvault_prompt)]S''V> '"),
    },
    "fish": {
        "baseline": (False, "function fish_prompt; printf '[x]S''V> '; end"),
        "segment": (True, FISH_SEGMENT),
        "(shellvault_prompt)": (
            True,
            "function fish_prompt; printf '[%s]S''V> ' (shellvault_prompt); end",
        ),
    },
}
QUIET = {
    "bash": "bind 'set enable-bracketed-paste off'; ",
    "zsh": "unset zle_bracketed_paste; ",
    "fish": "set -g fish_greeting; ",
}


def environment() -> dict[str, str]:
    """Fresh credentials as far as the hook can tell; nothing that could reach STS."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "SHELLVAULT_"))}
    env.update(
        SHELLVAULT_PROFILE="private_admin",
        SHELLVAULT_EXPIRES=str(int(time.time()) + 3600),
        TERM="xterm",
        LC_ALL="C.UTF-8",
    )
    return env


def setup_line(shell: str, config: str) -> str:
    load, prompt = CONFIGS[shell][config]
    source = f"source {ROOT / 'shell' / f'shellvault.{shell}'}; " if load else ""
    return QUIET[shell] + source + prompt


def interactive(shell: str, config: str, prompts: int, trace: Path | None, home: Path) -> float:
    """Press Enter `prompts` times; milliseconds per prompt. Under strace when `trace` is set."""
    import pexpect

    command = [shutil.which(shell) or shell, *ARGV[shell]]
    if trace is not None:
        strace = ["strace", "-f", "-qq", "-e", "trace=clone,clone3,fork,vfork", "-o", str(trace)]
        command = strace + command
    child = pexpect.spawn(
        command[0],
        command[1:],
        env={**environment(), "HOME": str(home), "XDG_DATA_HOME": str(home / "data")},
        encoding="utf-8",
        codec_errors="replace",
        timeout=30,
        dimensions=(50, 300),
    )
    # pexpect waits 50 ms before each send by default, which would swamp what is measured.
    child.delaybeforesend = None
    try:
        child.sendline(setup_line(shell, config))
        child.expect(PROMPT)
        started = time.perf_counter()
        for _ in range(prompts):
            child.sendline("")
            child.expect(PROMPT)
        elapsed = time.perf_counter() - started
        child.sendline("exit")
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    return elapsed * 1000 / max(prompts, 1)


def processes(trace: Path) -> int:
    # Threads (fish runs some) are clones too, but not processes.
    calls = (line for line in trace.read_text().splitlines() if "CLONE_THREAD" not in line)
    return sum(1 for line in calls if re.search(r"\b(clone3?|v?fork)\(", line))


def forks_per_prompt(shell: str, config: str, prompts: int, home: Path) -> float:
    counts = []
    for n in (0, prompts):
        trace = home / f"trace-{shell}"
        interactive(shell, config, n, trace, home)
        counts.append(processes(trace))
    return (counts[1] - counts[0]) / prompts


def hook_call_us(shell: str, calls: int) -> float:
    """Microseconds per `_shellvault_hook` call, an empty loop subtracted."""
    snippet = ROOT / "shell" / f"shellvault.{shell}"
    if shell == "fish":
        words = " ".join(["x"] * calls)
        loops = {
            "hook": f"for i in (string split ' ' -- {words}); _shellvault_hook; end",
            "empty": f"for i in (string split ' ' -- {words}); true; end",
        }
    else:
        words = " ".join(["x"] * calls)
        loops = {
            "hook": f"for i in {words}; do _shellvault_hook; done",
            "empty": f"for i in {words}; do :; done",
        }
    times: dict[str, float] = {}
    for name, loop in loops.items():
        samples = []
        for _ in range(5):
            started = time.perf_counter()
            subprocess.run(
                [shutil.which(shell) or shell, *FLAGS[shell], "-c", f"source {snippet}\n{loop}"],
                env=environment(),
                check=True,
                stdin=subprocess.DEVNULL,
            )
            samples.append(time.perf_counter() - started)
        times[name] = statistics.median(samples)
    return (times["hook"] - times["empty"]) * 1e6 / calls


def versions() -> dict[str, str]:
    found = {}
    for shell in SHELLS:
        out = subprocess.run(
            [shell, "--version"], capture_output=True, text=True, check=True
        ).stdout.splitlines()[0]
        found[shell] = out
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", type=int, default=50, help="prompts per interactive run")
    parser.add_argument("--calls", type=int, default=2000, help="hook calls per timed loop")
    args = parser.parse_args()
    for tool in (*SHELLS, "strace"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} is not installed")
    for shell, version in versions().items():
        print(f"{shell}: {version}")
    print()
    print("| shell | prompt | forks per prompt | ms per prompt (pty round trip) |")
    print("|---|---|---|---|")
    with tempfile.TemporaryDirectory(prefix="shellvault-bench-") as folder:
        home = Path(folder)
        for shell in SHELLS:
            for config in CONFIGS[shell]:
                forks = forks_per_prompt(shell, config, args.prompts, home)
                times = [interactive(shell, config, args.prompts, None, home) for _ in range(3)]
                print(f"| {shell} | {config} | {forks:g} | {statistics.median(times):.2f} |")
    print()
    print("| shell | `_shellvault_hook` while fresh, per call |")
    print("|---|---|")
    for shell in SHELLS:
        print(f"| {shell} | {hook_call_us(shell, args.calls):.1f} µs |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
