"""ganglion-tts lexicons: the shipped CMU dictionary (lazy, valid, licensed), alternates,
comments, user files that add and override, and clear errors for bad files."""

from __future__ import annotations

import gzip
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from ganglion.errors import GanglionError
from ganglion_tts.text.errors import LexiconError, TTSTextError
from ganglion_tts.text.lexicon import (
    CMUDICT_PATH,
    DATA_DIR,
    Lexicon,
    cmudict_entries,
    parse_lexicon,
    read_lexicon_file,
)
from ganglion_tts.text.phonemes import is_phoneme

TTS_ROOT = Path(__file__).resolve().parents[2] / "plugins" / "tts"


def test_importing_the_plugin_and_the_text_package_loads_nothing_heavy():
    code = (
        "import sys, ganglion_tts, ganglion_tts.plugin, ganglion_tts.text\n"
        "import ganglion_tts.text.lexicon as lex, ganglion_tts.text.g2p as g2p\n"
        "assert 'torch' not in sys.modules, 'torch imported'\n"
        "assert lex._cmudict is None and g2p._model is None, 'data read at import'\n"
        "import time; t = time.perf_counter(); lex.cmudict_entries()\n"
        "print(round(time.perf_counter() - t, 3))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert float(out.stdout) < 5.0  # about 0.2 s on a quiet machine; loose for busy ones


def test_shipped_dictionary_lookups():
    lex = Lexicon()
    assert lex.lookup("hello")[0] == ("HH", "AH0", "L", "OW1")
    assert lex.lookup("HELLO") == lex.lookup("hello")
    assert lex.lookup("zero") == [("Z", "IH1", "R", "OW0"), ("Z", "IY1", "R", "OW0")]
    assert lex.lookup("blorfing") == []
    assert "seven" in lex and "blorfing" not in lex
    assert lex["nine"] == [("N", "AY1", "N")]
    with pytest.raises(KeyError):
        lex["blorfing"]
    assert len(lex) > 125_000
    assert lex.first("tomato") == "T AH0 M EY1 T OW2"


def test_alternates_keep_the_file_order_and_comments_are_ignored():
    # "tomato(2)" and "aalborg ... # place, danish" in the shipped file
    assert Lexicon().lookup("tomato") == [
        ("T", "AH0", "M", "EY1", "T", "OW2"),
        ("T", "AH0", "M", "AA1", "T", "OW2"),
    ]
    assert Lexicon().lookup("aalborg")[0] == ("AO1", "L", "B", "AO0", "R", "G")


def test_every_shipped_pronunciation_is_arpabet_with_stress_on_vowels():
    entries = cmudict_entries()
    bad = {
        (word, p)
        for word, raw in entries.items()
        for pron in raw.split("|")
        for p in pron.split()
        if not is_phoneme(p, stress=True)
    }
    assert not bad, sorted(bad)[:10]


def test_the_dictionary_licence_and_supplement_ship_as_package_data():
    licence = (DATA_DIR / "CMUDICT_LICENSE").read_text()
    assert "Carnegie Mellon University" in licence
    assert "Redistribution and use in source and binary forms" in licence
    with gzip.open(CMUDICT_PATH, "rt") as fh:
        assert fh.readline().split()[0] == "'bout"
    patterns = tomllib.loads((TTS_ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert "text/data/*" in patterns["package-data"]["*"]
    # words the normaliser says that CMU lacks come from the supplement
    assert Lexicon().lookup("quadrillion") == [
        ("K", "W", "AA0", "D", "R", "IH1", "L", "Y", "AH0", "N")
    ]


def test_user_file_adds_and_overrides(tmp_path):
    path = tmp_path / "user.dict"
    path.write_text(
        ";;; my words\n"
        "ganglia  G AE1 NG G L IY0 AH0  # plural\n"
        "tomato T AH0 M AA1 T OW0\n"
        "Blorf B L AO1 R F\n"
        "blorf(2) B L AA1 R F\n"
        "\n"
    )
    lex = Lexicon(user=path)
    assert lex.lookup("tomato") == [("T", "AH0", "M", "AA1", "T", "OW0")]  # replaced, not added
    assert lex.lookup("blorf") == [("B", "L", "AO1", "R", "F"), ("B", "L", "AA1", "R", "F")]
    assert lex.lookup("ganglia")[0][0] == "G"
    assert lex.lookup("hello")  # the base is still there
    assert set(lex.user_words) == {"ganglia", "tomato", "blorf"}
    assert len(lex) == len(Lexicon()) + 1  # "tomato" overrides, "ganglia" and "blorf" add
    assert Lexicon().lookup("tomato")[0][3] == "EY1"  # other lexicons are untouched


def test_user_entries_from_python():
    lex = Lexicon(cmudict=False)
    lex.update({"one": "W AH1 N", "two": ["T", "UW1"], "a": ["AH0", "EY1"]})
    lex.add("three", "TH R IY1", ["TH", "R", "IY0"])
    assert lex.lookup("one") == [("W", "AH1", "N")]
    assert lex.lookup("two") == [("T", "UW1")]
    assert lex.lookup("a") == [("AH0", "EY1")]  # single phonemes: one pronunciation
    assert lex.lookup("three") == [("TH", "R", "IY1"), ("TH", "R", "IY0")]
    assert lex.lookup("four") == [] and len(lex) == 4
    assert sorted(lex) == ["a", "one", "three", "two"]


def test_gzip_user_file(tmp_path):
    path = tmp_path / "user.dict.gz"
    with gzip.open(path, "wt") as fh:
        fh.write("zork Z AO1 R K\n")
    assert read_lexicon_file(path) == {"zork": "Z AO1 R K"}


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (
            "word W ER1 D XX",
            r"user\.dict:2: 'XX' is not an ARPAbet phoneme in the entry for 'word'",
        ),
        ("word W ER D", r"user\.dict:2: vowel 'ER' needs a stress digit \(ER0, ER1 or ER2\)"),
        ("word", r"user\.dict:2: 'word' has no phonemes"),
        ("word(x) W ER1 D", r"user\.dict:2: 'word\(x\)' is not a word or an alternate"),
    ],
)
def test_malformed_user_files_name_the_line(tmp_path, line, message):
    path = tmp_path / "user.dict"
    path.write_text("fine F AY1 N\n" + line + "\n")
    with pytest.raises(LexiconError, match=message) as info:
        Lexicon(user=path)
    assert isinstance(info.value, TTSTextError) and isinstance(info.value, GanglionError)


def test_missing_user_file_and_bad_python_entries(tmp_path):
    with pytest.raises(LexiconError, match="Cannot read the lexicon file .*nope.dict"):
        Lexicon(user=tmp_path / "nope.dict")
    with pytest.raises(LexiconError, match="non-empty string"):
        Lexicon(user={"": "AH0"})
    with pytest.raises(LexiconError, match="No pronunciation given for 'x'"):
        Lexicon().add("x")
    with pytest.raises(LexiconError, match="give phonemes"):
        Lexicon(user={"x": 5})


def test_parse_lexicon_names_its_source():
    with pytest.raises(LexiconError, match="<mine>:1:"):
        parse_lexicon(["bad Q"], source="<mine>")
