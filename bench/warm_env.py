"""Warm `shellvault env --format bash PROFILE` against a bare interpreter and the AWS CLI v2.

Run: `python -m bench.warm_env [--runs N]`. Sets up a throwaway home against moto (as the tests
do), mints once, then times each command N times in alternation and reads each child's peak
memory from wait4(). Budgets (issue 2): median <= 3.5x `python -c pass`, peak <= 25 MB.

The peer is Debian's AWS CLI v2 (`/usr/bin/aws`) answering `configure export-credentials` for the
same kind of MFA role profile from its own AssumeRole cache (`~/.aws/cli/cache`). That cache entry
is written here with the file name botocore derives (sha1 of the sorted AssumeRole arguments), so
the CLI really takes its cache-hit path; the command runs with no terminal and would fail if it
needed to assume the role (MFA prompt).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.support import KEY_ID, MISSION_CONFIG, SECRET, StsProxy, clean_environment, moto_server

GNU_TIME = "/usr/bin/time"  # Debian package `time`

# The same role as the mission's `private_admin`, under names the AWS CLI resolves itself (its
# source profile has a key in ~/.aws/credentials, which only this throwaway home contains).
PEER_CONFIG = (
    MISSION_CONFIG[MISSION_CONFIG.index("[profile private_admin]") :]
    .replace("[profile private_admin]", "[profile peer_admin]")
    .replace("source_profile=private", "source_profile=peer_source")
)


def timed(command: list[str], env: dict[str, str], report: Path) -> tuple[float, int]:
    """Wall time in ms and peak RSS in MB of one run.

    Peak memory comes from GNU time: a child's own rusage would include the memory of this
    (much larger) benchmark process it was forked from.
    """
    started = time.perf_counter()
    result = subprocess.run(
        [GNU_TIME, "-f", "%M", "-o", str(report), *command],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    elapsed = (time.perf_counter() - started) * 1000
    if result.returncode != 0:
        raise SystemExit(f"{command[:3]} failed: {result.stderr.decode().strip()}")
    return elapsed, int(report.read_text().split()[-1]) // 1024


def seed_peer_cache(home: Path, credentials: dict[str, str]) -> None:
    """Put the same role credentials in the AWS CLI's own AssumeRole cache."""
    args = {
        "RoleArn": "arn:aws:iam::123456789012:role/admins-assume",
        "RoleSessionName": "user01",
        "SerialNumber": "arn:aws:iam::123456789012:mfa/user01",
    }
    key = hashlib.sha1(json.dumps(args, sort_keys=True).encode()).hexdigest()
    cache = home / ".aws" / "cli" / "cache"
    cache.mkdir(parents=True, exist_ok=True)
    (cache / f"{key}.json").write_text(
        json.dumps(
            {
                "Credentials": {
                    "AccessKeyId": credentials["AWS_ACCESS_KEY_ID"],
                    "SecretAccessKey": credentials["AWS_SECRET_ACCESS_KEY"],
                    "SessionToken": credentials["AWS_SESSION_TOKEN"],
                    "Expiration": credentials["AWS_CREDENTIAL_EXPIRATION"],
                }
            }
        )
    )
    # The CLI resolves the source profile before it looks in its cache.
    (home / ".aws" / "credentials").write_text(
        f"[peer_source]\naws_access_key_id={KEY_ID}\naws_secret_access_key={SECRET}\n"
    )


def clean_interpreter(folder: Path) -> str:
    """A venv whose only additions are plain path entries: this repo and the installed packages.

    The machine's own site-packages may carry `.pth` files that import things at start-up (here a
    CA bundle hook imports certifi, ~12 ms and several MB); a user's install would not have them,
    and they would inflate both the baseline and shellvault alike. Path-only entries add no code.
    """
    import site
    import venv

    target = folder / "venv"
    venv.EnvBuilder(with_pip=False, symlinks=True).create(target)
    python = target / "bin" / "python"
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    repo = Path(__file__).resolve().parent.parent
    # pip compiles bytecode at install time; this checkout may have been run with
    # PYTHONDONTWRITEBYTECODE=1 (set on this machine), which would leave none.
    import compileall

    compileall.compile_dir(str(repo / "shellvault"), quiet=1)
    lines = [str(repo), *site.getsitepackages()]
    Path(purelib, "bench-paths.pth").write_text("\n".join(lines) + "\n")
    # The same launcher pip writes for the `shellvault` console script: what users run.
    script = target / "bin" / "shellvault"
    script.write_text(
        f"#!{python}\nimport re\nimport sys\nfrom shellvault.cli import main\n"
        "if __name__ == '__main__':\n"
        "    sys.argv[0] = re.sub(r'(-script\\.pyw|\\.exe)?$', '', sys.argv[0])\n"
        "    sys.exit(main())\n"
    )
    script.chmod(0o755)
    return str(python)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=30)
    runs = parser.parse_args().runs
    aws = "/usr/bin/aws"

    with tempfile.TemporaryDirectory(prefix="shellvault-bench-") as folder, moto_server() as url:
        python = clean_interpreter(Path(folder))
        shellvault = [str(Path(python).with_name("shellvault"))]
        proxy = StsProxy(url).start()
        env = clean_environment(Path(folder), proxy.url)
        home = Path(env["HOME"])
        Path(env["AWS_CONFIG_FILE"]).write_text(MISSION_CONFIG + "\n" + PEER_CONFIG)
        subprocess.run(
            [*shellvault, "add", "private"],
            input=f"{KEY_ID}\n{SECRET}\n",
            env=env,
            check=True,
            capture_output=True,
            text=True,
        )
        minted = subprocess.run(
            [*shellvault, "env", "--format", "json", "-t", "123456", "private_admin"],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        )
        proxy.stop()  # from here on, only cache hits can succeed
        commands: dict[str, list[str]] = {
            "python -c pass": [python, "-c", "pass"],
            "shellvault env (warm)": [*shellvault, "env", "--format", "bash", "private_admin"],
        }
        if os.access(aws, os.X_OK):
            seed_peer_cache(home, json.loads(minted.stdout))
            commands["aws configure export-credentials (cache hit)"] = [
                aws,
                "configure",
                "export-credentials",
                "--profile",
                "peer_admin",
                "--format",
                "env",
            ]
        else:
            print(f"note: {aws} not found; no peer figure")

        report = Path(folder) / "rss"
        results: dict[str, list[tuple[float, int]]] = {name: [] for name in commands}
        for command in commands.values():
            timed(command, env, report)  # warm the OS caches once
        for _ in range(runs):
            for name, command in commands.items():
                results[name].append(timed(command, env, report))

    base = statistics.median(t for t, _ in results["python -c pass"])
    print(f"interpreter: {sys.version.split()[0]} in a clean venv; {runs} runs each, alternating")
    print(f"{'command':<48} {'median ms':>10} {'x python':>9} {'peak MB':>8}")
    for name, samples in results.items():
        median = statistics.median(t for t, _ in samples)
        peak = max(m for _, m in samples)
        print(f"{name:<48} {median:>10.1f} {median / base:>9.2f} {peak:>8}")
    warm = results["shellvault env (warm)"]
    ratio = statistics.median(t for t, _ in warm) / base
    peak = max(m for _, m in warm)
    verdict = "within" if ratio <= 3.5 and peak <= 25 else "OVER"
    print(f"budget (<= 3.5x python, <= 25 MB): {verdict} ({ratio:.2f}x, {peak} MB)")
    return 0 if verdict == "within" else 1


if __name__ == "__main__":
    raise SystemExit(main())
