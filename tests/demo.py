"""The main job end to end, on an embedded default: `python -m tests.demo`.

Starts moto's STS server on loopback, makes a throwaway home with the mission's config and the
encrypted file keystore, then runs what a user runs: `add`, `env` with an MFA code, `exec` with a
command that asks STS who it is, a warm `env` with STS stopped, `list`, `clear`. Nothing outside the
temporary folder is touched.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.support import KEY_ID, MISSION_CONFIG, SECRET, StsProxy, clean_environment, moto_server

WHOAMI = (
    "import boto3, os; "
    "print(boto3.client('sts', endpoint_url=os.environ['DEMO_STS']).get_caller_identity()['Arn'])"
)


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="shellvault-demo-") as folder, moto_server() as moto:
        proxy = StsProxy(moto).start()
        env = clean_environment(Path(folder), proxy.url)
        Path(env["AWS_CONFIG_FILE"]).write_text(MISSION_CONFIG)

        def shellvault(*args: str, stdin: str | None = None, **extra: str) -> str:
            shown = " ".join(shlex.quote(a) for a in args)
            print(f"\n$ shellvault {shown}", flush=True)
            started = time.perf_counter()
            result = subprocess.run(
                [sys.executable, "-m", "shellvault", *args],
                input=stdin,
                capture_output=True,
                text=True,
                env={**env, **extra},
                start_new_session=True,
            )
            elapsed = (time.perf_counter() - started) * 1000
            # The demo prints what a user would see, minus the secrets.
            out = re.sub(
                r"((?:AWS_SECRET_ACCESS_KEY|AWS_SESSION_TOKEN)[= ])'[^']*'",
                r"\1'…redacted…'",
                result.stdout,
            )
            print(out.rstrip() + ("\n" if out else "") + result.stderr.rstrip())
            print(f"  [exit {result.returncode}, {elapsed:.0f} ms]")
            if result.returncode != 0:
                raise SystemExit(f"demo step failed: shellvault {shown}")
            return result.stdout

        print(f"throwaway home: {folder}\nSTS emulator (moto): {moto}\nconfig:\n{MISSION_CONFIG}")
        shellvault("add", "private", stdin=f"{KEY_ID}\n{SECRET}\n")
        shellvault("env", "--format", "bash", "-t", "123456", "private_admin")
        print(f"STS calls so far: {proxy.actions()}")
        shellvault("exec", "private_admin", "--", sys.executable, "-c", WHOAMI, DEMO_STS=moto)
        proxy.stop()
        print("\nSTS is now stopped: what follows is served from the cache.")
        shellvault("env", "--format", "fish", "private_admin")
        shellvault("list")
        shellvault("clear")
        print("\ndemo finished: one MFA code, one GetSessionToken, one AssumeRole.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
