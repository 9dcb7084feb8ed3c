"""Reading TSV / JSON lines / text files and label sets: every bad input is named by file and
line, all of a file's problems at once."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from ganglion_nlp.data.labels import label_indices, labels_of
from ganglion_nlp.data.readers import LabelledText, read_labelled_texts, read_texts
from ganglion_nlp.errors import TextFileError, UnknownLabelError


def _write(path: Path, text: str | bytes) -> Path:
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def test_tsv_with_header_crlf_and_bom(tmp_path):
    path = _write(
        tmp_path / "d.tsv", b"\xef\xbb\xbftext\tlabel\r\na cat\tanimal\r\n a saw \t tool \r\n"
    )
    rows = read_labelled_texts(path)
    assert [(r.text, r.label, r.line) for r in rows] == [
        ("a cat", "animal", 2),
        ("a saw", "tool", 3),
    ]
    assert rows[0].location == f"{path}:2"


def test_a_header_only_on_the_first_line(tmp_path):
    path = _write(tmp_path / "d.tsv", "a cat\tanimal\ntext\tlabel\n")
    assert [r.label for r in read_labelled_texts(path)] == ["animal", "label"]


def test_jsonl_and_json_array(tmp_path):
    lines = [{"text": "a cat", "label": "animal", "id": 7}, {"text": "one", "label": 3}]
    jsonl = _write(tmp_path / "d.jsonl", "".join(json.dumps(r) + "\n" for r in lines))
    assert [(r.text, r.label) for r in read_labelled_texts(jsonl)] == [
        ("a cat", "animal"),
        ("one", "3"),
    ]
    array = _write(tmp_path / "d.json", json.dumps(lines, indent=1))
    assert [r.label for r in read_labelled_texts(array)] == ["animal", "3"]
    as_lines = _write(tmp_path / "e.json", "".join(json.dumps(r) + "\n" for r in lines))
    assert len(read_labelled_texts(as_lines)) == 2


def test_empty_lines_are_an_error_naming_them(tmp_path):
    path = _write(tmp_path / "d.tsv", "a\tx\n\nb\ty\n   \nc\tz\n")
    with pytest.raises(
        TextFileError, match=r"d\.tsv: 2 empty line\(s\): line 2, 4; .*empty_lines: skip"
    ):
        read_labelled_texts(path)


def test_empty_lines_skipped_with_one_counted_warning(tmp_path, caplog):
    path = _write(tmp_path / "d.tsv", "a\tx\n\nb\ty\n\n\n")
    with caplog.at_level(logging.WARNING):
        rows = read_labelled_texts(path, empty_lines="skip")
    assert [r.line for r in rows] == [1, 3]
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 1 and "skipped 3 empty line(s) (line 2, 4, 5)" in warnings[0]


def test_tab_problems_are_named_by_line_all_at_once(tmp_path):
    text = "ok\tfine\nno label here\na\tb\tc\n\tempty text\nempty label\t\nx\ty\t\n"
    path = _write(tmp_path / "d.tsv", text)
    with pytest.raises(TextFileError) as info:
        read_labelled_texts(path)
    message = str(info.value)
    assert f"{path}: 5 malformed row(s)" in message
    assert "line 2: no tab, so no label" in message
    assert "line 3 (2 tabs), 6 (2 tabs): more than one tab" in message
    assert "line 4: an empty text" in message
    assert "line 5: an empty label" in message


def test_many_problems_are_listed_with_a_count(tmp_path):
    path = _write(tmp_path / "d.tsv", "".join(f"text {i}\n" for i in range(12)))
    with pytest.raises(TextFileError, match=r"line 1, 2, 3, 4, 5 and 7 more: no tab"):
        read_labelled_texts(path)


def test_non_utf8_names_the_byte_offset_and_line(tmp_path):
    path = _write(
        tmp_path / "d.tsv", "caf\u00e9\tx\n".encode() + "na\u00efve\ty\n".encode("latin-1")
    )
    with pytest.raises(TextFileError, match=r"byte 0xEF at byte offset 10 \(line 2\).*iconv"):
        read_labelled_texts(path)


def test_bad_json_lines(tmp_path):
    text = '{"text": "a", "label": "x"}\n{"text": "b", "label": \n[1, 2]\n{"label": "y"}\n{"text": "c"}\n{"text": 5, "label": "z"}\n{"text": "d", "label": true}\n'
    path = _write(tmp_path / "d.jsonl", text)
    with pytest.raises(TextFileError) as info:
        read_labelled_texts(path)
    message = str(info.value)
    assert "line 2 (column 24: Expecting value): not valid JSON" in message
    assert "line 3 (list): not a JSON object" in message
    assert "line 4 (keys: 'label'): no \"text\" key" in message
    assert 'line 5: no "label" key' in message
    assert 'line 6 (int): a "text" that is not a string' in message
    assert 'line 7 (bool): a "label" that is neither' in message


def test_bad_json_array_names_the_line(tmp_path):
    path = _write(tmp_path / "d.json", '[{"text": "a", "label": "x"},\n\n{"text": oops}]\n')
    with pytest.raises(TextFileError, match=r"not valid JSON at line 3, column 10"):
        read_labelled_texts(path)


def test_file_type_missing_and_empty_files(tmp_path):
    with pytest.raises(
        TextFileError, match=r"unknown labelled file type '\.csv'.*\.tsv, \.jsonl, \.json"
    ):
        read_labelled_texts(_write(tmp_path / "d.csv", "a,b\n"))
    with pytest.raises(TextFileError, match="no such file"):
        read_labelled_texts(tmp_path / "missing.tsv")
    with pytest.raises(TextFileError, match="no examples in the file"):
        read_labelled_texts(_write(tmp_path / "empty.tsv", ""))


def test_read_texts_of_each_format(tmp_path):
    assert read_texts(_write(tmp_path / "t.txt", "one text\nanother\n")) == ["one text", "another"]
    # a TSV's text column, labels optional
    assert read_texts(_write(tmp_path / "t.tsv", "text\tlabel\na\tx\nb\n")) == ["a", "b"]
    assert read_texts(_write(tmp_path / "t.jsonl", '{"text": "a"}\n')) == ["a"]
    with pytest.raises(TextFileError, match="line 2"):
        read_texts(_write(tmp_path / "u.txt", "a\n\nb\n"))


def _rows(*labels: str) -> list[LabelledText]:
    return [LabelledText(f"t{i}", label, "val.tsv", i + 1) for i, label in enumerate(labels)]


def test_labels_are_the_sorted_training_labels():
    assert labels_of(_rows("b", "a", "b", "c")) == ["a", "b", "c"]


def test_unknown_labels_are_counted_and_named():
    rows = _rows("a", "zz", "b", "zz", "yy")
    with pytest.raises(UnknownLabelError) as info:
        label_indices(rows, ["a", "b"], key="model.validation_ds")
    message = str(info.value)
    assert "val.tsv: 3 row(s) have 2 label(s) the training data never has" in message
    assert "'zz' (2 rows, first at line 2), 'yy' (1 row, first at line 5)" in message
    assert "set model.validation_ds.unknown_labels: skip" in message


def test_unknown_labels_skipped_with_a_warning(caplog):
    with caplog.at_level(logging.WARNING):
        kept, ids = label_indices(_rows("a", "zz", "b"), ["a", "b"], unknown_labels="skip")
    assert [r.label for r in kept] == ["a", "b"] and ids == [0, 1]
    assert "'zz' (1 row, first at line 2)" in caplog.text and "left out" in caplog.text
