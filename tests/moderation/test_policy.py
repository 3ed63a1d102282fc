from pathlib import Path

import pytest

from clipbot.config import Settings
from clipbot.errors import ConfigError
from clipbot.moderation import Moderator, ServerPolicy, load_policy, screen


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def nsfw_policy(tmp_path: Path) -> Path:
    return write(
        tmp_path,
        "policy.toml",
        'blocked_terms = ["pineapple pizza"]\nsexual_content_in_age_restricted = true\n'
        '[servers."42"]\nno_real_people = true\nallowed_names = ["Emma Watson"]\n',
    )


def test_sexual_content_is_allowed_only_in_age_restricted_channels(nsfw_policy: Path) -> None:
    moderator = Moderator(load_policy(nsfw_policy))
    assert moderator.screen("a naked woman on a bed", age_restricted=True).action == "allow"
    assert moderator.screen("a naked woman on a bed").action == "block"


@pytest.mark.parametrize(
    "prompt",
    ["a naked child posing", "a n4k3d k1d", "a sexy 14 year old", "child porn"],
)
def test_hard_blocks_survive_the_most_permissive_policy(prompt: str) -> None:
    policy = ServerPolicy(sexual_content_in_age_restricted=True, allowed_names=("kid",))
    verdict = screen(prompt, policy, age_restricted=True)
    assert verdict.category == "sexual_minors"


@pytest.mark.parametrize("prompt", ["Taylor Swift naked", "Taylor Swift style nude photoshoot"])
def test_real_person_sexual_stays_blocked_in_nsfw_channels(nsfw_policy: Path, prompt: str) -> None:
    moderator = Moderator(load_policy(nsfw_policy))
    verdict = moderator.screen(prompt, age_restricted=True)
    assert verdict.category == "deepfake"


def test_extra_blocked_terms_are_matched_after_normalising(nsfw_policy: Path) -> None:
    moderator = Moderator(load_policy(nsfw_policy))
    verdict = moderator.screen("a PINEAPPLE p1zza party")
    assert verdict.category == "blocked_term"


def test_no_real_people_blocks_benign_prompts_with_names_per_server(nsfw_policy: Path) -> None:
    moderator = Moderator(load_policy(nsfw_policy))
    assert moderator.screen("a statue of Abraham Lincoln", workspace="42").category == "real_person"
    assert moderator.screen("a statue of Abraham Lincoln", workspace="7").action == "allow"
    # A name used as a style still names a real person for this policy.
    assert moderator.screen("Taylor Swift style lighting", workspace="42").category == "real_person"
    assert moderator.screen("Emma Watson style library", workspace="42").action == "allow"


def test_yaml_policy_with_numeric_server_ids(tmp_path: Path) -> None:
    path = write(tmp_path, "policy.yaml", "servers:\n  123:\n    no_real_people: true\n")
    assert load_policy(path).for_server("123").no_real_people


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("bad.toml", "no_real_people = maybe", "not valid"),
        ("bad.yaml", "no_real_people: [1, 2]", "no_real_people"),
        ("bad.toml", "unknown_key = 1", "unknown_key"),
        ("bad.json", "{}", ".toml, .yaml or .yml"),
    ],
)
def test_bad_policy_file_is_a_clear_config_error(
    tmp_path: Path, name: str, text: str, message: str
) -> None:
    path = write(tmp_path, name, text)
    with pytest.raises(ConfigError, match=message):
        Moderator.from_settings(Settings(moderation_policy=path, moderation_semantic="off"))


def test_missing_policy_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_policy(tmp_path / "absent.toml")


@pytest.mark.parametrize(
    ("prompt", "action"),
    [
        ("a Jack Russell terrier chasing a ball", "allow"),
        ("a Granny Smith apple on a table", "allow"),
        ("Jack Russell waving at the camera", "block"),  # a person's name on its own
        ("a portrait of Abraham Lincoln", "block"),
    ],
)
def test_no_real_people_lets_things_named_after_people_through(
    nsfw_policy: Path, prompt: str, action: str
) -> None:
    moderator = Moderator(load_policy(nsfw_policy))
    assert moderator.screen(prompt, workspace="42").action == action
