"""LLM explanations and LLM-judged label scores against a local OpenAI-compatible server
(tests/llm_shim.py: the embedded model answers, or the server misbehaves on purpose)."""

import socket

import numpy as np
import pytest
from llm_shim import ChatShim

import saewidgets as sw
from saewidgets.analysis.labels import auto_labels
from saewidgets.analysis.llm import LLMError, clean_label, explain_prompt

SITE = "blocks.3.hook_resid_post"


@pytest.fixture(scope="module")
def full(embedded_model):
    sae = sw.load_sae("embedded", site=SITE)
    # full statistics (every activation) over held-out text of the offline corpus
    stats = sw.feature_stats(embedded_model, sae, n_tokens=3000, window=64, cache=False,
                             progress=False)  # fmt: skip
    return sae, stats


def _busy(stats, n=2):
    """The most frequent features that can be scored: they fire in several held-out contexts
    and stay quiet in others."""
    from saewidgets.analysis.label_scores import MIN_ACTIVE, LabelSampler

    sampler, out = LabelSampler(stats), []
    for f in np.argsort(-stats.density):
        contexts = sampler.contexts(int(f), n_active=5, n_inactive=5)
        if len(contexts.active) >= MIN_ACTIVE and contexts.inactive:
            out.append(int(f))
        if len(out) == n:
            return out
    raise AssertionError("no scorable feature in the sample")


def test_an_endpoint_labels_features_from_cores_and_tokens_and_each_label_is_scored(
    embedded_model, full, tmp_path
):
    sae, stats = full
    labels = auto_labels(stats, embedded_model.tokenizer, user_file=tmp_path / "l.json")
    features = _busy(stats)
    with ChatShim(embedded_model) as shim:
        endpoint = sw.ChatEndpoint(shim.url, model="smollm2", timeout=120)
        sw.explain_with(stats, embedded_model.tokenizer, endpoint, features, labels,
                        n_examples=4, model=embedded_model, sae=sae)  # fmt: skip
    prompt = shim.requests[0]["messages"][0]["content"]
    assert "[[" in prompt and "«" in prompt  # the strongest token and its PruningMaxAct core
    assert "Tokens its output makes more likely" in prompt and "most telling" in prompt
    for f in features:
        assert labels.explained[f]["status"] == "explained"
        text = labels[f]
        assert text == labels.user[f] and 0 < len(text) <= 120 and "\n" not in text
        scores = labels.scores_of(f)
        assert scores["of"] == "user" and scores["label"] == text
        assert 0.0 <= scores["detection"] <= 1.0


def test_a_down_slow_or_junk_endpoint_keeps_the_offline_label_and_says_why(
    embedded_model, full, tmp_path
):
    _, stats = full
    tok = embedded_model.tokenizer
    f = _busy(stats, 1)[0]
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    cases = [
        (ChatShim(mode="slow", delay=2.0), 0.5, "did not answer within 0.5 s (2 tries)"),
        (ChatShim(mode="junk"), 5, "not a chat completion"),
    ]
    for shim, timeout, why in cases:
        labels = auto_labels(stats, tok, user_file=tmp_path / f"{shim.mode}.json")
        before = labels[f]
        with shim, pytest.warns(UserWarning, match="kept their labels"):
            sw.explain_with(stats, tok, sw.ChatEndpoint(shim.url, timeout=timeout), [f], labels)
        assert labels[f] == before and f not in labels.user
        assert labels.explained[f]["status"] == "kept" and why in labels.explained[f]["why"]
        assert len(shim.requests) == 2  # tried once more, no more
    labels = auto_labels(stats, tok, user_file=tmp_path / "down.json")
    with pytest.warns(UserWarning, match=f"#{f}.*cannot reach"):
        sw.explain_with(stats, tok, f"http://127.0.0.1:{closed}/v1", [f], labels)
    assert "cannot reach" in labels.explained[f]["why"]


def test_a_failing_first_request_is_retried(embedded_model, full, tmp_path):
    _, stats = full
    f = _busy(stats, 1)[0]
    labels = auto_labels(stats, embedded_model.tokenizer, user_file=tmp_path / "l.json")
    with ChatShim(embedded_model, mode="flaky") as shim:
        sw.explain_with(stats, embedded_model.tokenizer, sw.ChatEndpoint(shim.url, timeout=120),
                        [f], labels, n_examples=3)  # fmt: skip
    assert len(shim.requests) == 2 and labels.explained[f]["status"] == "explained"


def test_a_model_can_judge_labels(embedded_model, full):
    _, stats = full
    f = _busy(stats, 1)[0]
    with ChatShim(embedded_model) as shim:
        judge = sw.LLMSimulator(sw.ChatEndpoint(shim.url, timeout=120, max_tokens=3))
        table = sw.score_labels(stats, {f: "the word 'the'"}, simulator=judge, n_active=3,
                                n_inactive=3, progress=False)  # fmt: skip
    questions = [r["messages"][0]["content"] for r in shim.requests]
    assert questions and all("Answer yes or no" in q for q in questions)
    assert any("[[" in q for q in questions)  # fuzzing marks tokens
    row = table.loc[f]
    assert 0.0 <= row["detection"] <= 1.0 and row["n_active"] == 3
    assert 0 <= judge.unclear <= len(questions)


def test_answers_are_cleaned_to_a_label_or_refused():
    assert clean_label('Label: "Coffee and bakeries."\nBecause ...') == "Coffee and bakeries"
    assert clean_label("\n\n  **closing brackets in code**  ") == "closing brackets in code"
    essay = "It fires on " + "words about food and cooking " * 8 + ". It also ..."
    assert clean_label(essay).endswith("…") and len(clean_label(essay)) <= 121
    for junk in ["", "   \n ", "!!! ???", "x" * 500, "42 17"]:
        with pytest.raises(LLMError):
            clean_label(junk)
    with pytest.raises(ValueError, match="http"):
        sw.ChatEndpoint("localhost:8000")


def test_the_prompt_escapes_nothing_and_loses_nothing(full):
    """Model text goes into the prompt as text: newlines shown as ↵, markers only where meant."""
    _, stats = full
    f = _busy(stats, 1)[0]
    content = explain_prompt(stats, f, None, 3)[0]["content"]
    examples = [line for line in content.splitlines() if line[:3] in ("1. ", "2. ", "3. ")]
    assert len(examples) == 3 and all(line.count("[[") == 1 for line in examples)
    assert "«" not in content  # no cores given
