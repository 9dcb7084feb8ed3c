"""The tokenizer contract, for every type: special tokens at ids 0..4, text <-> ids, batches,
lowercasing, saving and loading, pickling; and what the char and word types keep."""

from __future__ import annotations

import json
import pickle
import shutil
import subprocess
import sys

import pytest
from tokenizer_fixtures import write_corpus

from ganglion_nlp.tokenizers import (
    META_FILE,
    SPECIAL_TOKENS,
    TOKENIZER_TYPES,
    TokenizerError,
    TokenizerSpec,
    load_tokenizer,
    train_tokenizer,
)

LIBRARY_TYPES = ("sentencepiece-bpe", "sentencepiece-unigram", "hf-bpe", "hf-wordpiece")
# types whose ids_to_text gives back a (lowercased, in-vocabulary) text exactly
EXACT_TYPES = ("char", "sentencepiece-bpe", "sentencepiece-unigram", "hf-bpe")
TEXTS = [
    "The quick brown fox jumps over the lazy dog.",
    "a small grey mouse, never quietly",
    "",
    "Horse   river    tree",
]


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> dict[str, TokenizerSpec]:
    """One tokenizer of each type, trained (lowercased, vocab 120) on one small corpus."""
    root = tmp_path_factory.mktemp("tokenizers")
    corpus = write_corpus(root / "corpus.txt")
    return {t: train_tokenizer(t, [corpus], root / t, vocab_size=120) for t in TOKENIZER_TYPES}


@pytest.fixture(params=TOKENIZER_TYPES)
def tok(request, trained) -> TokenizerSpec:
    return trained[request.param]


def test_the_six_types_are_known():
    assert set(TOKENIZER_TYPES) == {"char", "word", *LIBRARY_TYPES}


def test_every_type_has_the_special_tokens_at_ids_0_to_4(tok):
    assert tok.ids_to_tokens(range(5)) == list(SPECIAL_TOKENS)
    assert tok.tokens_to_ids(SPECIAL_TOKENS) == [0, 1, 2, 3, 4]
    assert (tok.pad_id, tok.unk_id, tok.cls_id, tok.sep_id, tok.mask_id) == (0, 1, 2, 3, 4)


def test_text_to_ids_adds_no_cls_or_sep_and_stays_inside_the_vocabulary(tok):
    for text in TEXTS:
        ids = tok.text_to_ids(text)
        assert tok.cls_id not in ids and tok.sep_id not in ids and tok.pad_id not in ids
        assert all(0 <= i < tok.vocab_size for i in ids)
        assert len(tok.text_to_tokens(text)) == len(ids)
    assert tok.text_to_ids("") == []
    assert tok.unk_id not in tok.text_to_ids("the quick fox")


def test_batch_text_to_ids_equals_one_text_at_a_time(tok):
    assert tok.batch_text_to_ids(TEXTS) == [tok.text_to_ids(t) for t in TEXTS]
    assert tok.batch_text_to_ids(tuple(TEXTS)) == [tok.text_to_ids(t) for t in TEXTS]
    assert tok.batch_text_to_ids([]) == []


def test_tokens_and_ids_convert_both_ways(tok):
    tokens = tok.text_to_tokens("the lazy dog sleeps")
    ids = tok.tokens_to_ids(tokens)
    assert ids == tok.text_to_ids("the lazy dog sleeps")
    assert tok.ids_to_tokens(ids) == tokens
    assert tok.tokens_to_ids(["no-such-token-anywhere"]) == [tok.unk_id]


@pytest.mark.parametrize("name", EXACT_TYPES)
def test_ids_to_text_gives_the_lowercased_text_back(trained, name):
    tok = trained[name]
    text = "The quick brown fox, never quietly; a lazy dog!"
    assert tok.ids_to_text(tok.text_to_ids(text)) == text.lower()


@pytest.mark.parametrize("name", ["word", "hf-wordpiece"])
def test_word_types_give_the_words_back_with_normal_spacing(trained, name):
    tok = trained[name]
    ids = tok.text_to_ids("The quick  brown fox , never quietly.a lazy dog !")
    assert tok.ids_to_text(ids) == "the quick brown fox, never quietly. a lazy dog!"


def test_ids_to_text_drops_pad_cls_sep_and_writes_unk_and_mask(tok):
    ids = tok.text_to_ids("the dog")
    framed = [tok.cls_id, *ids, tok.sep_id, tok.pad_id, tok.pad_id]
    assert tok.ids_to_text(framed) == tok.ids_to_text(ids)
    assert "<mask>" in tok.ids_to_text([*ids, tok.mask_id])
    assert "<unk>" in tok.ids_to_text([tok.unk_id, *ids])


def test_mask_written_in_a_text_is_the_mask_id(tok):
    ids = tok.text_to_ids("the <mask> sleeps")
    assert ids.count(tok.mask_id) == 1
    assert "<mask>" in tok.text_to_tokens("the <MASK> sleeps")  # lowercased first


def test_characters_never_seen_are_unk(tok):
    assert tok.unk_id in tok.text_to_ids("the ☃ dog")


def test_an_id_outside_the_vocabulary_is_an_error(tok):
    with pytest.raises(TokenizerError, match=rf"token id {tok.vocab_size} is outside"):
        tok.ids_to_text([5, tok.vocab_size])
    with pytest.raises(TokenizerError, match="token id -1 is outside"):
        tok.ids_to_tokens([-1])


def test_lowercasing_is_applied_when_tokenizing(tok):
    assert tok.lowercase
    assert tok.text_to_ids("THE Lazy DOG") == tok.text_to_ids("the lazy dog")


@pytest.mark.parametrize("name", TOKENIZER_TYPES)
def test_no_lowercase_keeps_case(tmp_path, name):
    corpus = write_corpus(tmp_path / "corpus.txt", n=200)
    tok = train_tokenizer(name, [corpus], tmp_path / "tok", vocab_size=150, lowercase=False)
    assert not tok.lowercase and not load_tokenizer(tmp_path / "tok").lowercase
    assert tok.text_to_ids("The") != tok.text_to_ids("the")
    if name in EXACT_TYPES:
        assert tok.ids_to_text(tok.text_to_ids("The lazy Dog")) == "The lazy Dog"


def test_library_types_train_to_at_most_vocab_size(trained):
    for name in LIBRARY_TYPES:
        assert 60 <= trained[name].vocab_size <= 120, name


def test_a_loaded_copy_tokenizes_identically_after_the_original_is_gone(tok, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(tok.directory, copy)
    expected = tok.batch_text_to_ids(TEXTS)
    moved = tmp_path / "moved"
    shutil.move(copy, moved)
    loaded = load_tokenizer(moved)
    assert type(loaded) is type(tok)
    assert loaded.directory == moved
    assert loaded.vocab_size == tok.vocab_size
    assert loaded.batch_text_to_ids(TEXTS) == expected
    assert loaded.ids_to_tokens(range(loaded.vocab_size)) == tok.ids_to_tokens(
        range(tok.vocab_size)
    )


def test_a_pickled_tokenizer_tokenizes_identically(tok):
    clone = pickle.loads(pickle.dumps(tok))
    assert clone.batch_text_to_ids(TEXTS) == tok.batch_text_to_ids(TEXTS)
    assert clone.vocab_size == tok.vocab_size and clone.directory == tok.directory


def test_the_directory_holds_the_meta_file_and_names_no_training_path(tok):
    meta = json.loads((tok.directory / META_FILE).read_text())
    assert meta["type"] == tok.type_name
    assert meta["lowercase"] is True
    assert meta["vocab_size"] == tok.vocab_size
    assert meta["format"] == "ganglion-tokenizer" and meta["version"] == 1
    assert all((tok.directory / name).is_file() for name in meta["files"].values())
    training_root = str(tok.directory.parent).encode()
    for path in tok.directory.iterdir():
        assert training_root not in path.read_bytes(), path


def test_char_vocabulary_is_the_characters_seen_most_frequent_first(tmp_path):
    corpus = tmp_path / "c.txt"
    corpus.write_text("aaab\naab\nac\n\n", encoding="utf-8")
    tok = train_tokenizer("char", corpus, tmp_path / "tok", vocab_size=100)
    assert tok.ids_to_tokens(range(tok.vocab_size)) == [*SPECIAL_TOKENS, "a", "b", "c"]
    capped = train_tokenizer("char", corpus, tmp_path / "capped", vocab_size=7)
    assert capped.ids_to_tokens(range(capped.vocab_size)) == [*SPECIAL_TOKENS, "a", "b"]
    assert capped.text_to_ids("abc") == [5, 6, capped.unk_id]
    rare = train_tokenizer("char", corpus, tmp_path / "rare", vocab_size=100, min_count=2)
    assert rare.ids_to_tokens(range(rare.vocab_size)) == [*SPECIAL_TOKENS, "a", "b"]


def test_word_vocabulary_keeps_the_most_frequent_words(tmp_path):
    corpus = tmp_path / "c.txt"
    corpus.write_text("the cat. the dog.\nthe cat sat\n", encoding="utf-8")
    tok = train_tokenizer("word", corpus, tmp_path / "tok", vocab_size=8)
    assert tok.ids_to_tokens(range(tok.vocab_size)) == [*SPECIAL_TOKENS, "the", ".", "cat"]
    assert tok.text_to_tokens("The cat, sat.") == ["the", "cat", ",", "sat", "."]
    assert tok.text_to_ids("the dog sat") == [5, 1, 1]


def test_training_many_files_uses_them_all(tmp_path):
    (tmp_path / "a.txt").write_text("xxxx\n", encoding="utf-8")
    (tmp_path / "b.txt").write_text("yyy\n", encoding="utf-8")
    tok = train_tokenizer("char", [tmp_path / "a.txt", tmp_path / "b.txt"], tmp_path / "t", 50)
    assert tok.ids_to_tokens([5, 6]) == ["x", "y"]


def test_importing_the_package_imports_no_tokenizer_library_nor_torch(tmp_path):
    corpus = write_corpus(tmp_path / "corpus.txt", n=20)
    code = f"""
import sys
import ganglion_nlp.plugin, ganglion_nlp.tokenizers, ganglion_nlp.tokenizers.command
from ganglion_nlp.tokenizers import train_tokenizer, load_tokenizer
train_tokenizer("char", [{str(corpus)!r}], {str(tmp_path / "t")!r}, 100)
load_tokenizer({str(tmp_path / "t")!r}).text_to_ids("a dog")
heavy = sorted(m for m in ("torch", "sentencepiece", "tokenizers") if m in sys.modules)
print(",".join(heavy))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
