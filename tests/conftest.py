from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support import KEY_ID, MISSION_CONFIG, SECRET, StsProxy, clean_environment, moto_server


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Under CI=true a skip is a failure: a missing shell or daemon is a broken CI, not a pass."""
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if os.environ.get("CI") == "true" and report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = f"skipped under CI=true: {report.longrepr}"


@pytest.fixture(scope="session")
def moto_url() -> Iterator[str]:
    with moto_server() as url:
        yield url


@pytest.fixture(scope="module")
def shared_sts(moto_url: str) -> Iterator[StsProxy]:
    proxy = StsProxy(moto_url).start()
    yield proxy
    proxy.stop()


@pytest.fixture
def sts(request: pytest.FixtureRequest, moto_url: str) -> Iterator[StsProxy]:
    """A recording proxy in front of moto, new for each test.

    A module that primes one home and copies it into every test sets `SHARED_STS = True`: the
    proxy's URL is part of every cache key, so the copies only stay warm behind the same proxy,
    which is then reset for each test instead.
    """
    if getattr(request.module, "SHARED_STS", False):
        shared: StsProxy = request.getfixturevalue("shared_sts")
        shared.reset()
        yield shared
        return
    proxy = StsProxy(moto_url).start()
    yield proxy
    proxy.stop()


@dataclass
class Shellvault:
    """Runs the real `shellvault` in a subprocess with no controlling terminal."""

    env: dict[str, str]
    root: Path

    @property
    def config_path(self) -> Path:
        return Path(self.env["AWS_CONFIG_FILE"])

    @property
    def cache_dir(self) -> Path:
        return Path(self.env["XDG_RUNTIME_DIR"]) / "shellvault"

    def write_config(self, text: str) -> None:
        self.config_path.write_text(text)

    def run(
        self,
        *args: str,
        input: str | None = None,
        env: dict[str, str] | None = None,
        timeout: float = 60,
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "shellvault", *args],
            input=input,
            capture_output=True,
            text=True,
            env={**self.env, **(env or {})},
            timeout=timeout,
            # A new session has no controlling terminal: a prompt can never hang a test.
            start_new_session=True,
            stdin=None if input is not None else subprocess.DEVNULL,
        )

    def ok(self, *args: str, **kwargs: object) -> subprocess.CompletedProcess[str]:
        result = self.run(*args, **kwargs)  # type: ignore[arg-type]
        assert result.returncode == 0, result.stderr
        return result

    def add_key(self, profile: str = "private") -> None:
        self.ok("add", profile, input=f"{KEY_ID}\n{SECRET}\n")

    def env_json(
        self, profile: str, *flags: str, env: dict[str, str] | None = None
    ) -> dict[str, str | None]:
        import json

        result = self.ok("env", "--format", "json", *flags, profile, env=env)
        return dict(json.loads(result.stdout))


@pytest.fixture
def sv(tmp_path: Path, sts: StsProxy) -> Shellvault:
    return Shellvault(clean_environment(tmp_path, sts.url), tmp_path)


@pytest.fixture
def mission(sv: Shellvault) -> Shellvault:
    """The mission's setup: `private` holds the key, `private_admin` is a role with MFA."""
    sv.write_config(MISSION_CONFIG)
    sv.add_key("private")
    return sv


@pytest.fixture(autouse=True)
def _no_ambient_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith(("AWS_", "SHELLVAULT_")):
            monkeypatch.delenv(name)
