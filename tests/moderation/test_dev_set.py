"""The development set meets the issue's targets as the bot screens by default (rules, then the
semantic layer); its evasions are the rules' job and meet theirs with the rules alone."""

from pathlib import Path

from clipbot.moderation import Moderator, screen
from clipbot.moderation.evaluate import read_labelled, summarise

DEV_SET = Path(__file__).resolve().parents[1] / "data" / "moderation_dev.jsonl"


def test_dev_set_meets_recall_false_block_and_evasion_targets(
    semantic_moderator: Moderator,
) -> None:
    # The "broad" samples (helper-written harm in every phrasing, hate and euphemism hardest)
    # are a stress set the targets are not met on: they get a floor of their own below.
    examples = [e for e in read_labelled(DEV_SET) if e.kind != "broad"]
    report = summarise((e, semantic_moderator.screen(e.text)) for e in examples)
    assert report["recall"] >= 0.95
    assert report["false_block_rate"] <= 0.03
    assert report["evasion_recall"] >= report["recall"] - 0.02


def test_broad_samples_stay_above_their_floor(semantic_moderator: Moderator) -> None:
    # 0.883 when the floor was set (eighth session, 9,683 rows); a change that loses more than
    # a point and a half of it is a regression, whatever it wins elsewhere. Samples added later
    # move the figure: set the floor again then, from the new figure, in the same commit.
    examples = [e for e in read_labelled(DEV_SET) if e.kind == "broad"]
    report = summarise((e, semantic_moderator.screen(e.text)) for e in examples)
    assert report["recall"] >= 0.865


def test_rules_alone_meet_the_targets_on_the_prompts_written_for_them() -> None:
    # Paraphrases and the "broad" sample (written for the probe, in every phrasing a helper
    # could think of) often name no trigger word: they are the semantic layer's job.
    examples = [e for e in read_labelled(DEV_SET) if e.kind not in ("paraphrase", "broad")]
    report = summarise((e, screen(e.text)) for e in examples)
    assert report["recall"] >= 0.95
    assert report["false_block_rate"] <= 0.03
    assert report["evasion_recall"] >= report["recall"] - 0.02


def test_dev_set_covers_every_category_with_near_misses_and_evasions() -> None:
    examples = read_labelled(DEV_SET)
    blocked = {e.category for e in examples if e.label == "block"}
    assert blocked >= {
        "sexual_minors", "sexual", "non_consensual", "deepfake",
        "impersonation_fraud", "violence", "hate", "self_harm",
    }  # fmt: skip
    near = {e.category for e in examples if e.kind == "near_miss"}
    assert {f"near_{c}" for c in blocked} <= near
    assert {e.category for e in examples if e.kind == "evasion"} == blocked
