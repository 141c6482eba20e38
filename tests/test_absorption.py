"""Feature absorption on the first-letter task, on the embedded model and a shipped SAE."""

import numpy as np
import pytest

import saewidgets as sw
from saewidgets.analysis.absorption import _word_absorption, first_letter_words


def test_one_word_follows_the_definitions():
    cos = np.array([0.9, 0.5, 0.05, 0.3])
    main = [0]
    # the main latent carries the whole projection: nothing absorbed
    assert _word_absorption(np.array([2.0, 0.1, 0, 0]), 2.0, np.array([2.2, 0.2, 0, 0]), cos,
                            main) == (0.0, False)  # fmt: skip
    # the main latent is silent and latent 1 carries 60 % along the probe: fully absorbed
    fraction, whole = _word_absorption(np.array([0, 1.2, 0, 0]), 2.0, np.array([0, 2.4, 0, 0]),
                                       cos, main)  # fmt: skip
    assert fraction == 1.0 and whole
    # partial: main carries 1.0 of 2.0, latents 1 and 3 carry 0.6 + 0.3 → 0.9 / (0.9 + 1.0)
    fraction, whole = _word_absorption(np.array([1.0, 0.6, 0.0, 0.3]), 2.0,
                                       np.array([1.1, 1.2, 0, 1.0]), cos, main)  # fmt: skip
    assert fraction == pytest.approx(0.9 / 1.9) and not whole
    # a latent barely aligned with the probe (cosine 0.05 < 0.1) never counts as absorbing
    assert _word_absorption(np.array([0.5, 0, 1.5, 0]), 2.0, np.array([0.6, 0, 30, 0]), cos,
                            main)[0] == 0.0  # fmt: skip


def test_words_are_single_tokens_spread_over_letters(embedded_model):
    words = first_letter_words(embedded_model.tokenizer, limit=260)
    assert len(words) == 260
    tok = embedded_model.tokenizer
    for token, word in words[:50]:
        assert tok(" " + word, add_special_tokens=False)["input_ids"] == [token]
    letters = {w[0] for _, w in words}
    assert len(letters) >= 24  # round-robin: rare letters are not drowned by frequent ones


def test_absorption_of_a_shipped_sae(embedded_model):
    sae = sw.load_sae("embedded", site="blocks.3.hook_resid_post")
    result = sw.absorption(embedded_model, sae, n_words=520, progress=False)
    table = result.table
    assert len(table) >= 20 and set(table.columns) >= {"main latents", "absorption fraction"}
    assert result.probe_accuracy > 0.3  # the model knows first letters (chance: 1 in 26)
    assert 0.0 <= result.absorption_fraction <= 1.0 and 0.0 <= result.full_absorption <= 1.0
    assert all(1 <= len(m) <= 10 for m in table["main latents"])
    assert "absorption fraction" in repr(result)
    with pytest.raises(ValueError, match="test_fraction"):
        sw.absorption(embedded_model, sae, test_fraction=0.99)
