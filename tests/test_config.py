from __future__ import annotations

from pathlib import Path

import pytest

from shellvault.config import append_profile_section, load
from shellvault.durations import parse_duration
from shellvault.errors import ConfigError


def test_sections_like_the_aws_cli(tmp_path: Path) -> None:
    path = tmp_path / "config"
    path.write_text(
        "[default]\nregion=us-east-1\n[profile a]\nregion = eu-west-1\n"
        "[sso-session corp]\nsso_region=x\n[not-a-profile]\nx=1\n[profile a]\nmfa_serial=m\n"
    )
    config = load(path)
    assert list(config) == ["default", "a"]
    assert config.profile("a").values == {"region": "eu-west-1", "mfa_serial": "m"}


def test_missing_file_is_empty(tmp_path: Path) -> None:
    assert list(load(tmp_path / "nope")) == []


def test_malformed_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "config"
    path.write_text("region = x\n[profile a]\n")
    with pytest.raises(ConfigError) as caught:
        load(path)
    assert str(path) in caught.value.message and "malformed" in caught.value.message


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ("", "[profile new]\n"),
        ("# c\n[profile a]\n", "# c\n[profile a]\n\n[profile new]\n"),
        ("# c\n[profile a]", "# c\n[profile a]\n\n[profile new]\n"),
        ("[profile a]\n\n", "[profile a]\n\n[profile new]\n"),
    ],
)
def test_append_keeps_text(tmp_path: Path, before: str, after: str) -> None:
    path = tmp_path / "config"
    path.write_text(before)
    assert append_profile_section(path, "new") is True
    assert path.read_text() == after
    assert append_profile_section(path, "new") is False
    assert path.read_text() == after


def test_append_default_and_missing_folder(tmp_path: Path) -> None:
    path = tmp_path / "aws" / "config"
    append_profile_section(path, "default")
    assert path.read_text() == "[default]\n"


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("1h", 3600), ("90m", 5400), ("12h", 43200), ("1h30m", 5400), ("3600", 3600), ("45s", 45)],
)
def test_durations(text: str, seconds: int) -> None:
    assert parse_duration(text, "X") == seconds


@pytest.mark.parametrize("text", ["", "h", "1x", "1h 30m", "-1h", "1.5"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ConfigError, match="X"):
        parse_duration(text, "X")
