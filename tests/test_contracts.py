"""Contracts of consumers that cannot run here, asserted from their documentation.

starship and powerlevel10k read environment variables; the macOS and Windows keystores are keyring
backend classes. What they read is pinned here so a change that would break them fails a test.
"""

from __future__ import annotations

import importlib
import re
from datetime import datetime

import pytest

from shellvault.credentials import Credentials
from shellvault.keystore import BACKENDS, default_backend_name
from shellvault.output.changes import changes_for

# chrono's DateTime::parse_from_rfc3339, which starship uses for AWS_CREDENTIAL_EXPIRATION,
# needs a full date-time with `Z` or a numeric offset.
RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")


def test_prompt_tools_see_profile_and_expiry() -> None:
    credentials = Credentials("ASIAEXAMPLE", "secret", "token", 1_795_882_808)
    sets = changes_for("private_admin", credentials, "ap-northeast-1").sets
    # starship: profile from AWSU_PROFILE, AWS_VAULT, AWSUME_PROFILE, AWS_PROFILE, ...; shown only
    # with credentials in the environment. powerlevel10k: AWS_SSO_PROFILE, AWS_VAULT, ...
    assert sets["AWS_VAULT"] == "private_admin"
    assert {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"} <= set(sets)
    assert sets["AWS_REGION"] == sets["AWS_DEFAULT_REGION"] == "ap-northeast-1"
    expiration = sets["AWS_CREDENTIAL_EXPIRATION"]
    assert RFC3339.match(expiration)
    assert expiration == "2026-11-28T16:20:08Z"
    parsed = datetime.fromisoformat(expiration.replace("Z", "+00:00"))
    assert int(parsed.timestamp()) == int(sets["SHELLVAULT_EXPIRES"])


def test_aws_vault_variable_can_be_turned_off() -> None:
    credentials = Credentials("ASIAEXAMPLE", "secret", "token", 1_795_882_808)
    changes = changes_for("p", credentials, None, set_aws_vault=False)
    assert "AWS_VAULT" not in changes.sets and "AWS_VAULT" not in changes.unsets


@pytest.mark.parametrize("name", ["keychain", "windows", "secret-service", "kwallet", "file"])
def test_backend_names_point_at_real_keyring_classes(name: str) -> None:
    import keyring.backend

    module_name, _, class_name = BACKENDS[name].partition(":")
    backend_class = getattr(importlib.import_module(module_name), class_name)
    assert issubclass(backend_class, keyring.backend.KeyringBackend)


@pytest.mark.parametrize(
    ("platform", "expected"),
    [("darwin", "keychain"), ("win32", "windows"), ("linux", "secret-service")],
)
def test_platform_default_backend(
    monkeypatch: pytest.MonkeyPatch, platform: str, expected: str
) -> None:
    monkeypatch.setattr("sys.platform", platform)
    assert default_backend_name() == expected


def test_every_command_word_reaches_its_module() -> None:
    from shellvault.cli import ALIASES, COMMANDS

    for name in COMMANDS:
        module = importlib.import_module(f"shellvault.cli.{name}")
        assert name in module.NAMES
        for word in module.NAMES:
            assert word == name or ALIASES[word] == name
