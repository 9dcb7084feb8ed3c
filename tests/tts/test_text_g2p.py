"""ganglion-tts grapheme-to-phoneme: alignment, the learned letter-to-sound model (training,
files, the shipped model on made-up words) and the order of sources in G2P."""

from __future__ import annotations

import gzip

import pytest

from ganglion_tts.text.errors import G2PModelError, TTSTextError
from ganglion_tts.text.g2p import DEFAULT_MODEL_PATH, G2P, default_model
from ganglion_tts.text.lexicon import Lexicon, cmudict_entries
from ganglion_tts.text.lts import LetterToSound, align_dictionary, fix_stress
from ganglion_tts.text.phonemes import VOWELS, is_phoneme


@pytest.fixture(scope="module")
def small_entries():
    """600 plain dictionary words (their first pronunciations), the same every run."""
    entries = cmudict_entries()
    words = sorted(w for w in entries if w.isalpha() and 4 <= len(w) <= 8)[::150][:600]
    return [(w, entries[w].split("|")[0].split()) for w in words]


@pytest.fixture(scope="module")
def small_model(small_entries):
    return LetterToSound.train(small_entries, order=4, iterations=3)


def test_alignment_gives_each_letter_zero_one_or_two_phonemes(small_entries):
    entries = cmudict_entries()
    words = ["box", "fox", "tax", "six", "boat", "coat", "cat", "hot", "mix"]
    extra = [(w, entries[w].split("|")[0].split()) for w in words]
    aligned = dict(align_dictionary(small_entries + extra, iterations=3))
    assert aligned["box"] == ["B", "AA1", "K S"]
    assert aligned["cat"] == ["K", "AE1", "T"]
    # one of "oa" is silent, the other carries the vowel with its stress
    assert sorted(aligned["boat"][1:3]) == ["", "OW1"]
    for word, labels in aligned.items():
        assert len(labels) == len(word)
        assert all(len(label.split()) <= 2 for label in labels)


def test_fix_stress_leaves_exactly_one_primary():
    assert fix_stress(["B", "AH0", "L", "OW0"]) == ["B", "AH1", "L", "OW0"]
    assert fix_stress(["B", "AH2", "L", "OW0"]) == ["B", "AH1", "L", "OW0"]
    assert fix_stress(["AH1", "B", "AH1"]) == ["AH1", "B", "AH2"]
    assert fix_stress(["S", "T"]) == ["S", "T"]


def test_a_model_learns_its_training_words(small_entries, small_model):
    right = sum(small_model.predict(w) == p for w, p in small_entries[:100])
    assert right >= 80, f"only {right} of 100 training words reproduced"
    assert small_model.predict("") == [] and small_model.predict("123") == []


def test_predictions_are_arpabet_with_one_primary_stress(small_model):
    for word in ("blorfing", "zibbet", "quargle", "snee"):
        phones = small_model.predict(word)
        assert phones and all(is_phoneme(p, stress=True) for p in phones), (word, phones)
        assert sum(p.endswith("1") for p in phones) == 1, (word, phones)
        plain = small_model.predict(word, stress=False)
        assert all(is_phoneme(p, stress=False) for p in plain) and len(plain) == len(phones)


def test_model_files_round_trip_to_the_same_bytes(small_entries, small_model, tmp_path):
    path = tmp_path / "m.gz"
    small_model.save(path)
    loaded = LetterToSound.load(path)
    assert loaded.order == 4 and loaded.graphones == small_model.graphones
    assert loaded.counts == small_model.counts
    for word in ("blorfing", "cat", "xylophone"):
        assert loaded.predict(word) == small_model.predict(word)
    again = tmp_path / "again.gz"
    LetterToSound.train(small_entries, order=4, iterations=3).save(again)
    assert again.read_bytes() == path.read_bytes()  # training is deterministic
    assert not list(tmp_path.glob("*.tmp"))


def test_bad_model_files_are_refused_by_name(small_model, tmp_path):
    with pytest.raises(G2PModelError, match="Cannot read .*missing.gz"):
        LetterToSound.load(tmp_path / "missing.gz")
    good = tmp_path / "good.gz"
    small_model.save(good)
    lines = gzip.decompress(good.read_bytes()).decode().splitlines()
    cases = {
        "header": ["something else", *lines[1:]],
        "truncated": lines[:-5],
        "graphone": [*lines[:3], "a\tQQ9", *lines[4:]],
        "ngram": [*lines[:-1], "0"],
    }
    for name, bad_lines in cases.items():
        bad = tmp_path / f"{name}.gz"
        bad.write_bytes(gzip.compress(("\n".join(bad_lines) + "\n").encode()))
        with pytest.raises(G2PModelError, match=f"{name}.gz is malformed.*build_g2p_model"):
            LetterToSound.load(bad)
    with pytest.raises(G2PModelError, match="order must be >= 1, got 0"):
        LetterToSound.train([("cat", ["K", "AE1", "T"])], order=0)
    with pytest.raises(G2PModelError, match="No usable training words"):
        LetterToSound.train([("123", ["W", "AH1", "N"]), ("abc", [])])


@pytest.fixture(scope="module")
def g2p():
    return G2P(Lexicon(user={"ganglion": "G AE1 NG G L IY0 AH0 N"}))


def test_the_shipped_model_says_made_up_words_plausibly(g2p):
    assert DEFAULT_MODEL_PATH.is_file() and default_model() is default_model()
    pron = g2p.convert("blorfing")
    assert pron.source == "predicted"
    phones = list(pron.phonemes)
    assert phones[:2] == ["B", "L"] and phones[-2:] == ["IH0", "NG"], phones
    assert sum(p[-1] == "1" for p in phones) == 1
    assert [p for p in phones if p[:2] in VOWELS or p[:-1] in VOWELS][0][-1] == "1"
    # a few more: the consonant skeleton is what a reader expects
    consonants = {
        "snorkly": ["S", "N", "R", "K", "L"],
        "dramble": ["D", "R", "M", "B", "L"],
        "flimp": ["F", "L", "M", "P"],
    }
    for word, expected in consonants.items():
        got = [p for p in g2p(word) if not p[-1].isdigit()]
        assert got == expected, (word, g2p(word))


def test_sources_in_order(g2p):
    assert g2p.convert("Ganglion").phonemes[:3] == ("G", "AE1", "NG")
    assert g2p.convert("ganglion").source == "lexicon"
    assert g2p.convert("hello").source == "lexicon"
    poss = g2p.convert("ganglion's")  # not in the dictionary; its base is
    assert poss.source == "possessive" and poss.phonemes[-1] == "Z"
    assert g2p.convert("snapchat's").source != "lexicon"
    assert g2p.convert("bach's").phonemes[-2:] == ("K", "S") or "bach's" in g2p.lexicon
    spelled = g2p.convert("xkcd")
    assert spelled.source == "spelled"
    assert spelled.phonemes == ("EH1", "K", "S", "K", "EY1", "S", "IY1", "D", "IY1")
    assert g2p.convert("blorfing") is g2p.convert("blorfing")  # cached
    with pytest.raises(TTSTextError, match="no letters"):
        g2p.convert("''")


def test_stressless_g2p_and_a_model_given_by_path(small_model, tmp_path):
    path = tmp_path / "m.gz"
    small_model.save(path)
    g = G2P(stress=False, model=path)
    assert g("hello") == ("HH", "AH", "L", "OW")
    assert all(not p[-1].isdigit() for p in g("blorfing"))
    assert g.convert("blorfing").source == "predicted"
