"""The `--flag value` grammar typed in Slack and the console."""

from __future__ import annotations

import pytest

from clipbot.bot.grammar import parse
from clipbot.errors import InvalidRequest


def test_flags_fill_the_request_and_the_rest_is_the_prompt() -> None:
    request = parse(
        'a fox in snow --seed 7 --ar 16:9 --len 4 --neg "blurry, text" --model ltx-video'
    )
    assert request.prompt == "a fox in snow"
    assert (request.seed, request.aspect, request.length_s) == (7, "16:9", 4.0)
    assert request.negative_prompt == "blurry, text"
    assert request.model == "ltx-video"


def test_flags_may_come_anywhere_and_take_an_equals_sign() -> None:
    request = parse("--ar=9:16 a tall waterfall --seed=12 at dusk")
    assert request.prompt == "a tall waterfall at dusk"
    assert (request.aspect, request.seed) == ("9:16", 12)


def test_phone_autocorrected_dashes_and_quotes_are_understood() -> None:
    request = parse("a cat —seed 3 —neg “dogs, birds”")
    assert request.seed == 3 and request.negative_prompt == "dogs, birds"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "Say what the clip should show"),
        ("   --seed 4", "Say what the clip should show"),
        ("a fox --bogus 3", "Unknown option --bogus"),
        ("a fox --seed", "--seed needs a value"),
        ("a fox --seed seven", "Bad value 'seven' for --seed"),
        ("a fox --seed -1", "Bad seed (--seed): a whole number from 0 to 4294967295"),
        ("a fox --seed 99999999999", "Bad seed (--seed)"),
        ("a fox --ar 2:1", "Bad aspect (--ar): one of 16:9, 9:16, 1:1, 4:3, 3:4"),
        ("a fox --len 60", "Bad length (--len): seconds from 1 to 10"),
        ('a fox --neg "unclosed', "A quote is not closed"),
        ("x" * 5000, "Bad prompt: write 1 to 1000 characters"),
    ],
)
def test_bad_input_gets_a_message_that_says_what_is_accepted(text: str, expected: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        parse(text)
    assert expected in str(caught.value)


def test_control_and_odd_unicode_characters_are_cleaned_not_fatal() -> None:
    request = parse("a\x00 fox\u200b in \u202esnow\x07 🦊 ｆｕｌｌｗｉｄｔｈ")
    assert "\x00" not in request.prompt and "\x07" not in request.prompt
    assert "🦊" in request.prompt


def test_a_prompt_of_only_control_characters_is_empty() -> None:
    with pytest.raises(InvalidRequest, match="Bad prompt"):
        parse("\x00\x01\x02")
