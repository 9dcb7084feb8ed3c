"""ganglion-tts's TextFrontend: tokens, ids and the vocabulary, digit strings, the report of
guessed words and dropped characters (logged once per call), and clear errors."""

from __future__ import annotations

import logging

import pytest

from ganglion.errors import GanglionError
from ganglion_tts.text import FrontendResult, TextFrontend, TTSTextError
from ganglion_tts.text.phonemes import PhonemeVocabulary


@pytest.fixture(scope="module")
def frontend():
    return TextFrontend()


def test_parse_gives_words_tokens_and_ids(frontend):
    result = frontend.parse("Hello, world!")
    assert isinstance(result, FrontendResult)
    assert result.text == "Hello, world!"
    assert result.normalized == "hello, world!"
    assert result.words == ("hello", "world")
    assert result.tokens == ("HH", "AH", "L", "OW", ",", " ", "W", "ER", "L", "D", "!")
    assert result.ids == tuple(frontend.vocabulary.encode(result.tokens))
    assert result.fallback == {} and result.dropped == () and result.notes == ()
    assert result.report == ""


def test_ids_round_trip_through_the_vocabulary(frontend):
    text = "Dr. Smith paid $3.50 on the 22nd, didn't he? Yes."
    result = frontend.parse(text)
    assert frontend.decode(result.ids) == list(result.tokens)
    assert frontend.encode(text) == list(result.ids) == frontend(text)
    assert 0 not in result.ids  # padding is never a token
    assert result.tokens[-1] == "." and "?" in result.tokens


def test_vocabulary_is_fixed_with_pad_first():
    plain, stressed = PhonemeVocabulary(), PhonemeVocabulary(stress=True)
    assert plain.symbols[:8] == ("<pad>", " ", ",", ".", "?", "!", "AA", "AE")
    assert (len(plain), len(stressed)) == (45, 75)
    assert stressed.symbols[6:9] == ("AA0", "AA1", "AA2")
    assert plain.pad_id == 0 and plain[0] == "<pad>"
    assert PhonemeVocabulary() == plain and PhonemeVocabulary(stress=True) != plain
    assert plain.decode([0, 6, 0], skip_pad=False) == ["<pad>", "AA", "<pad>"]
    assert plain.decode([0, 6, 0]) == ["AA"]
    with pytest.raises(TTSTextError, match="'AH0' is not in the phoneme vocabulary.*use AH"):
        plain.encode(["AH0"])
    with pytest.raises(TTSTextError, match="'AH' .*stress digit"):
        stressed.id("AH")
    with pytest.raises(TTSTextError, match="id 45 is outside the vocabulary"):
        plain.decode([45])


def test_stress_option_keeps_digits(frontend):
    stressed = TextFrontend(stress=True)
    assert stressed.parse("hello").tokens == ("HH", "AH0", "L", "OW1")
    assert stressed.vocabulary.stress and not frontend.vocabulary.stress
    assert stressed.decode(stressed.encode("hello")) == ["HH", "AH0", "L", "OW1"]


def test_digit_strings_read_as_the_digit_recogniser_writes_them(frontend):
    spaced = frontend.parse("4 7 1")
    assert spaced.words == ("four", "seven", "one")
    assert spaced.tokens == ("F", "AO", "R", " ", "S", "EH", "V", "AH", "N", " ", "W", "AH", "N")
    assert frontend.parse("471").words == ("four", "hundred", "seventy", "one")
    assert frontend.parse("0 9 3").words == ("zero", "nine", "three")
    assert frontend.parse("0471").words == ("zero", "four", "seven", "one")


def test_normalisation_feeds_the_phonemes(frontend):
    result = frontend.parse("In 1984, Mrs. Lee paid £2.50 (50%) & left.")
    assert result.normalized == (
        "in nineteen eighty four, missus lee paid two pounds fifty pence, fifty percent, and left."
    )
    assert result.fallback == {}


def test_words_not_in_the_lexicon_are_named_and_logged_once(frontend, caplog):
    with caplog.at_level(logging.INFO, logger="ganglion_tts.text"):
        result = frontend.parse("The blorfing xkcd went blorfing.")
    assert result.fallback == {"blorfing": "predicted", "xkcd": "spelled"}
    assert result.fallback_words == ("blorfing", "xkcd")
    assert result.notes == (
        "1 word(s) not in the lexicon, pronounced by the letter-to-sound model: 'blorfing'.",
        "1 word(s) not in the lexicon, spelled letter by letter (no vowel letter): 'xkcd'.",
    )
    blorfing = result.tokens[result.tokens.index("B") :][:7]
    assert blorfing[:2] == ("B", "L") and blorfing[-2:] == ("IH", "NG")
    records = [r for r in caplog.records if r.name == "ganglion_tts.text"]
    assert len(records) == 1 and records[0].levelno == logging.INFO
    assert "blorfing" in records[0].getMessage() and "xkcd" in records[0].getMessage()


def test_unreadable_characters_are_named_dropped_and_warned_once(frontend, caplog):
    with caplog.at_level(logging.INFO, logger="ganglion_tts.text"):
        result = frontend.parse("Build a snowman ☃ ☃ now.")
    assert result.words == ("build", "a", "snowman", "now")
    assert result.dropped == ("☃",)
    assert result.notes == (
        "Dropped 1 character(s) the frontend cannot read: '☃' (U+2603 SNOWMAN).",
    )
    records = [r for r in caplog.records if r.name == "ganglion_tts.text"]
    assert len(records) == 1 and records[0].levelno == logging.WARNING
    assert "SNOWMAN" in records[0].getMessage()


def test_quiet_frontend_still_reports(caplog):
    quiet = TextFrontend(log=False)
    with caplog.at_level(logging.INFO, logger="ganglion_tts.text"):
        result = quiet.parse("a ☃")
    assert result.dropped == ("☃",) and not caplog.records


@pytest.mark.parametrize("text", ["", "   ", "\n\t"])
def test_empty_text_is_an_error(frontend, text):
    with pytest.raises(TTSTextError, match="Empty text") as info:
        frontend.parse(text)
    assert isinstance(info.value, GanglionError)


def test_text_that_normalises_to_nothing_is_an_error_naming_what_was_dropped(frontend):
    with pytest.raises(TTSTextError, match=r"Nothing readable in '☃ ¶'.*'☃' \(U\+2603 SNOWMAN\)"):
        frontend.parse("☃ ¶")
    with pytest.raises(TTSTextError, match=r"Nothing readable in '\.\.\. !'"):
        frontend.parse("... !")
    with pytest.raises(TTSTextError, match="reads text .* got bytes"):
        frontend.parse(b"hello")  # type: ignore[arg-type]


def test_user_lexicon_overrides_the_dictionary(tmp_path):
    path = tmp_path / "user.dict"
    path.write_text("tomato T AH0 M AA1 T OW0\nblorfing B L AO1 R F IH0 NG\n")
    result = TextFrontend(path).parse("tomato blorfing")
    assert result.tokens == ("T", "AH", "M", "AA", "T", "OW", " ", "B", "L", "AO", "R", "F",
                             "IH", "NG")  # fmt: skip
    assert result.fallback == {}
    mapped = TextFrontend({"tomato": "T AH0 M EY1 T OW0"}, stress=True)
    assert mapped.parse("Tomato").tokens == ("T", "AH0", "M", "EY1", "T", "OW0")
