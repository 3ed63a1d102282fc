import string

from hypothesis import given, settings
from hypothesis import strategies as st

from clipbot.moderation import screen
from clipbot.moderation.normalise import normalise, segment


def tokens(text: str) -> list[str]:
    return list(normalise(text).plain.tokens)


def leet_tokens(text: str) -> list[str]:
    return list(normalise(text).streams[-1].tokens)


def test_full_width_and_case_fold_to_ascii() -> None:
    assert tokens("ＮＵＤＥ Beach") == ["nude", "beach"]


def test_zero_width_and_combining_marks_are_removed() -> None:
    assert tokens("n\u200bu\u200dd\u0301e\ufeff") == ["nude"]


def test_cyrillic_and_greek_look_alikes_fold_to_latin() -> None:
    assert tokens("nаkеd") == ["naked"]  # Cyrillic а and е
    assert tokens("κιll") == ["kill"]  # Greek kappa and iota


def test_leetspeak_is_decoded_in_a_second_stream() -> None:
    assert leet_tokens("n4k3d k1d") == ["naked", "kid"]
    assert tokens("a 13 year old") == ["a", "13", "year", "old"]


def test_spaced_and_punctuated_letters_are_joined() -> None:
    assert tokens("n u d e photo") == ["nude", "photo"]
    assert tokens("n.u.d.e") == ["nude"]
    assert tokens("n-u-d-e") == ["nude"]


def test_words_cut_by_hyphens_are_glued_in_a_reading_of_their_own() -> None:
    assert tokens("my ex-boyfriend") == ["my", "ex", "boyfriend"]
    assert "suicide" in normalise("sui-cide note").streams[-1].tokens
    assert screen("a sui-cide note on the table").category == "self_harm"
    assert screen("a por-n video").category == "sexual"
    assert screen("an x-ray of a hand").action == "allow"


def test_letters_repeated_three_times_collapse() -> None:
    stream = normalise("nuuuude kiiilll").plain
    assert stream.tokens[0] == "nude"
    assert stream.stretched[1] == "kil"


def test_ordinary_prompt_is_unchanged_apart_from_case() -> None:
    assert tokens("A fox running through SNOW, 4k") == [
        "a",
        "fox",
        "running",
        "through",
        "snow",
        "4k",
    ]


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_any_unicode_never_raises(text: str) -> None:
    normalise(text)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=string.ascii_lowercase + " ", max_size=40))
def test_folding_is_idempotent_on_plain_ascii(text: str) -> None:
    once = " ".join(tokens(text))
    assert " ".join(tokens(once)) == once


def test_a_repeated_letter_inside_a_spaced_run_counts_as_one_letter() -> None:
    assert tokens("n a k e ddd woman") == ["naked", "woman"]
    assert tokens("nnn aaaaa kkk eeeee ddddd") == ["naked"]
    # Outside a run of single letters the token is left alone (and still means the Klan).
    assert screen("a kkk rally").category == "hate"


def unmasked(text: str) -> list[str]:
    masked = normalise(text).streams[-1]
    assert masked.masked, "no masked reading"
    return list(segment(masked, frozenset({"naked", "need", "kikes", "fags", "figs"})).tokens)


def test_a_star_standing_for_letters_is_filled_in_from_known_words() -> None:
    assert unmasked("n*ked woman") == ["naked", "woman"]
    assert unmasked("n**ed woman") == ["naked", "woman"]  # two stars: five letters, not "need"
    assert unmasked("k*kes") == ["kikes"]
    assert unmasked("zz*zz") == ["zzzz"]  # nothing known fits: the star is dropped


def test_stars_between_single_letters_space_them_out_rather_than_mask_them() -> None:
    assert len(normalise("b*e*d").streams) == 1  # read as "bed", not "bleed"
    assert tokens("b*e*d") == ["bed"]


def test_masked_words_are_read_as_the_flagged_word_they_can_be() -> None:
    assert screen("a n*de woman").category == "sexual"
    assert screen("tr*nnies in a circus cage").category == "hate"
    assert screen("a f*n day at the beach").action == "allow"


def test_emoji_standing_for_words_are_read_as_the_words() -> None:
    assert tokens("deport the 🐒🐒 back") == ["deport", "the", "monkey", "monkey", "back"]
    assert screen("deport the 🐒🐒🐒 back to africa").category == "hate"
    assert screen("a 🐒 eating a banana in the jungle").action == "allow"
