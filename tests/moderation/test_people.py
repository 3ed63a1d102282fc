from clipbot.moderation.moderator import _bundled_people
from clipbot.moderation.normalise import normalise
from clipbot.moderation.people import PeopleIndex


def names(index: PeopleIndex, text: str) -> list[tuple[str, bool]]:
    return [(m.name, m.listed) for m in index.find(normalise(text).plain)]


def test_bundled_list_holds_thousands_of_public_figures() -> None:
    assert len(_bundled_people()) > 3000


def test_aliases_and_folded_spellings_find_the_canonical_name() -> None:
    index = _bundled_people()
    assert names(index, "zelenskyy on stage") == [("Volodymyr Zelensky", True)]
    assert names(index, "ＢＡＲＡＣＫ ＯＢＡＭＡ") == [("Barack Obama", True)]


def test_longest_name_wins() -> None:
    index = PeopleIndex([("Robert Downey Jr.", []), ("Robert Downey", [])], [])
    assert names(index, "robert downey jr. smiling") == [("Robert Downey Jr.", True)]


def test_unlisted_full_personal_name_is_found_by_given_name() -> None:
    index = PeopleIndex([], ["sarah"])
    assert names(index, "sarah whitfield at the office") == [("sarah whitfield", False)]
    assert names(index, "sarah with a dog") == []


def test_allowed_names_are_ignored() -> None:
    index = _bundled_people().without(["Emma Watson"])
    assert names(index, "Emma Watson reading") == []


def test_a_full_name_is_found_through_the_possessive_a_single_one_is_not() -> None:
    index = PeopleIndex([("Rishi Sunak", ["Sunak"]), ("Donald Trump", ["Trump"])], [])
    assert names(index, "Rishi Sunak's trousers falling down") == [("Rishi Sunak", True)]
    assert names(index, "a protest sign saying love trumps hate") == []
