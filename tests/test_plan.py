"""Which STS calls a profile needs: decided from the config alone, tested without STS."""

from __future__ import annotations

from pathlib import Path

import pytest

from shellvault.config import AwsConfig, load
from shellvault.errors import ConfigError
from shellvault.vault.plan import ChainPlan, MintOptions, plan

MFA = "arn:aws:iam::123456789012:mfa/user01"

MISSION = f"""
[profile private]

[profile private_admin]
source_profile=private
role_arn=arn:aws:iam::123456789012:role/admins-assume
role_session_name=user01
mfa_serial={MFA}
region=ap-northeast-1

[profile private_readonly]
source_profile=private
role_arn=arn:aws:iam::123456789012:role/readonly
mfa_serial={MFA}

[profile deep]
source_profile=private_admin
role_arn=arn:aws:iam::210987654321:role/deep
"""


def config(tmp_path: Path, text: str = MISSION) -> AwsConfig:
    path = tmp_path / "config"
    path.write_text(text)
    return load(path)


def make(tmp_path: Path, name: str, text: str = MISSION, **options: object) -> ChainPlan:
    return plan(config(tmp_path, text), name, MintOptions(**options), lambda p: p == "private")  # type: ignore[arg-type]


@pytest.fixture(autouse=True)
def _no_ttl_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "AWS_ASSUME_ROLE_TTL",
        "AWS_SESSION_TOKEN_TTL",
        "AWS_CHAINED_SESSION_TOKEN_TTL",
        "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_STS",
    ):
        monkeypatch.delenv(name, raising=False)


def test_mfa_on_the_role_only_still_makes_one_mfa_session(tmp_path: Path) -> None:
    p = make(tmp_path, "private_admin")
    assert p.session is not None
    assert (p.session.mfa_serial, p.session.duration, p.session.feeds_roles) == (
        MFA,
        8 * 3600,
        True,
    )
    (role,) = p.roles
    assert role.mfa_serial is None  # the session carries the MFA already
    assert role.duration == 3600 and role.capped_from is None
    assert p.region == "ap-northeast-1"
    assert p.profiles == ("private_admin", "private")


def test_two_roles_share_the_same_session(tmp_path: Path) -> None:
    a, b = make(tmp_path, "private_admin"), make(tmp_path, "private_readonly")
    assert a.session == b.session
    assert a.final_cache_key != b.final_cache_key


def test_role_with_another_mfa_device_sends_its_own_code(tmp_path: Path) -> None:
    text = MISSION.replace("[profile private]\n", "[profile private]\nmfa_serial=arn:other\n")
    p = make(tmp_path, "private_admin", text)
    assert p.session is not None and p.session.mfa_serial == "arn:other"
    assert p.roles[0].mfa_serial == MFA


def test_long_single_role_skips_the_session(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ASSUME_ROLE_TTL", "12h")
    p = make(tmp_path, "private_admin")
    assert p.session is None
    assert p.roles[0].mfa_serial == MFA and p.roles[0].duration == 12 * 3600


def test_duration_flag_beats_profile_and_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ASSUME_ROLE_TTL", "12h")
    text = MISSION.replace("region=ap-northeast-1", "region=ap-northeast-1\nduration_seconds=7200")
    assert make(tmp_path, "private_admin", text).roles[0].duration == 7200
    assert make(tmp_path, "private_admin", text, duration=5400).roles[0].duration == 5400


def test_role_chain_is_capped(tmp_path: Path) -> None:
    p = make(tmp_path, "deep", duration=4 * 3600)
    assert [r.profile for r in p.roles] == ["private_admin", "deep"]
    assert p.roles[1].duration == 3600 and p.roles[1].capped_from == 4 * 3600
    assert p.region == "ap-northeast-1"  # inherited from the nearest source with a region


def test_no_session(tmp_path: Path) -> None:
    p = make(tmp_path, "private_admin", no_session=True)
    assert p.session is None and p.roles[0].mfa_serial == MFA
    bare = make(tmp_path, "private", no_session=True)
    assert bare.session is None and bare.roles == () and bare.final_cache_key is None


def test_plain_profile_session_durations(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    p = make(tmp_path, "private")
    assert p.session is not None and p.session.duration == 3600 and not p.session.feeds_roles
    monkeypatch.setenv("AWS_SESSION_TOKEN_TTL", "2h")
    p = make(tmp_path, "private")
    assert p.session is not None and p.session.duration == 7200
    monkeypatch.setenv("AWS_CHAINED_SESSION_TOKEN_TTL", "90m")
    p = make(tmp_path, "private_admin")
    assert p.session is not None and p.session.duration == 5400


def test_cache_keys_follow_what_they_depend_on(tmp_path: Path) -> None:
    base = make(tmp_path, "private_admin").final_cache_key
    unrelated = make(tmp_path, "private_admin", MISSION + "\n[profile other]\nregion=x\n")
    assert unrelated.final_cache_key == base
    for old, new in [
        ("role/admins-assume", "role/other"),
        ("role_session_name=user01", "role_session_name=user02"),
        ("region=ap-northeast-1", "region=eu-west-1"),
        (f"mfa_serial={MFA}\nregion", "mfa_serial=arn:x\nregion"),
    ]:
        assert make(tmp_path, "private_admin", MISSION.replace(old, new, 1)).final_cache_key != base
    assert make(tmp_path, "private_admin", duration=1800).final_cache_key != base
    assert make(tmp_path, "private_admin", region="us-west-2").final_cache_key != base


def test_endpoint_follows_botocore_precedence(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = MISSION.replace("region=ap-northeast-1", "region=ap-northeast-1\nendpoint_url=http://p")
    assert make(tmp_path, "private_admin", text).roles[0].sts.endpoint_url == "http://p"
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://general")
    assert make(tmp_path, "private_admin", text).roles[0].sts.endpoint_url == "http://general"
    monkeypatch.setenv("AWS_ENDPOINT_URL_STS", "http://sts")
    key = make(tmp_path, "private_admin", text)
    assert key.roles[0].sts.endpoint_url == "http://sts"
    monkeypatch.setenv("AWS_ENDPOINT_URL_STS", "http://elsewhere")
    assert make(tmp_path, "private_admin", text).final_cache_key != key.final_cache_key


def test_session_tags_and_options(tmp_path: Path) -> None:
    text = MISSION.replace(
        "role_session_name=user01",
        "role_session_name=user01\nexternal_id=ext\nsource_identity=me\n"
        "session_tags=team=infra, env=prod\ntransitive_session_tags=team",
    )
    role = make(tmp_path, "private_admin", text).roles[0]
    assert role.external_id == "ext" and role.source_identity == "me"
    assert role.session_tags == (("env", "prod"), ("team", "infra"))
    assert role.transitive_session_tags == ("team",)


@pytest.mark.parametrize(
    ("text", "name", "words"),
    [
        (
            "[profile a]\nsource_profile=b\nrole_arn=r\n"
            "[profile b]\nsource_profile=a\nrole_arn=r\n",
            "a",
            ["loop", "a -> b -> a"],
        ),
        ("[profile a]\nsource_profile=ghost\nrole_arn=r\n", "a", ["ghost", "a"]),
        ("[profile a]\nrole_arn=r\n", "a", ["a", "source_profile"]),
        ("", "nobody", ["nobody", "not in"]),
        (
            "[profile a]\ninclude_profile=b\n[profile b]\ninclude_profile=a\n",
            "a",
            ["include_profile loop"],
        ),
    ],
)
def test_bad_chains_name_the_profiles(
    tmp_path: Path, text: str, name: str, words: list[str]
) -> None:
    with pytest.raises(ConfigError) as caught:
        make(tmp_path, name, text)
    for word in words:
        assert word in caught.value.message


def test_include_profile_and_alias(tmp_path: Path) -> None:
    text = (
        MISSION + "\n[profile base]\nregion=eu-central-1\n[profile inc]\ninclude_profile=base\n"
        "source_profile=private_admin\n"
    )
    p = make(tmp_path, "inc", text)
    # `inc` has no role: it is an alias of private_admin, with its own (included) region.
    assert [r.profile for r in p.roles] == ["private_admin"] and p.region == "eu-central-1"


def test_key_without_config_section(tmp_path: Path) -> None:
    p = make(tmp_path, "private", "")
    assert p.root == "private"


def test_skipping_the_session_keeps_the_source_profiles_mfa(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = MISSION.replace("[profile private]\n", f"[profile private]\nmfa_serial={MFA}\n")
    text = text.replace(f"mfa_serial={MFA}\nregion=ap-northeast-1", "region=ap-northeast-1")
    assert make(tmp_path, "private_admin", text).roles[0].mfa_serial is None  # session has it
    assert make(tmp_path, "private_admin", text, no_session=True).roles[0].mfa_serial == MFA
    monkeypatch.setenv("AWS_ASSUME_ROLE_TTL", "2h")
    p = make(tmp_path, "private_admin", text)
    assert p.session is None and p.roles[0].mfa_serial == MFA
