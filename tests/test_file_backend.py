"""The encrypted-file keyring: round trips, the passphrase contract, tamper detection, file modes,
keyring discovery, concurrent creation and the terminal prompt.

Subprocesses stand in wherever the property depends on process state: a fresh keyring discovery,
no controlling terminal, a pseudo-terminal as the controlling one, several processes at once.
"""

from __future__ import annotations

import base64
import json
import os
import select
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import keyring.backend
import keyring.errors
import pytest

from shellvault.keystore.file import (
    DIR_ENV,
    PASSPHRASE_ENV,
    STORE_FILE,
    EncryptedFileKeyring,
    FileKeystoreError,
    TamperedStore,
    WrongPassphrase,
)

ROOT = Path(__file__).resolve().parents[1]
PASSPHRASE = "correct horse battery staple"
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"

posix_only = pytest.mark.skipif(sys.platform == "win32", reason="POSIX modes and terminals")


class Passphrase:
    """A passphrase callable that counts how often it is asked."""

    def __init__(self, value: str = PASSPHRASE) -> None:
        self.value = value
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        return self.value


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (DIR_ENV, PASSPHRASE_ENV, "PYTHON_KEYRING_BACKEND"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def keys(tmp_path: Path) -> Path:
    return tmp_path / "keys"


def make(directory: Path, passphrase: Passphrase | None = None) -> EncryptedFileKeyring:
    return EncryptedFileKeyring(directory, passphrase=passphrase or Passphrase())


def entry_files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.iterdir() if p.name != STORE_FILE)


def child_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The test's environment minus anything that would steer keyring or the backend."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("SHELLVAULT_", "PYTHON_KEYRING", "KEYRING_PROPERTY_"))
    }
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    # keyring reads keyringrc.cfg from here: keep the user's own configuration out.
    env["XDG_CONFIG_HOME"] = str(tmp_path / "xdg-config")
    env["XDG_DATA_HOME"] = str(tmp_path / "xdg-data")
    env.update(extra)
    return env


def run_python(
    code: str, env: dict[str, str], *args: str, start_new_session: bool = False
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        start_new_session=start_new_session,
    )


# Round trips and the keyring contract ----------------------------------------------------------


def test_round_trip_of_several_entries(keys: Path) -> None:
    large = "".join(chr(0x20 + (i * 7919) % 0x5E) for i in range(3 * 1024))
    entries = {
        ("shellvault", "default"): SECRET,
        ("shellvault-session", "prod:arn:aws:iam::123456789012:role/x"): '{"a": "b"}',
        ("sërvïce ✓", "用户名"): "pässwörd 🔑 with\nnewline and \0 NUL",
        ("shellvault", "large"): large,
    }
    store = make(keys)
    for (service, username), password in entries.items():
        store.set_password(service, username, password)
    for (service, username), password in entries.items():
        assert store.get_password(service, username) == password

    reopened = make(keys)
    for (service, username), password in entries.items():
        assert reopened.get_password(service, username) == password
    assert len(entry_files(keys)) == len(entries)


def test_set_overwrites_and_delete_removes(keys: Path) -> None:
    store = make(keys)
    store.set_password("svc", "user", "first")
    store.set_password("svc", "user", "second")
    assert store.get_password("svc", "user") == "second"
    assert len(entry_files(keys)) == 1

    store.delete_password("svc", "user")
    assert store.get_password("svc", "user") is None
    assert entry_files(keys) == []
    with pytest.raises(keyring.errors.PasswordDeleteError, match="no entry"):
        store.delete_password("svc", "user")


def test_missing_entry_is_none_and_costs_no_passphrase(keys: Path) -> None:
    asked = Passphrase()
    fresh = make(keys, asked)
    assert fresh.get_password("svc", "user") is None
    assert fresh.get_credential("svc", "user") is None
    with pytest.raises(keyring.errors.PasswordDeleteError):
        fresh.delete_password("svc", "user")
    assert asked.calls == 0
    assert not keys.exists(), "a lookup must not create the folder"

    make(keys).set_password("svc", "other", SECRET)
    asked_again = Passphrase()
    existing = make(keys, asked_again)
    assert existing.get_password("svc", "user") is None
    assert asked_again.calls == 0


def test_passphrase_is_asked_once_per_instance(keys: Path) -> None:
    asked = Passphrase()
    store = make(keys, asked)
    for index in range(5):
        store.set_password("svc", f"user{index}", f"secret{index}")
        assert store.get_password("svc", f"user{index}") == f"secret{index}"
    store.delete_password("svc", "user0")
    assert store.get_password("svc", "user0") is None
    assert asked.calls == 1

    asked_again = Passphrase()
    other = make(keys, asked_again)
    assert other.get_password("svc", "user3") == "secret3"
    assert other.get_password("svc", "user4") == "secret4"
    assert asked_again.calls == 1


def test_passphrase_is_asked_once_across_threads(keys: Path) -> None:
    make(keys).set_password("svc", "user", SECRET)
    asked = Passphrase()
    store = make(keys, asked)
    results: list[str | None] = []
    threads = [
        threading.Thread(target=lambda: results.append(store.get_password("svc", "user")))
        for _ in range(6)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [SECRET] * 6
    assert asked.calls == 1


def test_nul_in_names_is_refused(keys: Path) -> None:
    # NUL separates service from username in the file name and the AAD.
    with pytest.raises(ValueError, match="NUL"):
        make(keys).set_password("a\0b", "c", SECRET)


# Passphrase and tampering ----------------------------------------------------------------------


def test_wrong_passphrase_is_reported_on_first_use_and_only_asked_once(keys: Path) -> None:
    make(keys).set_password("svc", "user", SECRET)
    before = {p.name: p.read_bytes() for p in keys.iterdir()}

    wrong = Passphrase("not the passphrase")
    store = make(keys, wrong)
    with pytest.raises(WrongPassphrase) as raised:
        store.get_password("svc", "user")
    assert str(raised.value).startswith(f"wrong passphrase for the file keystore in {keys}")
    with pytest.raises(WrongPassphrase):
        store.set_password("svc", "another", SECRET)
    assert wrong.calls == 1
    assert isinstance(raised.value, keyring.errors.KeyringError)
    assert {p.name: p.read_bytes() for p in keys.iterdir()} == before, "nothing was written"


def test_empty_passphrase_is_refused(keys: Path) -> None:
    with pytest.raises(keyring.errors.KeyringLocked, match="empty"):
        make(keys, Passphrase("")).set_password("svc", "user", SECRET)
    assert not (keys / STORE_FILE).exists()


def rewrite_entry(path: Path, change: dict[str, str]) -> None:
    document = json.loads(path.read_bytes())
    document.update(change)
    path.write_text(json.dumps(document))


def test_flipped_ciphertext_byte_is_tampering(keys: Path) -> None:
    make(keys).set_password("svc", "user", SECRET)
    (entry,) = entry_files(keys)
    document = json.loads(entry.read_bytes())
    sealed = bytearray(base64.b64decode(document["ciphertext"]))
    sealed[len(sealed) // 2] ^= 0x01
    rewrite_entry(entry, {"ciphertext": base64.b64encode(bytes(sealed)).decode()})

    with pytest.raises(TamperedStore) as raised:
        make(keys).get_password("svc", "user")
    assert str(raised.value) == (
        f"the file keystore entry {entry.name} in {keys} was altered or is corrupt; "
        "remove it and store the key again"
    )


def test_unparsable_entry_is_tampering_and_can_be_deleted(keys: Path) -> None:
    store = make(keys)
    store.set_password("svc", "user", SECRET)
    (entry,) = entry_files(keys)
    entry.write_bytes(b"\x00not json")
    with pytest.raises(TamperedStore, match=entry.name):
        store.get_password("svc", "user")
    store.delete_password("svc", "user")  # as the error message advises
    assert store.get_password("svc", "user") is None


def test_swapped_entry_files_are_tampering(keys: Path) -> None:
    store = make(keys)
    store.set_password("svc", "alice", "alice's key")
    store.set_password("svc", "bob", "bob's key")
    first, second = entry_files(keys)
    first_bytes, second_bytes = first.read_bytes(), second.read_bytes()
    first.write_bytes(second_bytes)
    second.write_bytes(first_bytes)

    reopened = make(keys)
    for username in ("alice", "bob"):
        with pytest.raises(TamperedStore):
            reopened.get_password("svc", username)


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda document: "{ not json", id="unparsable"),
        pytest.param(lambda document: json.dumps({**document, "kdf": {}}), id="kdf-missing"),
        pytest.param(
            lambda document: json.dumps({**document, "check": {"nonce": "!!", "ciphertext": ""}}),
            id="bad-base64",
        ),
        pytest.param(
            lambda document: json.dumps({**document, "kdf": {**document["kdf"], "n": 2**40}}),
            id="absurd-cost",
        ),
        pytest.param(lambda document: "", id="empty"),
    ],
)
def test_damaged_store_is_tampering_before_any_prompt(
    keys: Path, damage: Callable[[dict[str, Any]], str]
) -> None:
    make(keys).set_password("svc", "user", SECRET)
    store_file = keys / STORE_FILE
    document = json.loads(store_file.read_bytes())
    store_file.write_text(damage(document))

    asked = Passphrase()
    with pytest.raises(TamperedStore, match=f"{STORE_FILE} in {keys}"):
        make(keys, asked).get_password("svc", "user")
    assert asked.calls == 0


def test_altered_check_value_reads_as_wrong_passphrase(keys: Path) -> None:
    """A check value (or salt) that no longer matches is indistinguishable from a wrong
    passphrase: either way the derived key fails to open it. The honest report is
    WrongPassphrase, whose message also names an altered store as a possible cause."""
    make(keys).set_password("svc", "user", SECRET)
    store_file = keys / STORE_FILE
    document = json.loads(store_file.read_bytes())
    sealed = bytearray(base64.b64decode(document["check"]["ciphertext"]))
    sealed[0] ^= 0x80
    document["check"]["ciphertext"] = base64.b64encode(bytes(sealed)).decode()
    store_file.write_text(json.dumps(document))

    with pytest.raises(WrongPassphrase, match="was altered"):
        make(keys).get_password("svc", "user")


def test_entries_without_store_are_not_silently_orphaned(keys: Path) -> None:
    make(keys).set_password("svc", "user", SECRET)
    (keys / STORE_FILE).unlink()
    asked = Passphrase()
    with pytest.raises(TamperedStore, match="no store.json"):
        make(keys, asked).set_password("svc", "other", SECRET)
    assert asked.calls == 0
    assert not (keys / STORE_FILE).exists()


def test_newer_format_asks_for_an_upgrade(keys: Path) -> None:
    make(keys).set_password("svc", "user", SECRET)
    store_file = keys / STORE_FILE
    document = json.loads(store_file.read_bytes())
    store_file.write_text(json.dumps({**document, "version": 99}))
    with pytest.raises(FileKeystoreError, match="newer shellvault"):
        make(keys).get_password("svc", "user")


def test_losing_the_creation_race_adopts_the_winners_store(keys: Path) -> None:
    winner = make(keys)

    def passphrase_while_another_process_creates_the_store() -> str:
        # Asked after this instance found no store.json and before it publishes its own.
        winner.set_password("svc", "winner", SECRET)
        return PASSPHRASE

    loser = EncryptedFileKeyring(
        keys, passphrase=passphrase_while_another_process_creates_the_store
    )
    loser.set_password("svc", "loser", "loser's key")
    assert loser.get_password("svc", "winner") == SECRET
    assert winner.get_password("svc", "loser") == "loser's key"
    assert sorted(p.name for p in keys.iterdir() if p.name.startswith(".")) == []


def test_store_is_created_where_hard_links_are_missing(
    keys: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_hard_links(*args: object, **kwargs: object) -> None:
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(os, "link", no_hard_links)
    make(keys).set_password("svc", "user", SECRET)
    assert make(keys).get_password("svc", "user") == SECRET
    assert sorted(p.name for p in keys.iterdir() if p.name.startswith(".")) == []


# Files on disk ----------------------------------------------------------------------------------


@pytest.fixture
def no_umask() -> Iterator[None]:
    previous = os.umask(0)
    try:
        yield
    finally:
        os.umask(previous)


@posix_only
def test_modes_are_private_even_with_umask_zero(tmp_path: Path, no_umask: None) -> None:
    keys = tmp_path / "a" / "b" / "keys"
    store = make(keys)
    store.set_password("svc", "user", SECRET)
    store.set_password("svc", "user", "overwritten")
    store.set_password("svc", "other", SECRET)

    for folder in (tmp_path / "a", tmp_path / "a" / "b", keys):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder
    names = sorted(p.name for p in keys.iterdir())
    assert STORE_FILE in names and len(names) == 3, "no temporary files are left behind"
    for path in keys.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


@posix_only
def test_loose_existing_folder_is_tightened(keys: Path) -> None:
    keys.mkdir()
    keys.chmod(0o755)
    make(keys).set_password("svc", "user", SECRET)
    assert stat.S_IMODE(keys.stat().st_mode) == 0o700


def test_secret_and_passphrase_never_reach_disk_or_messages(keys: Path) -> None:
    store = make(keys)
    store.set_password("svc", "user", SECRET)
    store.set_password("svc", "other", SECRET * 3)
    forbidden = [
        SECRET.encode(),
        base64.b64encode(SECRET.encode()),
        PASSPHRASE.encode(),
    ]
    for path in keys.parent.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert not any(word in data for word in forbidden), path

    (entry, *_) = entry_files(keys)
    entry.write_bytes(b"{}")
    errors: list[Exception] = []
    actions: list[Callable[[], object]] = [
        lambda: make(keys).get_password("svc", "user"),
        lambda: make(keys).get_password("svc", "other"),
        lambda: make(keys, Passphrase("wrong " + SECRET)).get_password("svc", "other"),
    ]
    for action in actions:
        try:
            action()
        except keyring.errors.KeyringError as error:
            errors.append(error)
    assert errors
    for text in [repr(store), str(store), *map(str, errors), *map(repr, errors)]:
        assert SECRET not in text and PASSPHRASE not in text


# Environment ------------------------------------------------------------------------------------


def test_environment_names_folder_and_passphrase(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    keys = tmp_path / "from-env"
    monkeypatch.setenv(DIR_ENV, str(keys))
    monkeypatch.setenv(PASSPHRASE_ENV, PASSPHRASE)
    store = EncryptedFileKeyring()
    assert store.directory == keys
    store.set_password("svc", "user", SECRET)
    assert (keys / STORE_FILE).exists()

    # The same passphrase given as a callable opens what the environment's created.
    assert make(keys, Passphrase(PASSPHRASE)).get_password("svc", "user") == SECRET

    monkeypatch.setenv(PASSPHRASE_ENV, "another passphrase")
    with pytest.raises(WrongPassphrase):
        EncryptedFileKeyring().get_password("svc", "user")

    # An explicit callable wins over the environment.
    assert EncryptedFileKeyring(passphrase=Passphrase()).get_password("svc", "user") == SECRET


def test_default_folder_is_in_the_user_data_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import platformdirs

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    expected = Path(platformdirs.user_data_dir("shellvault")) / "keys"
    assert EncryptedFileKeyring().directory == expected
    monkeypatch.setenv(DIR_ENV, "")  # empty counts as unset
    assert EncryptedFileKeyring().directory == expected


@posix_only
@pytest.mark.parametrize("passphrase_env", [None, ""], ids=["unset", "empty"])
def test_no_terminal_and_no_passphrase_is_locked(
    tmp_path: Path, passphrase_env: str | None
) -> None:
    keys = tmp_path / "keys"
    code = """
import sys
import keyring.errors
from shellvault.keystore.file import EncryptedFileKeyring

store = EncryptedFileKeyring(sys.argv[1])
assert store.get_password("svc", "user") is None  # a miss needs no passphrase
try:
    store.set_password("svc", "user", "x")
except keyring.errors.KeyringLocked as error:
    print(error)
else:
    print("no error")
"""
    env = child_env(tmp_path)
    if passphrase_env is not None:
        env[PASSPHRASE_ENV] = passphrase_env
    # A new session has no controlling terminal, so /dev/tty cannot be opened.
    result = run_python(code, env, str(keys), start_new_session=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == (
        f"the file keystore in {keys} needs a passphrase: set {PASSPHRASE_ENV} or run from a "
        "terminal"
    )
    assert not (keys / STORE_FILE).exists()


# keyring discovery ------------------------------------------------------------------------------


def test_never_viable_for_discovery() -> None:
    assert EncryptedFileKeyring.viable is False
    assert EncryptedFileKeyring not in set(keyring.backend.KeyringBackend.get_viable_backends())
    rings = keyring.backend.get_all_keyring()
    assert not any(isinstance(ring, EncryptedFileKeyring) for ring in rings)


def test_fresh_discovery_does_not_pick_it(tmp_path: Path) -> None:
    code = """
import keyring
import keyring.backend
from shellvault.keystore.file import EncryptedFileKeyring

rings = keyring.backend.get_all_keyring()
assert not any(isinstance(ring, EncryptedFileKeyring) for ring in rings), rings
assert not isinstance(keyring.get_keyring(), EncryptedFileKeyring)
print("ok")
"""
    result = run_python(code, child_env(tmp_path))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_chosen_by_name_through_keyring(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    code = """
import keyring
from shellvault.keystore.file import EncryptedFileKeyring

assert isinstance(keyring.get_keyring(), EncryptedFileKeyring), keyring.get_keyring()
keyring.set_password("svc", "user", "by name")
print(keyring.get_password("svc", "user"))
"""
    env = child_env(
        tmp_path,
        PYTHON_KEYRING_BACKEND="shellvault.keystore.file.EncryptedFileKeyring",
        **{DIR_ENV: str(keys), PASSPHRASE_ENV: PASSPHRASE},
    )
    result = run_python(code, env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "by name"
    assert make(keys).get_password("svc", "user") == "by name"


def test_import_is_cheap(tmp_path: Path) -> None:
    code = """
import sys
import shellvault.keystore.file
print(sorted(m for m in sys.modules if m.split(".")[0] in ("cryptography", "platformdirs")))
"""
    result = run_python(code, child_env(tmp_path))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


# Several processes at once ----------------------------------------------------------------------

CONCURRENT_CHILD = """
import json, sys, time
from pathlib import Path
from shellvault.keystore.file import EncryptedFileKeyring

keys, markers = Path(sys.argv[1]), Path(sys.argv[2])
index, count = int(sys.argv[3]), int(sys.argv[4])


def wait_for(paths):
    deadline = time.monotonic() + 30
    while not all(p.exists() for p in paths):
        if time.monotonic() > deadline:
            sys.exit("timed out")
        time.sleep(0.005)


store = EncryptedFileKeyring(keys, passphrase=lambda: "shared passphrase")
(markers / f"ready{index}").touch()
wait_for([markers / "go"])
store.set_password("svc", f"user{index}", f"secret{index}")
(markers / f"done{index}").touch()
wait_for([markers / f"done{i}" for i in range(count)])
fresh = EncryptedFileKeyring(keys, passphrase=lambda: "shared passphrase")
print(json.dumps({
    "same": [store.get_password("svc", f"user{i}") for i in range(count)],
    "fresh": [fresh.get_password("svc", f"user{i}") for i in range(count)],
}))
"""


def test_concurrent_first_use_shares_one_store(tmp_path: Path) -> None:
    count = 5
    keys, markers = tmp_path / "keys", tmp_path / "markers"
    markers.mkdir()
    env = child_env(tmp_path)
    children = [
        subprocess.Popen(
            [sys.executable, "-c", CONCURRENT_CHILD, str(keys), str(markers), str(i), str(count)],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(count)
    ]
    try:
        deadline = time.monotonic() + 30
        while not all((markers / f"ready{i}").exists() for i in range(count)):
            assert time.monotonic() < deadline, "children did not start"
            time.sleep(0.01)
        (markers / "go").touch()  # all create the store at once
        outputs = [child.communicate(timeout=60) for child in children]
    finally:
        for child in children:
            if child.poll() is None:
                child.kill()
                child.wait()

    expected = [f"secret{i}" for i in range(count)]
    for child, (stdout, stderr) in zip(children, outputs, strict=True):
        assert child.returncode == 0, stderr
        assert json.loads(stdout) == {"same": expected, "fresh": expected}
    names = sorted(p.name for p in keys.iterdir())
    assert names.count(STORE_FILE) == 1 and len(names) == count + 1, names
    assert [
        make(keys, Passphrase("shared passphrase")).get_password("svc", f"user{i}")
        for i in range(count)
    ] == expected


# The terminal prompt ----------------------------------------------------------------------------

TTY_CHILD = """
import os, sys
terminal = os.open(sys.argv[1], os.O_RDWR)  # a session leader opening a terminal adopts it
try:
    import fcntl, termios
    fcntl.ioctl(terminal, termios.TIOCSCTTY, 0)  # BSDs need this; Linux already did it
except OSError:
    pass
from shellvault.keystore.file import EncryptedFileKeyring

store = EncryptedFileKeyring(sys.argv[2])
try:
    if sys.argv[3] == "set":
        store.set_password("svc", "user", "the stored secret")
    print(store.get_password("svc", "user"))
except Exception as error:
    print(type(error).__name__ + ": " + str(error))
"""


class Terminal:
    """A pseudo-terminal that a child process takes as its controlling terminal."""

    def __init__(self, tmp_path: Path, keys: Path, action: str) -> None:
        self.master, self.slave = os.openpty()
        self.transcript = b""
        self.child = subprocess.Popen(
            [sys.executable, "-c", TTY_CHILD, os.ttyname(self.slave), str(keys), action],
            env=child_env(tmp_path),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,  # captured, as under $(...): the prompt must not go there
            stderr=subprocess.PIPE,
            start_new_session=True,
        )

    def expect(self, marker: bytes, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while marker not in self.transcript:
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"no {marker!r} in {self.transcript!r}"
            ready, _, _ = select.select([self.master], [], [], remaining)
            if ready:
                self.transcript += os.read(self.master, 4096)

    def type(self, line: str) -> None:
        os.write(self.master, line.encode() + b"\n")

    def finish(self) -> str:
        stdout, stderr = self.child.communicate(timeout=30)
        assert self.child.returncode == 0, stderr
        # Whatever the child wrote last is still in the master's buffer.
        while select.select([self.master], [], [], 0.1)[0]:
            try:
                self.transcript += os.read(self.master, 4096)
            except OSError:
                break
        os.close(self.master)
        os.close(self.slave)
        return stdout.decode().strip()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="pseudo-terminal handling")
def test_terminal_prompt_creates_then_opens(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    creating = Terminal(tmp_path, keys, "set")
    creating.expect(b"creating a new file keystore")
    creating.expect(f"shellvault: passphrase for the file keystore in {keys}: ".encode())
    creating.type("typed passphrase")
    creating.expect(b"the same passphrase again: ")
    creating.type("typed passphrase")
    assert creating.finish() == "the stored secret"
    assert b"typed passphrase" not in creating.transcript, "echo must be off"

    opening = Terminal(tmp_path, keys, "get")
    opening.expect(b"passphrase for the file keystore")
    opening.type("typed passphrase")
    assert opening.finish() == "the stored secret"
    assert b"again" not in opening.transcript, "an existing store is asked once"

    wrong = Terminal(tmp_path, keys, "get")
    wrong.expect(b"passphrase for the file keystore")
    wrong.type("mistyped")
    assert wrong.finish().startswith(
        f"WrongPassphrase: wrong passphrase for the file keystore in {keys}"
    )


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="pseudo-terminal handling")
def test_terminal_prompt_refuses_differing_passphrases(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    terminal = Terminal(tmp_path, keys, "set")
    terminal.expect(b"passphrase for the file keystore")
    terminal.type("one passphrase")
    terminal.expect(b"again: ")
    terminal.type("another passphrase")
    assert terminal.finish() == (
        f"KeyringLocked: passphrases differ; the file keystore in {keys} was not created"
    )
    assert not (keys / STORE_FILE).exists()
