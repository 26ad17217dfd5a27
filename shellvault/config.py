"""Profiles from the AWS config file, read the way the AWS CLI and aws-vault read them.

`[default]`, `[profile NAME]` and `[sso-session NAME]` sections; `include_profile` pulls in the
keys another profile sets (its own keys win). Credentials are never read from this file: long-term
keys live in the keystore.
"""

# No `from __future__ import annotations` here: typing.NamedTuple would compile every string
# annotation at import time, which costs the warm path (`env` on every prompt) about 2 ms in all.

import configparser
import os
from collections.abc import Iterator
from typing import NamedTuple

from shellvault import locations
from shellvault.errors import ConfigError


class Profile(NamedTuple):
    name: str
    values: dict[str, str] = {}  # never mutated; a NamedTuple default is shared

    def get(self, key: str) -> str | None:
        value = self.values.get(key, "").strip()
        return value or None

    @property
    def source_profile(self) -> str | None:
        return self.get("source_profile")

    @property
    def role_arn(self) -> str | None:
        return self.get("role_arn")

    @property
    def mfa_serial(self) -> str | None:
        return self.get("mfa_serial")

    @property
    def region(self) -> str | None:
        return self.get("region")

    def duration_seconds(self) -> int | None:
        value = self.get("duration_seconds")
        if value is None:
            return None
        if not value.isdigit():
            raise ConfigError(f"profile {self.name}: duration_seconds = {value!r} is not a number")
        return int(value)

    def session_tags(self) -> dict[str, str]:
        """`session_tags = Key1=Value1,Key2=Value2`, as aws-vault reads it."""
        text = self.get("session_tags")
        tags: dict[str, str] = {}
        if not text:
            return tags
        for item in text.split(","):
            key, sep, value = item.partition("=")
            if not sep or not key.strip():
                raise ConfigError(
                    f"profile {self.name}: session_tags item {item.strip()!r} is not Key=Value"
                )
            tags[key.strip()] = value.strip()
        return tags

    def transitive_session_tags(self) -> tuple[str, ...]:
        text = self.get("transitive_session_tags") or ""
        return tuple(t.strip() for t in text.split(",") if t.strip())


class AwsConfig:
    def __init__(self, path: str, profiles: dict[str, Profile], order: tuple[str, ...]) -> None:
        self.path = path
        self.profiles = profiles
        # Section names in file order, for `list`.
        self.order = order

    def __contains__(self, name: object) -> bool:
        return name in self.profiles

    def __iter__(self) -> Iterator[str]:
        return iter(self.order)

    def profile(self, name: str) -> Profile:
        try:
            return self.profiles[name]
        except KeyError:
            raise ConfigError(
                f"profile {name} is not in {self.path}; add a [profile {name}] section "
                f"or store a key with `shellvault add {name}`"
            ) from None


def _section_profile(section: str) -> str | None:
    if section == "default":
        return "default"
    kind, _, name = section.partition(" ")
    if kind == "profile" and name.strip():
        return name.strip()
    return None


def _parse_problem(exc: configparser.Error) -> str:
    """Which line is wrong, in one line (configparser's own message spans several).

    The line's text is left out: it may be a secret key pasted in by mistake.
    """
    if isinstance(exc, configparser.MissingSectionHeaderError):
        return f"line {exc.lineno} comes before any [profile NAME] header; fix or remove it"
    if isinstance(exc, configparser.ParsingError) and exc.errors:
        return (
            f"line {exc.errors[0][0]} is neither a [section] header nor a `key = value` line; "
            "fix or remove it"
        )
    lineno = getattr(exc, "lineno", None)
    where = f"line {lineno}: " if lineno else ""
    return f"{where}{str(exc).splitlines()[0]}; fix that line"


def load(path: str | os.PathLike[str] | None = None) -> AwsConfig:
    path = os.fspath(path) if path is not None else locations.aws_config_file()
    parser = configparser.RawConfigParser(strict=False, default_section="\0no-defaults")
    try:
        with open(path, encoding="utf-8") as handle:
            parser.read_file(handle)
    except FileNotFoundError:
        return AwsConfig(path, {}, ())
    except UnicodeDecodeError:
        raise ConfigError(f"AWS config {path} is not UTF-8 text; save it as UTF-8") from None
    except OSError as exc:
        raise ConfigError(
            f"cannot read AWS config {path}: {exc.strerror}; make it a readable file or set "
            "AWS_CONFIG_FILE to one"
        ) from None
    except configparser.Error as exc:
        raise ConfigError(f"AWS config {path} is malformed: {_parse_problem(exc)}") from None

    raw: dict[str, dict[str, str]] = {}
    order: list[str] = []
    for section in parser.sections():
        name = _section_profile(section)
        if name is None:
            continue
        values = dict(parser.items(section))
        if name in raw:
            raw[name].update(values)
        else:
            raw[name] = values
            order.append(name)
    profiles = {name: Profile(name, _with_includes(name, raw, path)) for name in raw}
    return AwsConfig(path, profiles, tuple(order))


def _with_includes(name: str, raw: dict[str, dict[str, str]], path: str) -> dict[str, str]:
    """The profile's keys over those of its `include_profile` chain."""
    seen = [name]
    layers = [raw[name]]
    current = raw[name]
    while included := current.get("include_profile", "").strip():
        if included in seen:
            loop = " -> ".join([*seen, included])
            raise ConfigError(f"include_profile loop in {path}: {loop}; break the loop")
        if included not in raw:
            raise ConfigError(
                f"profile {seen[-1]} includes profile {included}, which is not in {path}"
            )
        seen.append(included)
        current = raw[included]
        layers.append(current)
    merged: dict[str, str] = {}
    for layer in reversed(layers):
        merged.update(layer)
    merged.pop("include_profile", None)
    return merged


def append_profile_section(path: str | os.PathLike[str], name: str) -> bool:
    """Add an empty `[profile NAME]` as text, keeping the file's comments and layout.

    Returns False when the profile already has a section. configparser would rewrite the whole
    file and drop comments, so this appends instead.
    """
    return _append_section(path, name, [])


def append_process_profile(
    path: str | os.PathLike[str], name: str, command: str, region: str | None
) -> bool:
    """Add `[profile NAME]` with `credential_process = COMMAND` (and `region`), as text.

    Returns False when NAME already has a section: credential_process must never join a
    section that may hold `role_arn` or `source_profile` (botocore would assume the role itself
    and ignore the line) or keys (which botocore would use first).
    """
    lines = [f"credential_process = {command}"]
    if region:
        lines.append(f"region = {region}")
    return _append_section(path, name, lines)


def _append_section(path: str | os.PathLike[str], name: str, lines: list[str]) -> bool:
    """Append `[profile NAME]` and `lines` in one write, after a blank line; False if present."""
    if name in load(path):
        return False
    for line in lines:
        if "\n" in line or "\r" in line:
            raise ConfigError(f"cannot write {line.split('=')[0].strip()} with a line break")
    header = "[default]" if name == "default" else f"[profile {name}]"
    os.makedirs(os.path.dirname(os.path.abspath(path)), mode=0o700, exist_ok=True)
    try:
        with open(path, encoding="utf-8") as handle:
            current = handle.read()
    except FileNotFoundError:
        current = ""
    if not current or current.endswith("\n\n"):
        separator = ""
    else:
        separator = "\n" if current.endswith("\n") else "\n\n"
    block = "".join(f"{line}\n" for line in [header, *lines])
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(separator + block)
        handle.flush()
        os.fsync(handle.fileno())
    return True
