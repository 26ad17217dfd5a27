"""Warm `direnv export json` with `use aws_profile P`, against an .envrc exporting one variable.

Run: `python -m bench.direnv [--runs N]`. Sets up a throwaway home against moto (as the tests
do), installs the library with `shellvault direnv install`, mints once, stops STS, then times
`direnv export json` in three project folders, alternating, N times each:

- `export ONE=1`: the baseline, direnv's own cost (start, stdlib, dump);
- `use aws_profile private_admin`: what users get on a warm cache (the fast path);
- the same with SHELLVAULT_DIRENV_FAST=0: the Python path, for comparison.

Budget (issue 3): the warm `use aws_profile` median at most 30 ms above the baseline median of
the same run. `shellvault` is the console script of a clean venv (bench.warm_env explains why).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.warm_env import clean_interpreter
from tests.support import KEY_ID, MISSION_CONFIG, SECRET, StsProxy, clean_environment, moto_server

BUDGET_MS = 30.0


def timed(project: Path, env: dict[str, str]) -> float:
    """Wall time in ms of one `direnv export json` that evaluates the project's .envrc."""
    started = time.perf_counter()
    result = subprocess.run(
        ["direnv", "export", "json"],
        cwd=project,
        env=env,
        capture_output=True,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    elapsed = (time.perf_counter() - started) * 1000
    if result.returncode != 0 or (b'"AWS_' not in result.stdout and b'"ONE"' not in result.stdout):
        raise SystemExit(f"direnv export json in {project.name} failed: {result.stderr.decode()}")
    if b"shellvault:" in result.stderr:
        raise SystemExit(f"use aws_profile failed in {project.name}: {result.stderr.decode()}")
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=30)
    runs = parser.parse_args().runs
    if shutil.which("direnv") is None:
        raise SystemExit("direnv is not installed (Debian: apt-get install direnv)")

    with tempfile.TemporaryDirectory(prefix="shellvault-bench-") as folder, moto_server() as url:
        root = Path(folder)
        python = clean_interpreter(root)
        bin_dir = str(Path(python).parent)
        proxy = StsProxy(url).start()
        env = clean_environment(root, proxy.url)
        env["PATH"] = f"{bin_dir}{os.pathsep}{env['PATH']}"
        env["DIRENV_LOG_FORMAT"] = "direnv: %s"
        Path(env["AWS_CONFIG_FILE"]).write_text(MISSION_CONFIG)

        def shellvault(*args: str, stdin: str | None = None) -> None:
            subprocess.run(
                ["shellvault", *args],
                input=stdin,
                env=env,
                check=True,
                capture_output=True,
                text=True,
            )

        shellvault("add", "private", stdin=f"{KEY_ID}\n{SECRET}\n")
        shellvault("env", "--format", "json", "-t", "123456", "private_admin")
        shellvault("direnv", "install")
        proxy.stop()  # from here on, only cache hits can succeed

        envrcs = {
            "export ONE=1 (baseline)": ("baseline", "export ONE=1\n", {}),
            "use aws_profile (warm, fast path)": (
                "fast",
                "use aws_profile private_admin\n",
                {},
            ),
            "use aws_profile (warm, Python path)": (
                "python",
                "use aws_profile private_admin\n",
                {"SHELLVAULT_DIRENV_FAST": "0"},
            ),
        }
        cases: dict[str, tuple[Path, dict[str, str]]] = {}
        for name, (folder_name, text, extra) in envrcs.items():
            project = root / folder_name
            project.mkdir()
            (project / ".envrc").write_text(text)
            subprocess.run(["direnv", "allow", str(project)], env=env, check=True)
            cases[name] = (project, {**env, **extra})

        results: dict[str, list[float]] = {name: [] for name in cases}
        for project, case_env in cases.values():
            timed(project, case_env)  # renders the fast-path file; warms the OS caches
        for _ in range(runs):
            for name, (project, case_env) in cases.items():
                results[name].append(timed(project, case_env))

    medians = {name: statistics.median(samples) for name, samples in results.items()}
    base = medians["export ONE=1 (baseline)"]
    direnv_version = subprocess.run(["direnv", "version"], capture_output=True, text=True).stdout
    print(
        f"direnv {direnv_version.strip()}, bash in .envrc, Python {sys.version.split()[0]}; "
        f"{runs} runs each, alternating"
    )
    print(f"{'direnv export json with':<40} {'median ms':>10} {'+ vs baseline':>14}")
    for name, median in medians.items():
        print(f"{name:<40} {median:>10.1f} {median - base:>+14.1f}")
    extra = medians["use aws_profile (warm, fast path)"] - base
    verdict = "within" if extra <= BUDGET_MS else "OVER"
    budget = f"warm use aws_profile <= baseline + {BUDGET_MS:.0f} ms"
    print(f"budget ({budget}): {verdict} ({extra:+.1f} ms)")
    return 0 if verdict == "within" else 1


if __name__ == "__main__":
    raise SystemExit(main())
