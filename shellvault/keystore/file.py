"""An encrypted-file keyring backend for machines without a usable OS keystore.

Headless servers, WSL and CI runners usually have no Secret Service, Keychain or Credential
Manager, yet shellvault still has to keep long-lived AWS keys somewhere other than a plain file.
This backend keeps them in a private folder, encrypted under a key derived from a passphrase.

Design, and why:

- The key comes from scrypt (n=2**15, r=8, p=1, random 16-byte salt). The folder is assumed to
  leak sooner or later (backups, shared CI caches, a stolen disk), so an offline guess at the
  passphrase must be expensive; scrypt's memory cost (32 MiB per guess) also blunts GPUs, which
  PBKDF2 does not. Derivation costs ~0.1 s, so it is done at most once per instance.
- `store.json` holds the KDF parameters, the salt and a check value: a fixed plaintext sealed with
  AES-GCM under the derived key. Decrypting it tells a wrong passphrase apart from a damaged entry,
  so a typo is reported as such at once, before any entry is touched, and never as "corrupt".
  The check value cannot tell a wrong passphrase from an altered check value or salt: both are
  reported as a wrong passphrase (the error says so).
- Each entry is its own file, named by the SHA-256 of `service NUL username`, so one write never
  rewrites (and never risks losing) the other entries, and concurrent writers of different entries
  cannot lose each other's updates. Every entry is sealed with AES-256-GCM, with
  `service NUL username` as associated data: GCM authenticates it, so an entry file copied or
  swapped onto another name fails to decrypt instead of handing out the wrong account's key.
- Every file is written to a temporary file (O_EXCL, mode 0600), fsynced and renamed over the old
  one, so a crash leaves the old or the new entry, never half of one. `store.json` is created
  with a hard link instead of a rename, which fails when the file exists: when two processes
  create the store at once, exactly one wins and the other adopts its salt.
- The backend is never picked by keyring's discovery (`viable` is false), so installing shellvault
  cannot make poetry or twine start prompting for a passphrase. It is used only when chosen by
  name: constructed directly, or with
  `PYTHON_KEYRING_BACKEND=shellvault.keystore.file.EncryptedFileKeyring`.

Secrets (passphrase, derived key, passwords) never enter an exception message, a repr or a log.
`cryptography` and `platformdirs` are imported only when needed, so importing this module is cheap.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import json
import os
import re
import secrets
import stat
import threading
import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeGuard

from keyring.backend import KeyringBackend
from keyring.errors import KeyringError, KeyringLocked, PasswordDeleteError

__all__ = [
    "DIR_ENV",
    "PASSPHRASE_ENV",
    "EncryptedFileKeyring",
    "FileKeystoreError",
    "TamperedStore",
    "WrongPassphrase",
    "default_directory",
]

DIR_ENV = "SHELLVAULT_FILE_DIR"
PASSPHRASE_ENV = "SHELLVAULT_FILE_PASSPHRASE"

STORE_FILE = "store.json"
FORMAT_NAME = "shellvault file keystore"
FORMAT_VERSION = 1

KDF_NAME = "scrypt"
SCRYPT_N = 2**15
SCRYPT_R = 8
SCRYPT_P = 1
KEY_LENGTH = 32
SALT_LENGTH = 16
NONCE_LENGTH = 12
TAG_LENGTH = 16

# Stores written by other versions may carry other costs; these bounds keep a hostile store.json
# from making us allocate gigabytes, and from lowering the cost below what we would write.
_MIN_N, _MAX_N = 2**14, 2**20
_MAX_SCRYPT_MEMORY = 256 * 2**20

# The check value's AAD has no NUL, so it can never equal an entry's `service NUL username`.
CHECK_PLAINTEXT = b"shellvault file keystore: the passphrase is right"
CHECK_AAD = b"shellvault file keystore check v1"

_ENTRY_NAME = re.compile(r"[0-9a-f]{64}\.json")

# How long a reader waits for an empty store.json to be filled: only on filesystems without hard
# links, where the store is created in place (see _publish_store).
_EMPTY_STORE_WAIT = 1.0


class FileKeystoreError(KeyringError):
    """A failure of the file keystore; the message is complete and names the folder."""


class WrongPassphrase(FileKeystoreError):
    """The passphrase does not open the store (or its check value or salt was altered)."""


class TamperedStore(FileKeystoreError):
    """`store.json` or an entry was altered or is corrupt."""


def default_directory() -> Path:
    """`$SHELLVAULT_FILE_DIR`, else shellvault's per-user data folder."""
    configured = os.environ.get(DIR_ENV)
    if configured:
        return Path(configured).expanduser().absolute()
    import platformdirs  # only here: most runs never need it

    return Path(platformdirs.user_data_dir("shellvault")).absolute() / "keys"


@dataclass(frozen=True)
class _StoreHeader:
    salt: bytes
    n: int
    r: int
    p: int
    check_nonce: bytes
    check_ciphertext: bytes


class EncryptedFileKeyring(KeyringBackend):
    """Passwords in one AES-256-GCM file each, under a key derived from a passphrase by scrypt."""

    # keyring's discovery (the default backend, the chainer, `keyring --list-backends`) keeps only
    # classes whose `viable` is true. `keyring.core.load_keyring`, which serves
    # PYTHON_KEYRING_BACKEND and keyringrc.cfg, reads `priority` and fails if it raises, so it is
    # `viable`, not a raising `priority`, that keeps this backend out of discovery. The negative
    # priority (below the fail keyring's 0) also loses any ranking that ignores `viable`.
    viable = False
    priority = -1.0

    directory: Path

    def __init__(
        self,
        directory: str | os.PathLike[str] | None = None,
        passphrase: Callable[[], str] | None = None,
    ) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        if directory is None or os.fspath(directory) == "":
            self.directory = default_directory()
        else:
            self.directory = Path(directory).expanduser().absolute()
        self._passphrase_source = passphrase
        self._key: bytes | None = None
        # A failed unlock is remembered so the passphrase is asked at most once per instance.
        self._unlock_failure: tuple[type[KeyringError], str] | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(directory={str(self.directory)!r})"

    # keyring's interface --------------------------------------------------------------------

    def get_password(self, service: str, username: str) -> str | None:
        aad = _entry_aad(service, username)
        path = self._entry_path(aad)
        # A miss must not cost a passphrase prompt: callers probe for keys they may not have.
        if not os.path.lexists(path):
            return None
        key = self._unlock()
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            return None
        return self._open_entry(path, raw, key, aad)

    def set_password(self, service: str, username: str, password: str) -> None:
        aad = _entry_aad(service, username)
        key = self._unlock()
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        nonce = os.urandom(NONCE_LENGTH)
        # surrogatepass: any str round-trips, so no UnicodeError can carry the password out.
        sealed = AESGCM(key).encrypt(nonce, password.encode("utf-8", "surrogatepass"), aad)
        document = {"version": FORMAT_VERSION, "nonce": _b64(nonce), "ciphertext": _b64(sealed)}
        self._write_atomic(self._entry_path(aad), _json_bytes(document))

    def delete_password(self, service: str, username: str) -> None:
        path = self._entry_path(_entry_aad(service, username))
        if not os.path.lexists(path):
            raise PasswordDeleteError(self._no_entry_message(service, username))
        # Only a holder of the passphrase deletes through shellvault; the entry itself is not
        # decrypted, so a corrupt entry can still be removed, as TamperedStore advises.
        self._unlock()
        try:
            path.unlink()
        except FileNotFoundError:
            raise PasswordDeleteError(self._no_entry_message(service, username)) from None
        self._fsync_directory()

    # Unlocking ------------------------------------------------------------------------------

    def _unlock(self) -> bytes:
        with self._lock:
            if self._key is not None:
                return self._key
            if self._unlock_failure is not None:
                error_type, message = self._unlock_failure
                raise error_type(message)
            try:
                self._key = self._derive_verified_key()
            except (WrongPassphrase, KeyringLocked) as error:
                self._unlock_failure = (type(error), str(error))
                raise
            return self._key

    def _derive_verified_key(self) -> bytes:
        self._ensure_directory()
        # The store is read before the passphrase is asked, so a damaged store costs no prompt.
        header = self._read_store()
        if header is None:
            self._refuse_orphaned_entries()
        passphrase = _passphrase_bytes(self._ask_passphrase(creating=header is None))
        if header is None:
            key = self._create_store(passphrase)
            if key is not None:
                return key
            # Another process created the store first: its salt is the one to use.
            header = self._read_store()
            if header is None:
                raise TamperedStore(self._store_message("vanished while it was being created"))
        key = _derive_key(passphrase, header.salt, header.n, header.r, header.p)
        from cryptography.exceptions import InvalidTag
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        try:
            plaintext = AESGCM(key).decrypt(header.check_nonce, header.check_ciphertext, CHECK_AAD)
        except InvalidTag:
            raise WrongPassphrase(
                f"wrong passphrase for the file keystore in {self.directory} "
                f"(or its {STORE_FILE} was altered)"
            ) from None
        if plaintext != CHECK_PLAINTEXT:
            raise TamperedStore(self._store_message("holds an unexpected check value"))
        return key

    def _ask_passphrase(self, *, creating: bool) -> str:
        if self._passphrase_source is not None:
            passphrase = self._passphrase_source()
        else:
            # Empty counts as unset: `export SHELLVAULT_FILE_PASSPHRASE=` must not mean "no
            # passphrase", and CI templates often leave unset secrets empty.
            passphrase = os.environ.get(PASSPHRASE_ENV) or _ask_tty(self.directory, creating)
        if not passphrase:
            raise KeyringLocked(
                f"the passphrase for the file keystore in {self.directory} is empty"
            )
        return passphrase

    def _refuse_orphaned_entries(self) -> None:
        """A new store would silently make existing entries unreadable: refuse instead."""
        try:
            names = os.listdir(self.directory)
        except FileNotFoundError:
            return
        orphans = sum(1 for name in names if _ENTRY_NAME.fullmatch(name))
        if orphans:
            raise TamperedStore(
                f"the file keystore in {self.directory} has {orphans} entries but no "
                f"{STORE_FILE}, so they cannot be decrypted; restore {STORE_FILE} from a backup, "
                "or remove the folder and store the keys again"
            )

    # store.json -----------------------------------------------------------------------------

    def _read_store(self) -> _StoreHeader | None:
        path = self.directory / STORE_FILE
        deadline = time.monotonic() + _EMPTY_STORE_WAIT
        while True:
            try:
                raw = path.read_bytes()
            except FileNotFoundError:
                return None
            if raw or time.monotonic() >= deadline:
                return self._parse_store(raw)
            time.sleep(0.02)

    def _parse_store(self, raw: bytes) -> _StoreHeader:
        try:
            document = json.loads(raw)
            version = document["version"]
            if _is_int(version) and version > FORMAT_VERSION:
                raise FileKeystoreError(
                    f"the file keystore in {self.directory} was written by a newer shellvault "
                    f"(format {version}); upgrade shellvault to read it"
                )
            kdf = document["kdf"]
            check = document["check"]
            header = _StoreHeader(
                salt=_unb64(kdf["salt"]),
                n=kdf["n"],
                r=kdf["r"],
                p=kdf["p"],
                check_nonce=_unb64(check["nonce"]),
                check_ciphertext=_unb64(check["ciphertext"]),
            )
            well_formed = (
                document["format"] == FORMAT_NAME
                and version == FORMAT_VERSION
                and kdf["name"] == KDF_NAME
                and kdf["length"] == KEY_LENGTH
                and _valid_scrypt_cost(header.n, header.r, header.p)
                and len(header.salt) >= SALT_LENGTH
                and len(header.check_nonce) == NONCE_LENGTH
                and len(header.check_ciphertext) == len(CHECK_PLAINTEXT) + TAG_LENGTH
            )
        except (ValueError, KeyError, TypeError, AttributeError, binascii.Error):
            well_formed = False
        if not well_formed:
            raise TamperedStore(self._store_message("was altered or is corrupt"))
        return header

    def _create_store(self, passphrase: bytes) -> bytes | None:
        """Create store.json; return its key, or None if another process created it first."""
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        salt = os.urandom(SALT_LENGTH)
        key = _derive_key(passphrase, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
        nonce = os.urandom(NONCE_LENGTH)
        document = {
            "format": FORMAT_NAME,
            "version": FORMAT_VERSION,
            "kdf": {
                "name": KDF_NAME,
                "n": SCRYPT_N,
                "r": SCRYPT_R,
                "p": SCRYPT_P,
                "length": KEY_LENGTH,
                "salt": _b64(salt),
            },
            "check": {
                "nonce": _b64(nonce),
                "ciphertext": _b64(AESGCM(key).encrypt(nonce, CHECK_PLAINTEXT, CHECK_AAD)),
            },
        }
        if not self._publish_store(_json_bytes(document)):
            return None
        return key

    def _publish_store(self, data: bytes) -> bool:
        """Put store.json in place unless it exists; False if another process got there first."""
        final = self.directory / STORE_FILE
        temporary = self._write_temporary(final, data)
        try:
            # link(2), unlike rename(2), refuses to replace an existing file, and it makes the
            # complete file appear at once: readers never see a half-written store.
            os.link(temporary, final)
        except FileExistsError:
            return False
        except OSError:
            # No hard links here (FAT, some network shares): create in place with O_EXCL.
            # Readers wait briefly for an empty store.json to be filled (see _read_store).
            return self._create_in_place(final, data)
        finally:
            with contextlib.suppress(FileNotFoundError):
                temporary.unlink()
        self._fsync_directory()
        return True

    def _create_in_place(self, final: Path, data: bytes) -> bool:
        try:
            descriptor = os.open(final, _CREATE_FLAGS, 0o600)
        except FileExistsError:
            return False
        _write_and_sync(descriptor, data)
        self._fsync_directory()
        return True

    # Entries --------------------------------------------------------------------------------

    def _entry_path(self, aad: bytes) -> Path:
        return self.directory / f"{hashlib.sha256(aad).hexdigest()}.json"

    def _open_entry(self, path: Path, raw: bytes, key: bytes, aad: bytes) -> str:
        from cryptography.exceptions import InvalidTag
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        tampered = TamperedStore(
            f"the file keystore entry {path.name} in {self.directory} was altered or is "
            "corrupt; remove it and store the key again"
        )
        try:
            document = json.loads(raw)
            version = document["version"]
            nonce = _unb64(document["nonce"])
            sealed = _unb64(document["ciphertext"])
        except (ValueError, KeyError, TypeError, binascii.Error):
            raise tampered from None
        if _is_int(version) and version > FORMAT_VERSION:
            raise FileKeystoreError(
                f"the file keystore entry {path.name} in {self.directory} was written by a "
                f"newer shellvault (format {version}); upgrade shellvault to read it"
            )
        if version != FORMAT_VERSION or len(nonce) != NONCE_LENGTH or len(sealed) < TAG_LENGTH:
            raise tampered
        try:
            # The key was verified against the check value, so a failure here is the entry's.
            plaintext = AESGCM(key).decrypt(nonce, sealed, aad)
            return plaintext.decode("utf-8", "surrogatepass")
        except (InvalidTag, UnicodeDecodeError):
            raise tampered from None

    def _no_entry_message(self, service: str, username: str) -> str:
        return (
            f"no entry for service {service!r} and username {username!r} in the file keystore "
            f"in {self.directory}"
        )

    def _store_message(self, what: str) -> str:
        return (
            f"the file keystore {STORE_FILE} in {self.directory} {what}; its entries cannot be "
            f"read: restore {STORE_FILE} from a backup, or remove the folder and store the keys "
            "again"
        )

    # Files ----------------------------------------------------------------------------------

    def _ensure_directory(self) -> None:
        missing: list[Path] = []
        candidate = self.directory
        while not candidate.exists() and candidate != candidate.parent:
            missing.append(candidate)
            candidate = candidate.parent
        # Parents too are created 0700, as the XDG base directory spec asks for data folders.
        for folder in reversed(missing):
            try:
                os.mkdir(folder, 0o700)
            except FileExistsError:
                continue
            os.chmod(folder, 0o700)  # mkdir's mode went through the umask
        status = os.stat(self.directory)
        if not stat.S_ISDIR(status.st_mode):
            raise FileKeystoreError(f"the file keystore folder {self.directory} is not a folder")
        ours = not hasattr(os, "getuid") or status.st_uid == os.getuid()
        if ours and stat.S_IMODE(status.st_mode) & 0o077:
            os.chmod(self.directory, 0o700)

    def _write_atomic(self, final: Path, data: bytes) -> None:
        temporary = self._write_temporary(final, data)
        try:
            os.replace(temporary, final)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                temporary.unlink()
            raise
        self._fsync_directory()

    def _write_temporary(self, final: Path, data: bytes) -> Path:
        # Same folder as the final file, so the rename or link never crosses filesystems.
        temporary = final.with_name(f".{final.name}.{secrets.token_hex(8)}.tmp")
        descriptor = os.open(temporary, _CREATE_FLAGS, 0o600)
        try:
            _write_and_sync(descriptor, data)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                temporary.unlink()
            raise
        return temporary

    def _fsync_directory(self) -> None:
        """Make a rename durable; best-effort, as not every platform can open a folder."""
        try:
            descriptor = os.open(self.directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        except OSError:
            return
        try:
            os.fsync(descriptor)
        except OSError:
            pass
        finally:
            os.close(descriptor)


_CREATE_FLAGS = (
    os.O_WRONLY
    | os.O_CREAT
    | os.O_EXCL
    | getattr(os, "O_NOFOLLOW", 0)
    | getattr(os, "O_CLOEXEC", 0)
    | getattr(os, "O_BINARY", 0)
)


def _write_and_sync(descriptor: int, data: bytes) -> None:
    """Write all of `data` to a fresh file, mode exactly 0600, durably; closes the descriptor."""
    with os.fdopen(descriptor, "wb") as handle:
        if hasattr(os, "fchmod"):
            os.fchmod(handle.fileno(), 0o600)  # the umask may have taken bits from 0600
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def _entry_aad(service: str, username: str) -> bytes:
    if "\0" in service or "\0" in username:
        # NUL is the separator: ("a\0b", "c") and ("a", "b\0c") would share a file and an AAD.
        raise ValueError("the file keystore cannot hold a service or username containing NUL")
    return f"{service}\0{username}".encode("utf-8", "surrogatepass")


def _passphrase_bytes(passphrase: str) -> bytes:
    # NFC: the same passphrase typed on another terminal (macOS input is often NFD) or given in
    # the environment must derive the same key. surrogatepass encodes every str, so no
    # UnicodeError can carry the passphrase into a traceback.
    return unicodedata.normalize("NFC", passphrase).encode("utf-8", "surrogatepass")


def _derive_key(passphrase: bytes, salt: bytes, n: int, r: int, p: int) -> bytes:
    from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

    return Scrypt(salt=salt, length=KEY_LENGTH, n=n, r=r, p=p).derive(passphrase)


def _valid_scrypt_cost(n: object, r: object, p: object) -> bool:
    if not (_is_int(n) and _is_int(r) and _is_int(p)):
        return False
    power_of_two = n & (n - 1) == 0
    return (
        _MIN_N <= n <= _MAX_N
        and power_of_two
        and 1 <= r <= 32
        and 1 <= p <= 16
        and 128 * n * r * p <= _MAX_SCRYPT_MEMORY
    )


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: object) -> bytes:
    if not isinstance(text, str):
        raise TypeError("base64 field is not a string")
    return base64.b64decode(text.encode("ascii"), validate=True)


def _json_bytes(document: dict[str, Any]) -> bytes:
    return (json.dumps(document, indent=2, sort_keys=True) + "\n").encode("ascii")


# The terminal prompt ----------------------------------------------------------------------------


def _ask_tty(directory: Path, creating: bool) -> str:
    """Ask on the controlling terminal itself.

    stdin and stdout are not used: under `$(...)`, `eval` or an SDK's credential_process, stdout
    is captured (a prompt there would end up in the output) and stdin may be a pipe.
    """
    try:
        descriptor = os.open("/dev/tty", os.O_RDWR | os.O_NOCTTY | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        raise KeyringLocked(_no_terminal_message(directory)) from None
    try:
        if creating:
            _tty_write(descriptor, f"shellvault: creating a new file keystore in {directory}\n")
        first = _read_hidden(
            descriptor, f"shellvault: passphrase for the file keystore in {directory}: ", directory
        )
        if creating:
            again = _read_hidden(descriptor, "shellvault: the same passphrase again: ", directory)
            if again != first:
                raise KeyringLocked(
                    f"passphrases differ; the file keystore in {directory} was not created"
                )
        return first
    finally:
        os.close(descriptor)


def _read_hidden(descriptor: int, prompt: str, directory: Path) -> str:
    try:
        import termios
    except ImportError:
        raise KeyringLocked(_no_terminal_message(directory)) from None
    try:
        saved = termios.tcgetattr(descriptor)
    except termios.error:
        raise KeyringLocked(_no_terminal_message(directory)) from None
    hidden = list(saved)
    hidden[3] &= ~termios.ECHO
    # Echo goes off before the prompt appears, so nothing typed ahead is shown either.
    termios.tcsetattr(descriptor, termios.TCSAFLUSH, hidden)
    try:
        _tty_write(descriptor, prompt)
        line = _read_line(descriptor)
    finally:
        termios.tcsetattr(descriptor, termios.TCSAFLUSH, saved)
        _tty_write(descriptor, "\n")  # the user's Enter was not echoed
    if line is None:
        raise KeyringLocked(f"no passphrase was entered for the file keystore in {directory}")
    return line


def _read_line(descriptor: int) -> str | None:
    """One line from the terminal without its line ending; None at end of input."""
    buffer = bytearray()
    while b"\n" not in buffer:
        chunk = os.read(descriptor, 1024)
        if not chunk:
            if not buffer:
                return None
            break
        buffer += chunk
    line = bytes(buffer).split(b"\n", 1)[0].removesuffix(b"\r")
    return line.decode("utf-8", "surrogateescape")


def _tty_write(descriptor: int, text: str) -> None:
    data = text.encode("utf-8", "replace")
    while data:
        data = data[os.write(descriptor, data) :]


def _no_terminal_message(directory: Path) -> str:
    return (
        f"the file keystore in {directory} needs a passphrase: set {PASSPHRASE_ENV} or run "
        "from a terminal"
    )
