"""ganglion-tts text normalisation: numbers, ordinals, years, currency, abbreviations,
symbols, cleanup, and the characters it drops."""

from __future__ import annotations

import pytest

from ganglion_tts.text.normalize import normalize, normalize_text
from ganglion_tts.text.numbers import cardinal, decimal, digits, ordinal, year


@pytest.mark.parametrize(
    ("n", "words"),
    [
        (0, "zero"),
        (7, "seven"),
        (13, "thirteen"),
        (40, "forty"),
        (99, "ninety nine"),
        (100, "one hundred"),
        (101, "one hundred one"),
        (1_000, "one thousand"),
        (1_010, "one thousand ten"),
        (20_000, "twenty thousand"),
        (1_000_001, "one million one"),
        (
            1_234_567_890,
            "one billion two hundred thirty four million five hundred sixty seven thousand "
            "eight hundred ninety",
        ),
        (2 * 10**18, "two quintillion"),
        (-42, "minus forty two"),
    ],
)
def test_cardinals(n, words):
    assert cardinal(n) == words


def test_numbers_beyond_the_named_scales_are_read_digit_by_digit():
    assert cardinal(10**21) == "one " + " ".join(["zero"] * 21)


@pytest.mark.parametrize(
    ("n", "words"),
    [
        (1, "first"),
        (2, "second"),
        (3, "third"),
        (5, "fifth"),
        (8, "eighth"),
        (9, "ninth"),
        (11, "eleventh"),
        (12, "twelfth"),
        (20, "twentieth"),
        (22, "twenty second"),
        (101, "one hundred first"),
        (1000, "one thousandth"),
    ],
)
def test_ordinals(n, words):
    assert ordinal(n) == words


@pytest.mark.parametrize(
    ("n", "words"),
    [
        (1984, "nineteen eighty four"),
        (1905, "nineteen oh five"),
        (1900, "nineteen hundred"),
        (2000, "two thousand"),
        (2005, "two thousand five"),
        (2019, "twenty nineteen"),
        (1066, "ten sixty six"),
    ],
)
def test_years(n, words):
    assert year(n) == words


def test_decimals_and_digits():
    assert decimal("3.5") == "three point five"
    assert decimal("3.05") == "three point zero five"
    assert decimal(".5") == "point five"
    assert decimal("-0.25") == "minus zero point two five"
    assert decimal("1,234.5") == "one thousand two hundred thirty four point five"
    assert digits("0471") == "zero four seven one"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # numbers
        ("I have 2 apples.", "i have two apples."),
        ("There were 1,984 people.", "there were one thousand nine hundred eighty four people."),
        ("It is 3.5 metres", "it is three point five metres"),
        ("about .5 of it", "about point five of it"),
        ("It fell to -5 today", "it fell to minus five today"),
        ("-3.5", "minus three point five"),
        ("1,000,000", "one million"),
        (
            "123456789",
            "one hundred twenty three million four hundred fifty six thousand "
            "seven hundred eighty nine",
        ),  # fmt: skip
        # digit strings: a spaced sequence is read digit by digit, a run as one number
        ("4 7 1", "four seven one"),
        ("471", "four hundred seventy one"),
        ("0471", "zero four seven one"),
        ("1234567890123", "one two three four five six seven eight nine zero one two three"),
        ("Call 555-0123.", "call five five five, zero one two three."),
        ("(555) 123-4567", "five five five, one two three, four five six seven"),
        # ordinals
        ("the 1st and 22nd and 103rd", "the first and twenty second and one hundred third"),
        ("The 11th hour", "the eleventh hour"),
        # years
        (
            "In 1984 and 2005 and 2019.",
            "in nineteen eighty four and two thousand five and twenty nineteen.",
        ),  # fmt: skip
        ("from 1990-1995", "from nineteen ninety to nineteen ninety five"),
        ("on 2024-03-15", "on march fifteenth, twenty twenty four"),
        # currency
        ("$3.50", "three dollars fifty cents"),
        ("$1", "one dollar"),
        ("$1.01", "one dollar one cent"),
        ("$0.05", "five cents"),
        ("$3.00", "three dollars"),
        ("$1,000", "one thousand dollars"),
        ("$2.5 million", "two point five million dollars"),
        ("-$5", "minus five dollars"),
        ("£2.50", "two pounds fifty pence"),
        ("£1", "one pound"),
        ("€0.99", "ninety nine cents"),
        ("€20", "twenty euros"),
        ("¥500", "five hundred yen"),
        ("50¢", "fifty cents"),
        # percentages, units, times, fractions
        ("50% of 12.5%", "fifty percent of twelve point five percent"),
        ("5 km at 10 mph, 1 kg", "five kilometers at ten miles per hour, one kilogram"),
        ("30°C", "thirty degrees celsius"),
        ("at 3:30 pm", "at three thirty p m"),
        ("at 3:05", "at three oh five"),
        ("at 3:00", "at three o'clock"),
        ("at 5pm.", "at five p m."),
        ("3/4 of 1/2", "three quarters of one half"),
        ("1½ pints", "one and a half pints"),
        ("pages 5-10", "pages five to ten"),
        # abbreviations
        ("Dr. Smith", "doctor smith"),
        ("on Elm Dr. today", "on elm drive today"),
        ("St. Louis is on Main St.", "saint louis is on main street."),
        ("Mr. and Mrs. Jones", "mister and missus jones"),
        ("Ms Brown", "miz brown"),
        ("apples, pears, etc.", "apples, pears, et cetera."),
        ("fruit, e.g. apples", "fruit, for example apples"),
        ("food, i.e. bread", "food, that is bread"),
        ("cats vs. dogs", "cats versus dogs"),
        ("No. 5", "number five"),
        ("#7", "number seven"),
        ("the U.S.A. today", "the u s a today"),
        ("born Jan. 5", "born january five"),
        # symbols
        ("salt & pepper", "salt and pepper"),
        ("2+2=4", "two plus two equals four"),
        ("me @ home", "me at home"),
        ("~10 people", "about ten people"),
        ("see example.com", "see example dot com"),
        # cleanup
        ("  Hello,\t\n  world!  ", "hello, world!"),
        ("“Smart” ‘quotes’", "smart quotes"),
        ("It’s John’s", "it's john's"),
        ("well-known state-of-the-art", "well known state of the art"),
        ("wait -- what?!", "wait, what?"),
        ("so… yes", "so. yes"),
        ("(yes) [no]; maybe: fine", "yes, no, maybe, fine"),
        ("... , hello", "hello"),
        ("café naïve", "cafe naive"),
    ],
)
def test_normalize(text, expected):
    assert normalize(text) == expected


def test_unreadable_characters_are_dropped_and_named_once_each():
    result = normalize_text("A snowman ☃, another ☃ and 日本.")
    assert result.text == "a snowman, another and."
    assert result.dropped == ("☃", "日", "本")


def test_readable_text_drops_nothing():
    assert normalize_text("Dr. Smith paid $3.50 (50%) & left.").dropped == ()


def test_empty_and_unreadable_text_normalise_to_nothing():
    assert normalize("") == ""
    assert normalize("  ,.;  ") == ""
    assert normalize_text("☃☃").text == ""
    with pytest.raises(TypeError, match="expects a str"):
        normalize_text(None)  # type: ignore[arg-type]
