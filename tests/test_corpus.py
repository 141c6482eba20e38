"""Corpora: the offline default, user files, splits and token windows."""

import itertools

import numpy as np
import pytest
from tiny import byte_tokenizer

from saewidgets import corpus


def test_default_corpus_mixes_prose_docs_and_code():
    sources = {d.source.split(":")[0] for d in itertools.islice(corpus.default(), 300)}
    assert {"generated", "pydoc", "code"} <= sources


def test_default_corpus_is_reproducible():
    first = [d.text for d in itertools.islice(corpus.default(), 50)]
    again = [d.text for d in itertools.islice(corpus.default(), 50)]
    assert first == again


def test_split_is_disjoint_complete_and_order_free():
    texts = [f"document number {i} " * 3 for i in range(2000)]
    full = corpus.from_texts(texts)
    train = {d.text for d in full.split("train")}
    held = {d.text for d in full.split("heldout")}
    assert not train & held and train | held == set(texts)
    assert 0.02 < len(held) / len(texts) < 0.09  # about 5 %
    reversed_held = {d.text for d in corpus.from_texts(texts[::-1]).split("heldout")}
    assert reversed_held == held
    with pytest.raises(ValueError, match="'train' or 'heldout'"):
        full.split("test")


def test_windows_have_exact_length_and_keep_the_token_order():
    tok = byte_tokenizer()
    c = corpus.from_texts(["abcdef", "ghij"])
    windows = list(c.windows(tok, window=4))
    flat = np.concatenate(windows)
    eos = tok.eos_token_id
    expected = tok("abcdef")["input_ids"] + [eos] + tok("ghij")["input_ids"] + [eos]
    assert all(len(w) == 4 for w in windows)
    assert list(flat) == expected[: len(flat)] and len(flat) == 12


def test_take_reports_how_many_tokens_there_were():
    tok = byte_tokenizer()
    c = corpus.from_texts(["x" * 100])
    assert c.take(tok, 64, window=32).shape == (2, 32)
    with pytest.raises(corpus.CorpusTooSmall, match="holds 96 tokens .*10,000 were asked for"):
        c.take(tok, 10_000, window=32)


def test_from_folder_and_files(tmp_path):
    (tmp_path / "a.txt").write_text("first file")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.txt").write_text("second file")
    (tmp_path / "c.md").write_text("not matched")
    docs = list(corpus.from_folder(tmp_path))
    assert [d.text for d in docs] == ["first file", "second file"]
    with pytest.raises(corpus.CorpusTooSmall, match="no files matching"):
        corpus.from_folder(tmp_path, pattern="*.csv")
    with pytest.raises(FileNotFoundError, match="not files"):
        corpus.from_files([tmp_path / "missing.txt"])


def test_fingerprint_changes_with_content(tmp_path):
    a = corpus.from_texts(["one", "two"]).fingerprint()
    assert a == corpus.from_texts(["one", "two"]).fingerprint()
    assert a != corpus.from_texts(["one", "three"]).fingerprint()
    assert a != corpus.from_texts(["one", "two"]).split("heldout").fingerprint()
    path = tmp_path / "a.txt"
    path.write_text("first version")
    files = corpus.from_folder(tmp_path)
    before = files.fingerprint()
    path.write_text("second version, longer")  # the same Corpus object sees the edit
    assert files.fingerprint() != before
    assert (
        corpus.from_texts(["a\0", "b"]).fingerprint()
        != corpus.from_texts(["a", "\0b"]).fingerprint()
    )
    assert (
        corpus.from_texts(["x"], name="p").fingerprint()
        != corpus.from_texts(["x"], name="q").fingerprint()
    )
    custom = corpus.Corpus(lambda: [corpus.Document("x", "mine")], "mine")  # no identity given
    assert custom.fingerprint() is None and custom.split("heldout").fingerprint() is None
    assert corpus.default().fingerprint() != corpus.default(["code"]).fingerprint()


def test_cached_take_reads_no_text_the_second_time(tmp_path, monkeypatch):
    monkeypatch.setenv("SAEWIDGETS_CACHE", str(tmp_path))
    tok = byte_tokenizer()
    reads = []

    def documents():
        reads.append(1)
        return [corpus.Document(f"document number {i} " * 5, "t") for i in range(20)]

    texts = corpus.Corpus(documents, "counted", identity=lambda: "counted-v1")
    first = texts.take(tok, 500, window=32, cache=True)
    again = texts.take(tok, 500, window=32, cache=True)
    assert len(reads) == 1 and np.array_equal(first, again)
    np.testing.assert_array_equal(first, texts.take(tok, 500, window=32))  # same as uncached
    (saved,) = (tmp_path / "windows").glob("*.npy")
    for damage in (b"not an array", b""):
        saved.write_bytes(damage)
        rebuilt = texts.take(tok, 500, window=32, cache=True)
        np.testing.assert_array_equal(rebuilt, first)
        assert np.array_equal(np.load(saved), first)  # and saved whole again
    other = corpus.Corpus(documents, "counted", identity=lambda: "counted-v2")
    other.take(tok, 500, window=32, cache=True)
    assert len(list((tmp_path / "windows").glob("*.npy"))) == 2


def test_bad_input():
    with pytest.raises(TypeError, match=r"texts\[1\] is int"):
        corpus.from_texts(["ok", 5])
    with pytest.raises(ValueError, match="unknown corpus parts"):
        corpus.default(parts=["news"])


def test_bad_windows_are_refused_clearly():
    tok = byte_tokenizer()
    c = corpus.from_texts(["some text to cut into windows"])
    for bad in (0, 1, 2.5, True):
        with pytest.raises(corpus.CorpusError, match="window must be an integer >= 2"):
            c.take(tok, 10, window=bad)
    with pytest.raises(corpus.CorpusError, match="n_tokens must be a positive integer"):
        c.take(tok, 0, window=4)
