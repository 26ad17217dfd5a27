"""Opening a URL in a browser without putting it on a command line.

The console sign-in URL is a bearer token: whoever has it within 15 minutes gets the console
session. A browser started as `chrome URL` shows it to every user of the machine in `ps`, and it
lands in shell history when people paste it. So the browser only ever sees a one-shot loopback
address (`http://127.0.0.1:PORT/<random path>`) that answers exactly one request with a redirect
to the real URL and then closes.

`--isolate` gives each AWS profile its own browser profile folder, so several accounts stay
signed in side by side (one console session per browser profile is an AWS console limit). It
replaces the aliases people write today (`open -na "Google Chrome" --args --user-data-dir=…`).
"""

from __future__ import annotations

import hmac
import os
import re
import secrets
import shlex
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import NamedTuple

from shellvault import locations
from shellvault.cache import ensure_private_dir
from shellvault.errors import ShellvaultError

KNOWN = ("chrome", "chromium", "firefox")
URL_MARK = "{url}"
WAIT_VARIABLE = "SHELLVAULT_BROWSER_TIMEOUT"
DEFAULT_WAIT = 120  # seconds for the browser to fetch the one-shot address

# macOS application names, for `open -a` (the app need not be on PATH there).
_MAC_APPS = {"chrome": "Google Chrome", "chromium": "Chromium", "firefox": "Firefox"}
# Executables on PATH elsewhere, in order of preference (Debian/Ubuntu/Fedora/Arch names).
_EXECUTABLES = {
    "chrome": ("google-chrome", "google-chrome-stable", "chrome"),
    "chromium": ("chromium", "chromium-browser"),
    "firefox": ("firefox",),
}
# Custom commands whose own profile flag we know, recognised by the executable's name.
_CHROMIUM_LIKE = re.compile(r"(google-chrome|chrome|chromium|brave|microsoft-edge|msedge|vivaldi)")
_FIREFOX_LIKE = re.compile(r"(firefox|librewolf|waterfox)")


class Launcher(NamedTuple):
    """How to start the browser; `argv` None means Python's `webbrowser` picks the default."""

    argv: tuple[str, ...] | None
    # For messages: "chromium", "the default browser", or the command's first word.
    name: str
    profile_dir: str | None = None

    def command_for(self, address: str) -> list[str]:
        assert self.argv is not None
        return [word.replace(URL_MARK, address) for word in self.argv]


def _isolation_flags(family: str, folder: str) -> list[str]:
    if family == "firefox":
        # -no-remote/-new-instance: otherwise a running Firefox takes the URL into its own profile.
        return ["-profile", folder, "-no-remote", "-new-instance"]
    return [f"--user-data-dir={folder}", "--no-first-run", "--new-window"]


def _family(executable: str) -> str | None:
    name = os.path.basename(executable).lower()
    if _FIREFOX_LIKE.search(name):
        return "firefox"
    if _CHROMIUM_LIKE.search(name):
        return "chromium"
    return None


def _installed(browser: str) -> str | None:
    """The command that starts `browser` here, or None when it is not installed."""
    if sys.platform == "darwin":
        app = _MAC_APPS[browser]
        folders = ("/Applications", os.path.expanduser("~/Applications"))
        found = any(os.path.isdir(os.path.join(f, f"{app}.app")) for f in folders)
        return "open" if found else None
    return next((path for name in _EXECUTABLES[browser] if (path := shutil.which(name))), None)


def safe_folder_name(profile: str) -> str:
    """A folder name for `profile` that no other profile name maps to.

    Plain lower-case names are kept as they are (readable in a file manager). Anything else gets a
    hash suffix: `a/b` and `a_b` must not share a folder, nor `Prod` and `prod` on macOS's
    case-insensitive file system.
    """
    if re.fullmatch(r"[a-z0-9][a-z0-9._-]{0,63}", profile):
        return profile
    from hashlib import sha256

    cleaned = re.sub(r"[^a-z0-9._-]+", "_", profile.lower()).strip("._-")[:48] or "profile"
    return f"{cleaned}-{sha256(profile.encode()).hexdigest()[:10]}"


def profile_folder(browser: str, profile: str) -> str:
    """`<data dir>/browser/<browser>/<profile>`, created 0700 at every level we create."""
    base = locations.data_dir()
    folder = os.path.join(base, "browser", safe_folder_name(browser), safe_folder_name(profile))
    # Someone else's folder would hold our console cookies: ensure_private_dir refuses it.
    ensure_private_dir(folder, "browser profile folder", "XDG_DATA_HOME")
    return folder


def _known(browser: str, isolate: bool, profile: str) -> Launcher:
    command = _installed(browser)
    if command is None:
        where = (
            f"{_MAC_APPS[browser]}.app in /Applications"
            if sys.platform == "darwin"
            else f"{' or '.join(_EXECUTABLES[browser])} on PATH"
        )
        raise ShellvaultError(
            f"browser {browser} is not installed (looked for {where}); name the command with "
            "--browser CMD"
        )
    folder = profile_folder(browser, profile) if isolate else None
    flags = _isolation_flags(browser, folder) if folder else []
    if sys.platform == "darwin":
        app = _MAC_APPS[browser]
        # -n starts a new instance, the only way a running browser accepts another profile
        # folder; without isolation the running one may take the URL.
        argv = (
            ["open", "-na", app, "--args", *flags, URL_MARK]
            if folder
            else ["open", "-a", app, URL_MARK]
        )
    else:
        argv = [command, *flags, URL_MARK]
    return Launcher(tuple(argv), browser, folder)


def _custom(choice: str, isolate: bool, profile: str) -> Launcher:
    try:
        words = shlex.split(choice)
    except ValueError as exc:
        raise ShellvaultError(f"cannot read --browser {choice!r}: {exc}") from None
    if not words:
        raise ShellvaultError("--browser is empty; name chrome, chromium, firefox or a command")
    if shutil.which(words[0]) is None:
        raise ShellvaultError(
            f"unknown browser {words[0]!r}: not chrome, chromium or firefox, and no such "
            "command on PATH"
        )
    name = words[0]
    folder = None
    if isolate:
        family = _family(name)
        if family is None:
            raise ShellvaultError(
                f"--isolate does not know how to give {os.path.basename(name)} its own profile "
                "folder; use --browser chrome, chromium or firefox, or put the profile flag "
                "in CMD yourself"
            )
        folder = profile_folder(os.path.basename(name), profile)
        flags = _isolation_flags(family, folder)
        # Before the URL (or the word holding {url}), where browsers expect options.
        at = next((i for i, w in enumerate(words) if URL_MARK in w), len(words))
        words[at:at] = flags
    if not any(URL_MARK in w for w in words):
        words.append(URL_MARK)
    return Launcher(tuple(words), os.path.basename(name), folder)


def resolve(choice: str | None, isolate: bool, profile: str) -> Launcher:
    """The launcher for `--browser CHOICE` (and `--isolate`); an unusable choice is an error.

    Checked before any credentials are minted, so a typo costs no MFA code.
    """
    if choice is not None and choice.strip().lower() in KNOWN:
        return _known(choice.strip().lower(), isolate, profile)
    if choice is not None:
        return _custom(choice, isolate, profile)
    if not isolate:
        return Launcher(None, "the default browser")
    # Isolation needs a browser whose profile flag we know; the default one may be anything.
    for browser in KNOWN:
        if _installed(browser):
            return _known(browser, isolate, profile)
    raise ShellvaultError(
        "--isolate needs Chrome, Chromium or Firefox and none was found; name one with --browser"
    )


def wait_seconds() -> float:
    from shellvault.durations import parse_duration

    text = os.environ.get(WAIT_VARIABLE, "").strip()
    return float(parse_duration(text, WAIT_VARIABLE)) if text else float(DEFAULT_WAIT)


class OneShotRedirect:
    """`http://127.0.0.1:PORT/<random path>`: one 302 to `target`, then nothing listens.

    Only a GET for the random path (256 bits) is answered with the redirect, once; anything else
    gets 404, so a port scanner or a browser's speculative request cannot use up the one answer.
    """

    def __init__(self, target: str) -> None:
        self._target = target
        self._path = "/" + secrets.token_urlsafe(32)
        self._lock = threading.Lock()
        self._claimed = False
        self.served = threading.Event()
        try:
            self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        except OSError as exc:
            raise ShellvaultError(
                f"cannot listen on 127.0.0.1 for the browser's one-shot redirect: "
                f"{exc.strerror or exc}; print the URL with --stdout instead"
            ) from None
        # Idle keep-alive or preconnect sockets must not keep the process alive after the answer.
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    @property
    def address(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}{self._path}"

    def _claim(self, path: str) -> bool:
        if not hmac.compare_digest(path.encode(), self._path.encode()):
            return False
        with self._lock:
            if self._claimed:
                return False
            self._claimed = True
            return True

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            timeout = 10  # an idle connection is dropped, not waited for
            server_version = "shellvault"
            sys_version = ""

            def log_message(self, format: str, *args: object) -> None:
                pass  # the default logs the path to stderr

            def _answer(self, status: int, location: str | None = None) -> None:
                self.send_response(status)
                if location is not None:
                    self.send_header("Location", location)
                # The Location is a bearer token: no cache may keep it, no Referer may carry it.
                self.send_header("Cache-Control", "no-store")
                self.send_header("Referrer-Policy", "no-referrer")
                self.send_header("Content-Length", "0")
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.flush()
                self.close_connection = True

            def do_GET(self) -> None:
                if owner._claim(self.path.split("?", 1)[0]):
                    self._answer(302, owner._target)
                    owner.served.set()
                else:
                    self._answer(404)

        return Handler

    def wait(self, seconds: float, failure: Callable[[], str | None], name: str) -> None:
        """Until the redirect was served; a failed launch or the deadline is an error."""
        deadline = time.monotonic() + seconds
        while not self.served.wait(0.05):
            problem = failure()
            if problem is not None:
                raise ShellvaultError(problem)
            if time.monotonic() >= deadline:
                raise ShellvaultError(
                    f"{name} did not open the sign-in page within {int(seconds)}s; nothing was "
                    "signed in; try another --browser, or --stdout to print the URL"
                )

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def _spawn(argv: list[str], name: str) -> Callable[[], str | None]:
    try:
        process = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            # A browser writes noise for as long as it runs; it must not reach our terminal late.
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            close_fds=True,
            # Its own session: closing the terminal (or Ctrl-C on login) leaves the browser be.
            start_new_session=True,
        )
    except OSError as exc:
        raise ShellvaultError(f"cannot run browser {name}: {exc.strerror}") from None

    def failure() -> str | None:
        status = process.poll()
        if status is None or status == 0:
            # Still running, or a launcher (open, a browser handing over to its running
            # instance) that finished its job: keep waiting for the request.
            return None
        return f"browser {name} exited with status {status} before opening the sign-in page"

    return failure


def _default_browser(address: str) -> Callable[[], str | None]:
    import webbrowser

    outcome: list[str | None] = []

    def launch() -> None:
        try:
            opened = webbrowser.open(address, new=1)
        except webbrowser.Error as exc:
            outcome.append(f"cannot open the default browser: {exc}")
            return
        outcome.append(
            None
            if opened
            else "no browser found to open the sign-in page; name one with --browser, or "
            "print the URL with --stdout"
        )

    # Some of webbrowser's choices wait for the browser to exit; the redirect must not.
    threading.Thread(target=launch, daemon=True).start()
    return lambda: outcome[0] if outcome else None


def open_url(launcher: Launcher, url: str, seconds: float | None = None) -> None:
    """Open `url` through the one-shot redirect; returns once the browser fetched it."""
    redirect = OneShotRedirect(url)
    try:
        if launcher.argv is None:
            failure = _default_browser(redirect.address)
        else:
            failure = _spawn(launcher.command_for(redirect.address), launcher.name)
        redirect.wait(wait_seconds() if seconds is None else seconds, failure, launcher.name)
    finally:
        redirect.close()
