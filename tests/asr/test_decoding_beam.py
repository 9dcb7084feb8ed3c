"""CTC beam search: finds what greedy misses, obeys a word list, follows an n-gram LM."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ganglion.errors import ConfigError
from ganglion_asr.decoding import (
    BeamCTCDecoder,
    DecodingError,
    GreedyCTCDecoder,
    LanguageModelError,
    NGramLanguageModel,
    WordList,
    WordListError,
    build_ctc_decoder,
    ctc_beam_search,
)

LABELS = [" ", *"abcdefghijklmnopqrstuvwxyz", "'"]
BLANK = len(LABELS)


def frames(*rows: dict[str, float]) -> np.ndarray:
    """Log-probabilities [T, 29]: each row gives some labels' probabilities ("_" = blank);
    the rest share a tiny remainder."""
    out = np.full((len(rows), BLANK + 1), 1e-6)
    for t, row in enumerate(rows):
        for key, p in row.items():
            out[t, BLANK if key == "_" else LABELS.index(key)] = p
    out /= out.sum(axis=1, keepdims=True)
    return np.log(out)


def spell(text: str, p: float = 0.9) -> list[dict[str, float]]:
    """Frames spelling ``text`` (a blank between letters), each letter at probability ``p``."""
    rows: list[dict[str, float]] = []
    for ch in text:
        rows += [{ch: p, "_": 1 - p}, {"_": 0.95, ch: 0.05}]
    return rows


def test_beam_search_sums_paths_that_greedy_splits():
    # each frame's best label is the blank (greedy: ""), but "a" has more mass over all paths
    lp = frames({"_": 0.4, "a": 0.35, "b": 0.25}, {"_": 0.4, "a": 0.35, "b": 0.25})
    assert GreedyCTCDecoder(LABELS)(torch.tensor(lp)[None]) == [""]
    best = ctc_beam_search(lp, LABELS, BLANK, beam_size=8)[0]
    assert best.text == "a"
    assert best.score == pytest.approx(np.log(0.35 * 0.35 + 2 * 0.35 * 0.4), abs=1e-4)


def test_a_repeated_letter_needs_a_blank_between():
    lp = frames({"l": 0.9, "_": 0.1}, {"_": 0.9, "l": 0.1}, {"l": 0.9, "_": 0.1})
    assert ctc_beam_search(lp, LABELS, BLANK, beam_size=4)[0].text == "ll"
    lp = frames({"l": 0.9, "_": 0.1}, {"l": 0.9, "_": 0.1})
    assert ctc_beam_search(lp, LABELS, BLANK, beam_size=4)[0].text == "l"


def test_beam_of_one_without_a_language_model_equals_greedy_on_peaked_outputs():
    rng = np.random.default_rng(0)
    greedy = GreedyCTCDecoder(LABELS)
    beam = BeamCTCDecoder(LABELS, beam_size=1, prune_logp=None)
    for _ in range(20):
        ids = rng.integers(0, BLANK + 1, size=40)
        probs = np.full((40, BLANK + 1), 0.2 / BLANK)
        probs[np.arange(40), ids] = 0.8
        lp = torch.tensor(np.log(probs))[None]
        assert beam(lp) == greedy(lp)


def test_a_word_list_turns_a_near_miss_into_the_listed_word():
    # acoustically "fovr" (the u is heard as v); only "four" and "five" are words
    rows = spell("fo") + [{"v": 0.6, "u": 0.35, "_": 0.05}, {"_": 0.95}] + spell("r")
    lp = frames(*rows)
    assert ctc_beam_search(lp, LABELS, BLANK, beam_size=8)[0].text == "fovr"
    words = WordList(["four", "five"], LABELS)
    assert ctc_beam_search(lp, LABELS, BLANK, beam_size=8, word_list=words)[0].text == "four"


def test_the_final_word_must_be_listed_too():
    lp = frames(*spell("on"))  # "on" is a prefix of "one" but not a word
    words = WordList(["one", "only"], LABELS)
    hyps = ctc_beam_search(lp, LABELS, BLANK, beam_size=8, word_list=words)
    assert "on" not in {h.text for h in hyps}
    assert all(w in words for h in hyps for w in h.text.split())
    assert ctc_beam_search(lp, LABELS, BLANK, beam_size=8)[0].text == "on"


def test_the_language_model_moves_the_ranking_its_way():
    # "two" and "too" sound alike: the acoustics slightly favour "too"
    rows = spell("t") + [{"o": 0.5, "w": 0.45, "_": 0.05}, {"_": 0.95}] + spell("o")
    rows = spell("one") + [{" ": 0.9, "_": 0.1}] + rows
    lp = frames(*rows)
    plain = ctc_beam_search(lp, LABELS, BLANK, beam_size=8)[0].text
    assert plain == "one too"
    lm = NGramLanguageModel.train(["one two", "one two three", "two one two"] * 5, order=2)
    best = ctc_beam_search(lp, LABELS, BLANK, beam_size=8, lm=lm, alpha=1.0, beta=0.0)
    assert best[0].text == "one two"
    assert best[0].lm_score > min(h.lm_score for h in best)
    # with the LM's weight at zero, the acoustics decide again
    zero = ctc_beam_search(lp, LABELS, BLANK, beam_size=8, lm=lm, alpha=0.0, beta=0.0)
    assert zero[0].text == "one too"


def test_pruning_keeps_the_result_on_a_clear_utterance():
    lp = frames(*spell("three"), {" ": 0.9, "_": 0.1}, *spell("one"))
    full = ctc_beam_search(lp, LABELS, BLANK, beam_size=8, prune_logp=None)[0]
    pruned = ctc_beam_search(lp, LABELS, BLANK, beam_size=8, prune_logp=-5.0, prune_topk=3)[0]
    assert full.text == pruned.text == "three one"


def test_decoder_batches_respect_lengths():
    one = frames(*spell("ab"))
    two = frames(*spell("c"), {"_": 1.0}, {"_": 1.0})
    batch = torch.tensor(np.stack([one, two]))
    decoder = BeamCTCDecoder(LABELS, beam_size=4)
    assert decoder(batch, torch.tensor([4, 2])) == ["ab", "c"]
    with pytest.raises(DecodingError, match=r"\[B, T, C\]"):
        decoder(batch.argmax(-1))


def test_lexicon_snap_replaces_unlisted_words():
    lp = torch.tensor(frames(*spell("fovr")))[None]
    decoder = build_ctc_decoder(
        {"strategy": "greedy", "word_list": ["four", "five"], "lexicon_snap": True}, LABELS
    )
    assert decoder(lp) == ["four"]


def test_bad_settings_are_named():
    with pytest.raises(ConfigError, match=r"model.decoding.beam_size .* got 0"):
        build_ctc_decoder({"strategy": "beam", "beam_size": 0}, LABELS)
    with pytest.raises(ConfigError, match=r"model.decoding.strategy is 'beamy'"):
        build_ctc_decoder({"strategy": "beamy"}, LABELS)
    with pytest.raises(ConfigError, match=r"unknown key\(s\) beam_with"):
        build_ctc_decoder({"beam_with": 3}, LABELS)
    with pytest.raises(ConfigError, match=r"lexicon_snap needs"):
        build_ctc_decoder({"lexicon_snap": True}, LABELS)
    with pytest.raises(DecodingError, match="beam_size"):
        BeamCTCDecoder(LABELS, beam_size=0)
    assert isinstance(build_ctc_decoder(None, LABELS), GreedyCTCDecoder)


def test_word_list_errors_name_file_line_and_characters(tmp_path):
    path = tmp_path / "words.txt"
    path.write_text("one\n\nTwo\n")
    with pytest.raises(WordListError, match=r"words.txt, line 3: word 'Two' .*'T'"):
        WordList.from_file(path, LABELS)
    with pytest.raises(WordListError, match="does not exist"):
        WordList.from_file(tmp_path / "none.txt", LABELS)
    (tmp_path / "empty.txt").write_text("\n")
    with pytest.raises(WordListError, match="no words"):
        WordList.from_file(tmp_path / "empty.txt", LABELS)


def test_kneser_ney_model_is_normalised_and_round_trips_through_arpa(tmp_path):
    texts = ["one two three", "two two one", "three one two two", "nine"]
    lm = NGramLanguageModel.train(texts, order=3)
    vocab = [g[0] for g in lm.ngrams[1] if g[0] != "<s>"]
    for history in [("<s>",), ("<s>", "one"), ("two", "two"), ("nine", "one"), ()]:
        total = sum(10 ** lm.log10_prob(history, w) for w in vocab)
        assert total == pytest.approx(1.0, abs=1e-4)
    assert lm.log10_prob(("<s>", "one"), "two") > lm.log10_prob(("<s>", "one"), "nine")
    path = tmp_path / "lm.arpa"
    lm.save(path)
    again = NGramLanguageModel.load(path)
    for history, word in [(("<s>",), "one"), (("one", "two"), "three"), ((), "zebra")]:
        assert again.log10_prob(history, word) == pytest.approx(
            lm.log10_prob(history, word), abs=1e-5
        )


def test_manifest_texts_train_a_model(tmp_path):
    manifest = tmp_path / "m.json"
    manifest.write_text(
        '{"audio_filepath": "a.wav", "duration": 1.0, "text": "one two"}\n'
        '{"audio_filepath": "b.wav", "duration": 1.0, "text": "two one"}\n'
    )
    lm = NGramLanguageModel.train_from_file(manifest, order=2)
    assert "one" in lm and "two" in lm


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("just words\n", r"no \\data\\ section"),
        ("\\data\\\nngram 1=2\n\n\\1-grams:\n-1.0\ta\n", r"no \\end\\ line"),
        ("\\data\\\nngram 1=2\n\\1-grams:\n-1.0\ta\n\\end\\\n", "announces 2 1-grams"),
        ("\\data\\\nngram 1=1\n\\1-grams:\nx\ta\n\\end\\\n", r"line 4: probability"),
        ("\\data\\\nngram 1=1\n\\1-grams:\n-1.0\ta b c\n\\end\\\n", r"line 4: a 1-gram line"),
    ],
)
def test_corrupt_arpa_files_name_file_and_line(tmp_path, text, message):
    path = tmp_path / "bad.arpa"
    path.write_text(text)
    with pytest.raises(LanguageModelError, match=message) as info:
        NGramLanguageModel.load(path)
    assert "bad.arpa" in str(info.value)


def test_a_missing_language_model_is_named(tmp_path):
    with pytest.raises(LanguageModelError, match="nope.arpa does not exist"):
        NGramLanguageModel.load(tmp_path / "nope.arpa")


def test_an_arpa_file_from_another_tool_backs_off_as_arpa_says(tmp_path):
    path = tmp_path / "kenlm.arpa"
    path.write_text(
        "written by another tool\n\n\\data\\\nngram 1=4\nngram 2=2\n\n\\1-grams:\n"
        "-1.0\t<unk>\t0\n-99\t<s>\t-0.5\n-0.5\tone\t-0.2\n-0.7\t</s>\n\n"
        "\\2-grams:\n-0.1\t<s> one\n-0.3\tone </s>\n\n\\end\\\n"
    )
    lm = NGramLanguageModel.load(path)
    assert lm.log10_prob(["<s>"], "one") == pytest.approx(-0.1)
    assert lm.log10_prob(["<s>"], "</s>") == pytest.approx(-0.5 - 0.7)
    assert lm.log10_prob(["one"], "one") == pytest.approx(-0.2 - 0.5)
    assert lm.log10_prob(["one"], "zebra") == pytest.approx(-1.0)
    assert lm.sentence_log10_prob(["one"]) == pytest.approx(-0.1 - 0.3)
