"""The real Secret Service backend, end to end: gnome-keyring-daemon on a private D-Bus session bus.

Each test gets its own session bus and keyring daemon, both started here and stopped by the PID this
fixture started, in a throwaway home shared with the `shellvault` subprocesses (keyrings land in
`$XDG_DATA_HOME/keyrings`). The bus has no service activation: nothing (a second keyring daemon, a
prompter) can start behind the fixture's back, so a stopped daemon stays stopped and an unlock
prompt is dismissed at once, as on a headless machine.

The stored items are checked independently of `keyring`: with `secret-tool` (libsecret) and with
`secretstorage` on a connection of the test's own.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Shellvault
from tests.support import KEY_ID, MISSION_CONFIG, SECRET, StsProxy, clean_environment, require

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="Secret Service through gnome-keyring: Linux only"
)

KEYRING_PASSWORD = "keyring test password"
SECRETS_BUS_NAME = "org.freedesktop.secrets"

# The stock session bus minus <standard_session_servicedirs/>: no D-Bus activation.
BUS_CONFIG = """\
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:tmpdir=/tmp</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"""


def stop(process: subprocess.Popen[Any] | None) -> None:
    """Terminate one process this module started, and reap it."""
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(5)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(5)


@dataclass
class SecretService:
    """A private session bus with gnome-keyring-daemon's secrets component on it."""

    root: Path
    env: dict[str, str]
    address: str = ""
    bus: subprocess.Popen[str] | None = None
    daemon: subprocess.Popen[str] | None = None
    logs: list[Path] = field(default_factory=list)

    @property
    def keyrings(self) -> Path:
        return Path(self.env["XDG_DATA_HOME"]) / "keyrings"

    def start_bus(self) -> None:
        config = self.root / "bus.conf"
        config.write_text(BUS_CONFIG)
        log = self.root / "dbus-daemon.log"
        self.logs.append(log)
        with open(log, "w") as stderr:
            self.bus = subprocess.Popen(
                [
                    require("dbus-daemon"),
                    f"--config-file={config}",
                    "--nofork",
                    "--print-address=1",
                ],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=stderr,
                env=self.env,
                text=True,
            )
        assert self.bus.stdout is not None
        self.address = self.bus.stdout.readline().strip()
        self.bus.stdout.close()
        if not self.address:
            raise RuntimeError(f"dbus-daemon printed no address: {log.read_text()}")
        self.env["DBUS_SESSION_BUS_ADDRESS"] = self.address

    def start_keyring(self, unlock: bool = True) -> None:
        """Start the daemon in the foreground (so its PID is ours); wait for its bus name."""
        command = [require("gnome-keyring-daemon"), "--foreground", "--components=secrets"]
        if unlock:
            command.append("--unlock")  # the password is read from stdin up to its end
        log = self.root / f"gnome-keyring-{len(self.logs)}.log"
        self.logs.append(log)
        with open(log, "w") as stderr:
            self.daemon = subprocess.Popen(
                command,
                stdin=subprocess.PIPE if unlock else subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
                env=self.env,
                text=True,
            )
        if unlock:
            assert self.daemon.stdin is not None
            self.daemon.stdin.write(KEYRING_PASSWORD)
            self.daemon.stdin.close()
        deadline = time.monotonic() + 10
        while not self.name_has_owner():
            if self.daemon.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"gnome-keyring-daemon did not come up: {log.read_text()}")
            time.sleep(0.01)
        if unlock:
            with self.connection() as connection:
                assert not self.default_collection(connection).is_locked()

    def stop_keyring(self) -> None:
        stop(self.daemon)
        self.daemon = None

    def restart_keyring(self, unlock: bool, fresh: bool = False) -> None:
        self.stop_keyring()
        if fresh:
            shutil.rmtree(self.keyrings, ignore_errors=True)
        self.start_keyring(unlock)

    def close(self) -> None:
        self.stop_keyring()
        stop(self.bus)
        self.bus = None

    # Looking at the store without `keyring` ----------------------------------------------------

    @contextlib.contextmanager
    def connection(self) -> Iterator[Any]:
        from jeepney.io.blocking import open_dbus_connection

        connection = open_dbus_connection(bus=self.address)
        try:
            yield connection
        finally:
            connection.close()

    def name_has_owner(self) -> bool:
        from jeepney.bus_messages import message_bus

        with self.connection() as connection:
            reply = connection.send_and_get_reply(message_bus.NameHasOwner(SECRETS_BUS_NAME))
            return bool(reply.body[0])

    @staticmethod
    def default_collection(connection: Any) -> Any:
        import secretstorage

        return secretstorage.Collection(connection)  # the "default" alias: `login` here

    def items(self, service: str) -> list[tuple[dict[str, str], str]]:
        """(attributes, secret) of every item with this service attribute, via secretstorage."""
        import secretstorage

        with self.connection() as connection:
            return [
                (dict(item.get_attributes()), item.get_secret().decode())
                for item in secretstorage.search_items(connection, {"service": service})
            ]

    def lock(self) -> None:
        """Lock the login keyring, as a screen lock or an idle timeout does."""
        # `secret-tool lock --collection=...` crashes (libsecret-tools 0.20): lock over D-Bus.
        with self.connection() as connection:
            collection = self.default_collection(connection)
            collection.lock()
            assert collection.is_locked()

    def secret_tool(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [require("secret-tool"), *args],
            capture_output=True,
            text=True,
            env=self.env,
            timeout=20,
            stdin=subprocess.DEVNULL,
        )


def daemon_environment(tmp_path: Path) -> dict[str, str]:
    """The same home and runtime folder the `shellvault` subprocesses get, nothing ambient."""
    env = clean_environment(tmp_path, sts_url="")
    for name in list(env):
        if name.startswith(("AWS_", "SHELLVAULT_", "DBUS_", "GNOME_KEYRING_")):
            del env[name]
    return env


@pytest.fixture
def secret_service(tmp_path: Path) -> Iterator[SecretService]:
    """A private session bus and an unlocked gnome-keyring (about 30 ms to start)."""
    service = SecretService(tmp_path / "daemons", daemon_environment(tmp_path))
    service.root.mkdir()
    try:
        service.start_bus()
        service.start_keyring(unlock=True)
        yield service
    finally:
        service.close()


@pytest.fixture
def sv(tmp_path: Path, sts: StsProxy, secret_service: SecretService) -> Shellvault:
    """This module's `sv` (and so `mission`): the secret-service backend on the private bus."""
    env = clean_environment(tmp_path, sts.url)
    for name in list(env):
        if name.startswith(("DBUS_", "GNOME_KEYRING_", "PYTHON_KEYRING")):
            del env[name]
    del env["SHELLVAULT_FILE_PASSPHRASE"]
    env.update(
        SHELLVAULT_BACKEND="secret-service",
        DBUS_SESSION_BUS_ADDRESS=secret_service.address,
    )
    return Shellvault(env, tmp_path)


def assert_keystore_failure(result: subprocess.CompletedProcess[str], *words: str) -> str:
    """One `shellvault:` line on stderr about the keystore, nothing on stdout, a failing exit."""
    assert result.returncode != 0, result
    assert result.stdout == ""
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    line = lines[0]
    assert line.startswith("shellvault: ") and "keystore" in line, line
    for word in words:
        assert word in line, line
    return line


def files_under(folder: Path) -> bytes:
    return b"".join(p.read_bytes() for p in folder.rglob("*") if p.is_file())


# 1. add and env --------------------------------------------------------------------------------


def test_add_and_env_keep_key_and_mfa_session_in_secret_service(
    sv: Shellvault, sts: StsProxy, secret_service: SecretService
) -> None:
    sv.write_config(MISSION_CONFIG)
    added = sv.ok("add", "private", input=f"{KEY_ID}\n{SECRET}\n")
    assert "secret-service keystore" in added.stderr

    # The key, as the Secret Service holds it.
    ((attributes, secret),) = secret_service.items("shellvault")
    assert attributes["service"] == "shellvault" and attributes["username"] == "private"
    assert json.loads(secret) == {"AccessKeyId": KEY_ID, "SecretAccessKey": SECRET}
    # And as another client (libsecret) finds it.
    search = secret_service.secret_tool("search", "--all", "service", "shellvault")
    assert search.returncode == 0, search.stderr
    assert "attribute.username = private" in search.stderr  # secret-tool prints attributes there
    looked_up = secret_service.secret_tool("lookup", "service", "shellvault", "username", "private")
    assert json.loads(looked_up.stdout) == {"AccessKeyId": KEY_ID, "SecretAccessKey": SECRET}
    # Nothing went to the file backend.
    assert not (sv.root / "home" / ".local" / "share" / "shellvault" / "keys").exists()

    env = sv.env_json("private_admin", "-t", "123456")
    assert str(env["AWS_ACCESS_KEY_ID"]).startswith("ASIA")
    assert env["SHELLVAULT_PROFILE"] == "private_admin"
    assert sts.actions() == ["GetSessionToken", "AssumeRole"]

    # The MFA session is in the Secret Service, under the cache key the index knows ...
    ((session_attributes, session_secret),) = secret_service.items("shellvault-session")
    session = json.loads(session_secret)
    assert session["SessionToken"]
    rows = {r["profile"]: r for r in json.loads(sv.ok("list", "--json").stdout)}
    assert [s["store"] for s in rows["private"]["sessions"]] == ["keystore"]
    cache_key = session_attributes["username"]
    # ... and only the role's credentials are in the file cache.
    entries = [json.loads(p.read_text()) for p in sv.cache_dir.glob("*.json")]
    assert [(e["kind"], e["profile"]) for e in entries] == [("assume-role", "private_admin")]
    assert entries[0]["credentials"]["AccessKeyId"] == env["AWS_ACCESS_KEY_ID"]
    assert not (sv.cache_dir / f"{cache_key}.json").exists()
    # No file anywhere in the home or runtime folder holds the key or the MFA session in clear:
    # gnome-keyring's login.keyring is encrypted with the keyring password.
    everything = files_under(sv.root / "home") + files_under(sv.root / "run")
    assert (secret_service.keyrings / "login.keyring").is_file()
    for value in (SECRET, session["SecretAccessKey"], session["SessionToken"]):
        assert value.encode() not in everything


# 2. the warm path ------------------------------------------------------------------------------


def test_warm_env_does_not_touch_dbus(
    mission: Shellvault, sts: StsProxy, secret_service: SecretService, tmp_path: Path
) -> None:
    first = mission.env_json("private_admin", "-t", "123456")
    # No Secret Service and no bus any more: any D-Bus call would now fail.
    secret_service.stop_keyring()
    no_bus = {"DBUS_SESSION_BUS_ADDRESS": f"unix:path={tmp_path}/no-such-bus"}
    second = mission.env_json("private_admin", env=no_bus)
    assert second == first
    assert sts.actions() == ["GetSessionToken", "AssumeRole"]
    # The control: what does need the keystore fails in the same environment.
    needs_key = mission.run("env", "--format", "json", "-n", "private", env=no_bus)
    assert_keystore_failure(needs_key, "secret-service keystore is unavailable", "profile private")


# 3. a locked keystore --------------------------------------------------------------------------


LOCKINGS: dict[str, Callable[[SecretService], None]] = {
    # The login keyring locked while the daemon runs (screen lock, idle timeout).
    "locked": SecretService.lock,
    # The daemon started at login without the password: the keyring on disk stays locked.
    "started-locked": lambda service: service.restart_keyring(unlock=False),
    # No keyring yet and nobody to answer the prompt that would create one: "Prompt dismissed".
    "no-keyring": lambda service: service.restart_keyring(unlock=False, fresh=True),
}


@pytest.mark.parametrize("how", list(LOCKINGS))
def test_locked_keystore_fails_cleanly(
    how: str, mission: Shellvault, sts: StsProxy, secret_service: SecretService
) -> None:
    LOCKINGS[how](secret_service)
    expected = "is locked" if how != "no-keyring" else "Prompt dismissed"

    env = mission.run("env", "--format", "json", "-t", "123456", "private_admin")
    line = assert_keystore_failure(env, "secret-service keystore", expected)
    assert "profile private" in line
    config = mission.config_path.read_text()
    add = mission.run("add", "other", input=f"{KEY_ID}\n{SECRET}\n")
    assert_keystore_failure(add, "secret-service keystore", expected, "profile other")
    assert sts.requests == []
    assert mission.config_path.read_text() == config  # a failed add adds no profile section
    assert "other" not in mission.ok("list", "--json").stdout


# 4. remove -------------------------------------------------------------------------------------


def test_remove_deletes_key_and_session_from_secret_service(
    mission: Shellvault, secret_service: SecretService
) -> None:
    mission.env_json("private_admin", "-t", "123456")
    assert len(secret_service.items("shellvault")) == 1
    assert len(secret_service.items("shellvault-session")) == 1

    mission.ok("remove", "--force", "private")
    assert secret_service.items("shellvault") == []
    assert secret_service.items("shellvault-session") == []
    lookup = secret_service.secret_tool("lookup", "service", "shellvault", "username", "private")
    assert lookup.returncode != 0 and lookup.stdout == ""
    rows = {r["profile"]: r for r in json.loads(mission.ok("list", "--json").stdout)}
    assert rows["private"]["key_stored"] is False and rows["private"]["sessions"] == []
    assert not list(mission.cache_dir.glob("*.json"))


# Figures for the notes (printed with -s, not asserted) -----------------------------------------


def median_ms(operation: Callable[[], object], repeat: int) -> float:
    operation()  # warm up: imports, first connection
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        operation()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def test_cost_of_a_secret_service_get_against_a_file_cache_hit(
    mission: Shellvault, secret_service: SecretService, monkeypatch: pytest.MonkeyPatch
) -> None:
    from keyring.backends.SecretService import Keyring
    from secretstorage import Collection
    from secretstorage.util import open_session

    from shellvault.cache import SessionCache

    mission.env_json("private_admin", "-t", "123456")
    stored = json.dumps({"AccessKeyId": KEY_ID, "SecretAccessKey": SECRET})

    # What shellvault does: keyring opens a D-Bus connection and an encrypted transfer session
    # (a 1024-bit Diffie-Hellman exchange) for every get.
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", secret_service.address)
    backend = Keyring()
    assert backend.get_password("shellvault", "private") == stored
    keyring_get = median_ms(lambda: backend.get_password("shellvault", "private"), 30)

    query = {"service": "shellvault", "username": "private"}
    with secret_service.connection() as connection:
        fresh_sessions = Collection(connection)
        one_session = Collection(connection, session=open_session(connection))

        def raw_get(collection: Any) -> Callable[[], bytes]:
            return lambda: bytes(next(iter(collection.search_items(query))).get_secret())

        assert raw_get(one_session)().decode() == stored
        raw_fresh = median_ms(raw_get(fresh_sessions), 30)
        raw_one = median_ms(raw_get(one_session), 30)
        handshake = median_ms(lambda: open_session(connection), 30)

    cache = SessionCache(mission.cache_dir)
    (entry_path,) = mission.cache_dir.glob("*.json")
    assert cache.get(entry_path.stem) is not None
    cache_hit = median_ms(lambda: cache.get(entry_path.stem), 300)

    warm_cli = median_ms(lambda: mission.env_json("private_admin"), 5)
    key_cli = median_ms(lambda: mission.env_json("private", "-n"), 5)

    figures = [
        ("keyring get_password (new connection + DH session each)", keyring_get),
        ("secretstorage get, one connection, new DH session each", raw_fresh),
        ("  of which the DH session alone (open_session)", handshake),
        ("secretstorage get, one connection, one session", raw_one),
        ("file cache hit (SessionCache.get)", cache_hit),
        ("CLI `env private_admin`, warm: file cache hit, no D-Bus", warm_cli),
        ("CLI `env -n private`: one keystore get through keyring", key_cli),
    ]
    print("\nSecret Service get vs file cache hit (medians, this machine):")
    for label, ms in figures:
        print(f"  {label:<58} {ms:8.3f} ms")
