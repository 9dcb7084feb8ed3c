"""make-corpus wordnet: parsing WordNet data files, the corpus folder it writes, the command,
and the errors (missing database, malformed line, non-UTF-8 byte, unknown corpus, full DIR)."""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

import pytest

from ganglion_nlp.corpus import (
    CorpusFormatError,
    CorpusOutputError,
    CorpusSourceError,
    UnknownCorpusError,
    build_wordnet_corpus,
    read_wordnet,
)
from ganglion_nlp.corpus.command import add_parser
from ganglion_nlp.corpus.errors import CorpusError
from ganglion_nlp.corpus.wordnet import LEXNAMES, parse_data_line

HEADER = "".join(f"  {n} licence text line {n}  \n" for n in range(1, 4))

# real-format lines: nouns with pointers, a verb with frames, an adjective head and satellite,
# a participial adjective, an adverb
NOUN = "00001740 03 n 01 entity 0 001 ~ 00001930 n 0000 | that which is perceived to exist  \n"
VERB = (
    "00002573 29 v 01 respire 2 001 $ 00001740 v 0000 02 + 02 00 + 08 01"
    ' | breathe easily again; "he respired after the race"  \n'
)
ADJ_HEAD = '00001740 00 a 01 able 0 000 | having the necessary means; "able to swim"  \n'
ADJ_SATELLITE = "00003700 00 s 01 dissilient 0 001 & 00003356 a 0000 | bursting open with force  \n"
ADJ_PPL = '03147282 44 a 01 avenged 0 001 ! 03147409 a 0101 | for which vengeance was taken; "an avenged injury"  \n'
ADVERB = '00001837 02 r 03 AD 0 A.D. 0 anno_Domini 0 000 | in the Christian era; "in AD 200"  \n'


def _noun(number: int, lexnum: int, gloss: str) -> str:
    return (
        f"{10_000_000 + number:08d} {lexnum:02d} n 02 word{number} 0 other_word 1 000 | {gloss}  \n"
    )


def write_wordnet(folder: Path, *, nouns: int = 60) -> Path:
    """A tiny WordNet database: the header, the lines above, and ``nouns`` generated nouns
    split over noun.animal (05), noun.plant (20) and noun.food (13)."""
    folder.mkdir(parents=True, exist_ok=True)
    generated = "".join(
        _noun(i, (5, 20, 13)[i % 3], f"gloss number {i} of kind {i % 3}") for i in range(nouns)
    )
    (folder / "data.noun").write_text(HEADER + NOUN + generated)
    (folder / "data.verb").write_text(HEADER + VERB)
    (folder / "data.adj").write_text(HEADER + ADJ_HEAD + ADJ_SATELLITE + ADJ_PPL)
    (folder / "data.adv").write_text(HEADER + ADVERB)
    return folder


def read_tsv(path: Path) -> list[tuple[str, str]]:
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        text, label = line.split("\t")
        rows.append((text, label))
    return rows


def test_each_synset_becomes_its_gloss_labelled_with_its_lexicographer_file(tmp_path):
    examples = read_wordnet(write_wordnet(tmp_path / "wn", nouns=0))
    got = {example.label: example.text for example in examples}
    assert got == {
        "noun.Tops": "that which is perceived to exist",
        "verb.body": 'breathe easily again; "he respired after the race"',
        "adj.all": "bursting open with force",  # the satellite; the head has the same label
        "adj.ppl": 'for which vengeance was taken; "an avenged injury"',
        "adv.all": 'in the Christian era; "in AD 200"',
    }
    assert len(examples) == 6  # the licence header lines are no synsets
    assert examples[0].source.endswith("data.noun:4 (00001740n)")  # file, line, synset


def test_definition_only_drops_the_quoted_examples(tmp_path):
    examples = read_wordnet(write_wordnet(tmp_path / "wn", nouns=0), gloss="definition")
    texts = {example.label: example.text for example in examples}
    assert texts["verb.body"] == "breathe easily again"
    assert texts["adv.all"] == "in the Christian era"
    assert texts["noun.Tops"] == "that which is perceived to exist"


def test_the_documented_table_has_45_names_in_lexnames_order():
    assert len(LEXNAMES) == 45 == len(set(LEXNAMES))
    assert LEXNAMES[:4] == ("adj.all", "adj.pert", "adv.all", "noun.Tops")
    assert (LEXNAMES[18], LEXNAMES[29], LEXNAMES[43], LEXNAMES[44]) == (
        "noun.person",
        "verb.body",
        "verb.weather",
        "adj.ppl",
    )


def test_a_lexnames_file_beside_the_data_is_preferred(tmp_path):
    folder = write_wordnet(tmp_path / "wn", nouns=0)
    (folder / "lexnames").write_text(
        "00\tadj.all\t3\n02\tadv.all\t4\n03\tnoun.TOPS\t1\n29\tverb.body\t2\n44\tadj.ppl\t3\n"
    )
    labels = {example.label for example in read_wordnet(folder)}
    assert "noun.TOPS" in labels and "noun.Tops" not in labels


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        (NOUN.replace(" | ", " "), "no ' | ' before the gloss"),
        (NOUN.replace(" 03 n", " 99 n"), "unknown lexicographer file number 99"),
        (NOUN.replace(" 03 n", " 3 n"), "is not 2 digits"),
        (NOUN.replace(" n 01", " v 01"), "synset type 'v' is not one of n"),
        (NOUN.replace(" n 01", " n 0x"), "word count '0x' is not hexadecimal"),
        (
            NOUN.replace(" 001 ~", " 002 ~"),
            "1 word(s), 2 pointer(s) make 15 fields before the gloss, not 11",
        ),
        (NOUN.replace("00001740", "1740"), "offset '1740' is not 8 digits"),
        (VERB.replace(" 02 + 02 00 + 08 01", ""), "frame count is missing"),
    ],
)
def test_a_malformed_data_line_names_the_file_and_line(tmp_path, line, problem):
    folder = write_wordnet(tmp_path / "wn", nouns=3)
    name = "data.verb" if line.startswith("00002573") else "data.noun"
    (folder / name).write_text(HEADER + (NOUN if name == "data.noun" else "") + line)
    number = 5 if name == "data.noun" else 4
    with pytest.raises(CorpusFormatError) as caught:
        read_wordnet(folder)
    message = str(caught.value)
    assert f"{folder / name}, line {number}: malformed WordNet data line" in message
    assert problem in message


def test_parse_data_line_returns_synset_label_and_raw_gloss():
    synset, label, gloss = parse_data_line(ADVERB.rstrip("\n"), where="x", ss_types="r")
    assert (synset, label, gloss.strip()) == (
        "00001837r",
        "adv.all",
        'in the Christian era; "in AD 200"',
    )


def test_missing_database_says_how_to_install_it(tmp_path):
    with pytest.raises(CorpusSourceError) as caught:
        read_wordnet(tmp_path / "nowhere")
    message = str(caught.value)
    assert "apt-get install wordnet-base" in message and "--wordnet-dir" in message
    folder = write_wordnet(tmp_path / "wn")
    (folder / "data.adv").unlink()
    with pytest.raises(CorpusSourceError, match="lacks data.adv"):
        read_wordnet(folder)


def test_a_byte_that_is_not_utf8_is_named_by_file_and_offset(tmp_path):
    folder = write_wordnet(tmp_path / "wn", nouns=0)
    data = (HEADER + ADVERB).encode().replace(b"Christian", b"Chr\xefstian")
    (folder / "data.adv").write_bytes(data)
    offset = data.index(b"\xef")
    with pytest.raises(CorpusFormatError, match=rf"data\.adv, byte {offset} \(line 4\): not UTF-8"):
        read_wordnet(folder)


def test_the_corpus_folder_holds_disjoint_splits_and_training_text_only(tmp_path):
    source = write_wordnet(tmp_path / "wn", nouns=300)
    out = tmp_path / "corpus"
    summary = build_wordnet_corpus(out, wordnet_dir=source, seed=7)
    assert sorted(p.name for p in out.iterdir()) == [
        "corpus.json", "test.tsv", "text.txt", "train.tsv", "validation.tsv",
    ]  # fmt: skip
    rows = {name: read_tsv(out / f"{name}.tsv") for name in ("train", "validation", "test")}
    everything = [row for split in rows.values() for row in split]
    expected = [(e.text, e.label) for e in read_wordnet(source)]
    assert Counter(everything) == Counter(expected)  # every synset exactly once
    train_texts = {text for text, _ in rows["train"]}
    held_out = {text for name in ("validation", "test") for text, _ in rows[name]}
    assert not train_texts & held_out
    assert (out / "text.txt").read_text().splitlines() == [text for text, _ in rows["train"]]
    # the three generated noun classes (100 synsets each) are split 80/10/10
    for label in ("noun.animal", "noun.plant", "noun.food"):
        counts = [sum(1 for _, lab in rows[name] if lab == label) for name in rows]
        assert counts == [80, 10, 10]
    on_disk = json.loads((out / "corpus.json").read_text())
    assert on_disk == summary
    assert on_disk["counts"] == {name: len(split) for name, split in rows.items()}
    assert on_disk["seed"] == 7 and on_disk["num_classes"] == 8
    assert on_disk["class_counts"]["noun.plant"] == {"train": 80, "validation": 10, "test": 10}


def test_the_same_seed_gives_the_same_files_and_another_seed_another_split(tmp_path):
    source = write_wordnet(tmp_path / "wn", nouns=90)
    for name, seed in (("a", 3), ("b", 3), ("c", 4)):
        build_wordnet_corpus(tmp_path / name, wordnet_dir=source, seed=seed)
    test_file = "test.tsv"
    assert (tmp_path / "a" / test_file).read_bytes() == (tmp_path / "b" / test_file).read_bytes()
    assert set(read_tsv(tmp_path / "a" / test_file)) != set(read_tsv(tmp_path / "c" / test_file))


def test_a_non_empty_folder_is_refused_before_any_work_and_replaced_with_overwrite(tmp_path):
    source = write_wordnet(tmp_path / "wn")
    out = tmp_path / "corpus"
    out.mkdir()
    (out / "mine.txt").write_text("keep me")
    with pytest.raises(CorpusOutputError, match="is not empty .*mine.txt.*--overwrite"):
        build_wordnet_corpus(out, wordnet_dir=tmp_path / "nowhere")  # the folder first
    assert [p.name for p in out.iterdir()] == ["mine.txt"]
    build_wordnet_corpus(out, wordnet_dir=source, overwrite=True)
    assert not (out / "mine.txt").exists() and (out / "train.tsv").is_file()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temps left


def _command(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="ganglion-nlp")
    add_parser(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(argv)


def test_the_command_builds_the_corpus_and_prints_its_counts(tmp_path, capsys):
    source = write_wordnet(tmp_path / "wn", nouns=30)
    args = _command(["make-corpus", "wordnet", str(tmp_path / "c"), "--wordnet-dir", str(source)])
    assert args.func(args) == 0
    out = capsys.readouterr().out
    summary = json.loads((tmp_path / "c" / "corpus.json").read_text())
    assert f"train: {summary['counts']['train']:7d} examples" in out
    assert "8 classes, 36 examples" in out


@pytest.mark.parametrize(
    ("argv", "error", "message"),
    [
        (
            ["wordnett", "D"],
            UnknownCorpusError,
            "unknown corpus 'wordnett'. Did you mean 'wordnet'?",
        ),
        (
            ["wordnet", "D", "--offensive"],
            CorpusError,
            "--offensive is not an option of the wordnet",
        ),
        (
            ["fortunes", "D", "--gloss", "full"],
            CorpusError,
            "--gloss is not an option of the fortunes",
        ),
        (
            ["wordnet", "D", "--validation", "0.5", "--test", "0.5"],
            CorpusError,
            "sum must be under 1",
        ),
    ],
)
def test_the_command_refuses_bad_arguments_clearly(tmp_path, argv, error, message):
    args = _command(["make-corpus", *argv])
    with pytest.raises(error) as caught:
        args.func(args)
    assert message in str(caught.value)


@pytest.mark.skipif(
    not Path("/usr/share/wordnet/data.noun").is_file(), reason="wordnet-base is not installed"
)
def test_the_installed_wordnet_gives_117659_glosses_in_45_classes():
    examples = read_wordnet(Path("/usr/share/wordnet"))
    labels = Counter(example.label for example in examples)
    assert len(examples) == 117_659  # the synsets of WordNet 3.0
    assert set(labels) == set(LEXNAMES)
    assert labels["noun.Tops"] == 51 and labels["verb.weather"] == 81
    assert all(example.text and "\t" not in example.text for example in examples)
