"""Offline labels on statistics whose features fire on known tokens and bigrams."""

import numpy as np
import pytest
from tiny import byte_tokenizer

from saewidgets.analysis.labels import auto_labels, explain_with
from saewidgets.analysis.stats import N_LOGITS, N_RELATED, N_TOP, FeatureStats

D = 6
TOK = byte_tokenizer()


def _id(ch: str) -> int:
    return TOK(ch)["input_ids"][0]


def _stats() -> FeatureStats:
    rng = np.random.default_rng(0)
    letters = np.array([_id(chr(c)) for c in range(ord("a"), ord("z") + 1)])
    ids = letters[rng.integers(0, 26, size=(40, 32))]
    ids[::2, 10], ids[::2, 11] = _id("x"), _id("y")  # the bigram recurs in half the windows
    ids[1::4, 11] = _id("y")  # and "y" also appears without "x"
    ids[1::4, 10] = _id("a")
    flat = ids.reshape(-1)
    prev = np.concatenate([[-1], flat[:-1]])
    after = np.concatenate([ids[:, 1:], np.full((len(ids), 1), -1)], axis=1).reshape(-1)
    fires = [
        flat == _id("q"),
        (prev == _id("x")) & (flat == _id("y")),
        np.zeros_like(flat, bool),
        rng.random(len(flat)) < 0.05,
        after == _id("z"),  # an output feature: it fires on any token that precedes "z"
        np.isin(flat, [_id("e"), _id("f"), _id("g")]),  # one feature, three tokens
    ]
    content = np.tile(np.arange(ids.shape[1]) > 0, len(ids))  # as feature_stats: never column 0
    fires = [f & content for f in fires]
    rows, cols = [], []
    for pos in range(len(flat)):
        for f in range(D):
            if fires[f][pos]:
                rows.append(pos)
                cols.append(f)
    counts = np.bincount(rows, minlength=len(flat))
    z = lambda *shape, dtype=np.float32: np.zeros(shape, dtype=dtype)  # noqa: E731
    density = np.array([fires[f].mean() for f in range(D)], dtype=np.float32)
    return FeatureStats(
        site="blocks.0.hook_resid_post",
        d_sae=D,
        model_name="tiny",
        sae_hash="h" * 24,
        corpus_name="letters",
        n_tokens=len(flat),
        token_ids=ids.astype(np.int32),
        indptr=np.concatenate([[0], np.cumsum(counts)]),
        indices=np.array(cols, np.int32),
        values=np.ones(len(cols), np.float16),
        density=density,
        mean_active=z(D),
        max_activation=z(D),
        hist_counts=z(D, 56, dtype=np.int32),
        top_positions=np.full((D, N_TOP), -1),
        top_values=z(D, N_TOP),
        vocab_top_ids=np.tile(letters[:N_LOGITS], (D, 1)).astype(np.int32),
        vocab_top_values=z(D, N_LOGITS),
        vocab_bottom_ids=z(D, N_LOGITS, dtype=np.int32),
        vocab_bottom_values=z(D, N_LOGITS),
        logit_hist_counts=z(D, 40, dtype=np.int32),
        logit_hist_range=z(D, 2),
        neighbour_ids=z(D, N_RELATED, dtype=np.int32),
        neighbour_values=z(D, N_RELATED),
        cooccur_ids=z(D, N_RELATED, dtype=np.int32),
        cooccur_values=z(D, N_RELATED),
    )


def test_labels_name_the_token_and_the_bigram(tmp_path):
    labels = auto_labels(_stats(), TOK, user_file=tmp_path / "labels.json")
    assert labels[0].startswith("'q'") and labels.score[0] == pytest.approx(1.0)
    assert labels[1].startswith("'xy'") and labels.score[1] > 0.9
    assert labels[2].startswith("never fires; promotes 'a'")
    assert labels.score[3] < 0.5  # random firing: whatever the label, it predicts poorly
    assert labels[4].startswith("→ 'z'") and labels.score[4] == pytest.approx(1.0)
    assert sorted(labels[5].split(" / ")) == ["'e'", "'f'", "'g'"]  # all three, nothing else
    assert labels.score[5] == pytest.approx(1.0)


def test_damaged_user_labels_are_reported_and_kept(tmp_path):
    path = tmp_path / "labels.json"
    path.write_text('{"3": "half a file')
    with pytest.raises(ValueError, match="labels.json are damaged.*left untouched"):
        auto_labels(_stats(), TOK, user_file=path)
    assert path.read_text() == '{"3": "half a file'


def test_user_labels_persist_and_override(tmp_path):
    path = tmp_path / "labels.json"
    labels = auto_labels(_stats(), TOK, user_file=path)
    labels.set(3, "my <b>own</b> label")
    again = auto_labels(_stats(), TOK, user_file=path)
    assert again[3] == "my <b>own</b> label" and again.as_dict()[3] == "my <b>own</b> label"
    again.set(3, "")
    assert auto_labels(_stats(), TOK, user_file=path)[3] == again.auto[3]
    with pytest.raises(IndexError, match="out of range"):
        again.set(9, "x")


def test_a_pluggable_explainer_gets_the_examples(tmp_path):
    stats = _stats()
    stats.top_positions[0, :2] = np.nonzero(stats.token_ids.reshape(-1) == _id("q"))[0][:2]
    seen = {}

    def explainer(feature, examples):
        seen[feature] = examples
        return f"explained {feature}"

    labels = auto_labels(stats, TOK, user_file=tmp_path / "l.json")
    explain_with(stats, TOK, explainer, [0], labels)
    assert labels[0] == "explained 0"
    assert all("[[q]]" in text for text in seen[0]) and len(seen[0]) == 2


def test_concurrent_label_saves_leave_a_whole_file(tmp_path):
    """Threads saving at once (a widget and the notebook) must not collide on a temp file."""
    import json
    import threading

    path = tmp_path / "labels.json"
    labels = auto_labels(_stats(), TOK, user_file=path)
    errors = []

    def write(offset):
        try:
            for i in range(40):
                labels.set((offset + i) % D, f"label {offset} {i}")
        except Exception as error:  # collected and asserted below
            errors.append(error)

    threads = [threading.Thread(target=write, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    saved = json.loads(path.read_text())
    assert set(saved) <= {str(f) for f in range(D)} and saved
    scores = path.with_suffix(".scores.json")  # the user labels' scores, saved the same way
    assert set(json.loads(scores.read_text())) <= {str(f) for f in range(D)}
    assert sorted(tmp_path.iterdir()) == [path, scores]  # no temporary files left behind
