"""Text formats that carry an `EnvChanges` (or raw credentials) out of shellvault.

Everything here is a pure function of its arguments and imports only `json`, `re` and
`shlex`: `shellvault env` runs on every prompt of a direnv or shell-hook setup, so this module
sits on the hot path and must not pull in anything heavy.

The shell formats are meant for `eval "$(shellvault env PROFILE)"` (or `| source` in fish), so
their one job beyond being correct is being *inert*: whatever bytes a value holds (quotes,
`$(...)`, backticks, newlines, `;`, backslashes, `!`), the shell must assign them verbatim and
run nothing else. Every value is therefore emitted in the single most literal quoting the target
language has, and variable names are validated rather than quoted.
"""

from __future__ import annotations

import json
import re
import shlex

from shellvault.credentials import Credentials
from shellvault.output.changes import EnvChanges

ENV_FORMATS = ("bash", "zsh", "sh", "fish", "powershell", "dotenv", "json")
EXPORT_FORMATS = ("env", "export-env", "json", "ini")

# Names are never quoted (no shell accepts a quoted name in an assignment), so they must be
# plain identifiers; fish and PowerShell accept the same set.
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

# The variables `aws-vault export --format env|ini` prints, in its order.
_EXPORT_VARIABLES = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_CREDENTIAL_EXPIRATION",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
)
_INI_KEYS = (
    ("aws_access_key_id", "AWS_ACCESS_KEY_ID"),
    ("aws_secret_access_key", "AWS_SECRET_ACCESS_KEY"),
    ("aws_session_token", "AWS_SESSION_TOKEN"),
    ("aws_credential_expiration", "AWS_CREDENTIAL_EXPIRATION"),
)

# fish single quotes: only `\\` and `\'` are escapes. A newline could stay literal inside the
# quotes, but `eval (shellvault env ...)` splits command output on newlines and eval joins the
# pieces with spaces, which would turn it into a space; so a newline is written *outside* the
# quotes as fish's `\n` escape (`'a'\n'b'` is one word). Together with the `;` after every
# statement this makes the output survive both `| source` and `eval (...)`.
_FISH_ESCAPES = str.maketrans({"\\": "\\\\", "'": "\\'", "\n": "'\\n'"})

# PowerShell's tokenizer treats the typographic quotes U+2018, U+2019, U+201A and U+201B exactly
# like the ASCII apostrophe, both to end a single-quoted string and in the doubled-quote escape
# (about_Quoting_Rules: "PowerShell treats smart quotation marks ... as normal quotation
# marks"). Doubling only `'` would let a value holding U+2019 (common in pasted text) close the
# string and have the rest of the value run as code.
_POWERSHELL_QUOTES = "'\u2018\u2019\u201a\u201b"
_POWERSHELL_ESCAPES = str.maketrans({q: q + q for q in _POWERSHELL_QUOTES})


def render(changes: EnvChanges, fmt: str) -> str:
    """The whole text of `changes` in `fmt` (one of ENV_FORMATS); sets first, then unsets.

    Empty output is the empty string; otherwise it ends in a newline. Raises ValueError for an
    unknown format, a name that is not an identifier, or a value holding NUL (no environment
    can carry one, and shells would silently truncate or drop it).
    """
    for name in (*changes.sets, *changes.unsets):
        _check_name(name)
    for value in changes.sets.values():
        if "\0" in value:
            raise ValueError("environment values cannot contain NUL")

    lines: list[str]
    if fmt in ("bash", "zsh", "sh"):
        # `unset -v`: without -v, bash removes a *function* of that name when no such variable
        # exists. -v is POSIX and understood by bash, zsh and dash alike.
        lines = [f"export {name}={_posix_quote(value)}" for name, value in changes.sets.items()]
        lines += [f"unset -v {name}" for name in changes.unsets]
    elif fmt == "fish":
        lines = [f"set -gx {name} {_fish_quote(value)};" for name, value in changes.sets.items()]
        # `-g` because inherited environment variables and our `set -gx` both live in the
        # global scope (and `source` inside a function would otherwise look at the function's
        # scope first). Never the universal scope: erasing a universal variable would change
        # every fish session on the machine, permanently. The `if` guard is there because
        # `set -e` of a missing variable returns status 4, which would become the status of
        # the whole `| source`; an `if` whose condition fails returns 0 and prints nothing.
        lines += [f"if set -q -g {name}; set -e -g {name}; end;" for name in changes.unsets]
    elif fmt == "powershell":
        lines = [f"$Env:{name} = {_powershell_quote(v)}" for name, v in changes.sets.items()]
        lines += [
            f"Remove-Item Env:{name} -ErrorAction SilentlyContinue" for name in changes.unsets
        ]
    elif fmt == "dotenv":
        # A dotenv file only assigns; there is no way to express "remove this variable".
        lines = [f"{name}={_dotenv_quote(value)}" for name, value in changes.sets.items()]
    elif fmt == "json":
        # `null` for an unset so a consumer can apply exactly the same change.
        document: dict[str, str | None] = dict(changes.sets)
        document.update(dict.fromkeys(changes.unsets))
        return json.dumps(document, indent=2) + "\n"
    else:
        raise ValueError(f"unknown format {fmt!r}; expected one of {', '.join(ENV_FORMATS)}")
    return "".join(line + "\n" for line in lines)


def render_process(credentials: Credentials) -> str:
    """The JSON an AWS SDK `credential_process` expects (also `aws-vault export --format json`).

    `SessionToken` is left out for long-term keys and `Expiration` (RFC 3339, UTC, `Z`) for
    credentials that never expire: the SDKs treat a present Expiration as "refresh before then".
    """
    document: dict[str, int | str] = {
        "Version": 1,
        "AccessKeyId": credentials.access_key_id,
        "SecretAccessKey": credentials.secret_access_key,
    }
    if credentials.session_token is not None:
        document["SessionToken"] = credentials.session_token
    expiration = credentials.expiration_rfc3339()
    if expiration is not None:
        document["Expiration"] = expiration
    return json.dumps(document, indent=2) + "\n"


def render_export(changes: EnvChanges, credentials: Credentials, profile: str, fmt: str) -> str:
    """What `aws-vault export --format FMT PROFILE` prints, for scripts written against it.

    - `env` / `export-env`: `NAME=value` lines (with `export ` before each for `export-env`) for
      the AWS_* variables in `changes.sets`, in aws-vault's order. aws-vault does not quote at
      all; `shlex.quote` leaves ordinary values (key IDs, base64 secrets, timestamps, regions)
      untouched, so those lines are byte-identical, and only quotes what would break a shell.
    - `json`: `render_process(credentials)`, as aws-vault prints the credential_process JSON.
    - `ini`: a `[profile NAME]` section (aws-vault's header, i.e. the ~/.aws/config form) with
      `key=value` lines. Raises ValueError when the profile name or a value cannot be written
      into an INI file without changing its structure (`]` or a line break).
    """
    if fmt in ("env", "export-env"):
        prefix = "export " if fmt == "export-env" else ""
        return "".join(
            f"{prefix}{name}={shlex.quote(changes.sets[name])}\n"
            for name in _EXPORT_VARIABLES
            if name in changes.sets
        )
    if fmt == "json":
        return render_process(credentials)
    if fmt == "ini":
        if any(c in profile for c in "]\r\n"):
            raise ValueError(f"profile name {profile!r} cannot be an INI section name")
        pairs = [(key, changes.sets[var]) for key, var in _INI_KEYS if var in changes.sets]
        region = changes.sets.get("AWS_REGION") or changes.sets.get("AWS_DEFAULT_REGION")
        if region:
            pairs.append(("region", region))
        for key, value in pairs:
            if "\r" in value or "\n" in value:
                raise ValueError(f"{key} contains a line break and cannot be written as INI")
        return f"[profile {profile}]\n" + "".join(f"{key}={value}\n" for key, value in pairs)
    raise ValueError(f"unknown export format {fmt!r}; expected one of {', '.join(EXPORT_FORMATS)}")


def _check_name(name: str) -> None:
    if not _NAME.fullmatch(name):
        raise ValueError(f"not a valid environment variable name: {name!r}")


def _posix_quote(value: str) -> str:
    """POSIX single quotes: nothing inside is special, so only `'` itself needs care.

    Each `'` becomes `'\\''` (close, escaped quote, reopen). Single-quoted text undergoes no
    parameter, command or arithmetic expansion, no globbing and no history expansion (bash only
    history-expands interactive input lines, never `eval`'s argument). The form is also safe
    under zsh's RC_QUOTES: a `''` pair never occurs *inside* one of the quoted runs.
    """
    return "'" + value.replace("'", "'\\''") + "'"


def _fish_quote(value: str) -> str:
    return "'" + value.translate(_FISH_ESCAPES) + "'"


def _powershell_quote(value: str) -> str:
    """A verbatim (single-quoted) PowerShell string: no `$` or backtick expansion inside.

    The only escape is doubling a quote character, applied to all five characters PowerShell
    recognises as a single quote (see _POWERSHELL_QUOTES).
    """
    return "'" + value.translate(_POWERSHELL_ESCAPES) + "'"


def _dotenv_quote(value: str) -> str:
    """Quote a value for a .env file.

    Plain rule (every value shellvault produces in practice: key IDs, base64 secrets and
    tokens, timestamps, regions, ordinary profile names): `'value'`, used whenever the value
    has no `'`, no backslash, no CR/LF and no `${`. python-dotenv, Node's dotenv and docker
    compose all read that literally.

    Fallback rule, exact for python-dotenv with its defaults (interpolate=True):
    `"..."` with `\\\\`, `\\"`, `\\n` and `\\r` escapes. python-dotenv has no escape for `$`
    and expands `${NAME}` / `${NAME:-default}` in *every* value, single-quoted or not, so
    each `${` is written as `${:-$}{`: an expansion of the empty name (which no environment
    holds) whose default is a literal `$`. A value ending in a backslash gets an empty
    `${:-}` appended, because python-dotenv's double-quote regex would otherwise read the
    escaped backslash plus the closing quote as an escaped quote and run on into the next line.
    Other readers (Node's dotenv does not unescape `\\\\` or `\\"`; compose rejects `${:-$}`)
    may read such values differently; no single spelling satisfies them all.
    """
    if not any(c in value for c in "'\\\r\n") and "${" not in value:
        return f"'{value}'"
    body = (
        value.replace("\\", "\\\\")
        .replace('"', '\\"')
        .replace("\n", "\\n")
        .replace("\r", "\\r")
        .replace("${", "${:-$}{")
    )
    if value.endswith("\\"):
        body += "${:-}"
    return f'"{body}"'
