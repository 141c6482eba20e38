"""SteeringPanel: runs, slider spam, errors mid-generation, dashboard hand-off, exported page."""

import itertools
import json
import re

import numpy as np
import pytest
import torch
from browser import PageWatch
from playwright.sync_api import expect
from tiny import tiny_model

import saewidgets as sw
from saewidgets.analysis.stats import feature_stats

SITE = "blocks.1.hook_resid_post"
PROMPT = "the cat sat on"
HOSTILE = '<img src=x onerror="window.__pwned=1">'


@pytest.fixture(scope="module")
def setup():
    model = tiny_model("llama", seed=11)
    sae = sw.SAE(32, 48, "topk", k=6, site=SITE, seed=4)
    return model, sae


def test_panel_runs_baseline_and_steered(setup):
    model, sae = setup
    panel = sw.SteeringPanel(model, sae, features=[3], prompt=PROMPT, max_new_tokens=8)
    panel.wait()
    assert panel._baseline["done"] and panel._steered["done"]
    assert panel._steered["run"] == panel._run == panel._baseline["run"]
    assert panel.result.text == panel.baseline.text  # strength 0 changes nothing
    statuses = []
    panel.observe(lambda c: statuses.append(dict(c["new"])), names="_task")
    panel.set_strength(0, 0.8)
    panel.wait()
    # the stream reports how far it got: token counts as fractions, ending at 8 of 8 tokens
    fractions = [t["progress"] for t in statuses if t["state"] == "running" and t["progress"]]
    assert fractions and fractions == sorted(fractions) and fractions[-1] == 1.0
    assert any("8 of 8 tokens" in t["message"] for t in statuses)
    assert statuses[-1]["state"] == "done"
    direct = sw.steer(model, PROMPT, sw.Intervention(sae, 3, 0.8), max_new_tokens=8)
    assert panel.result.text == direct.text != panel.baseline.text
    assert panel._steered["text"] == direct.text
    assert panel._steered["measures"][0]["feature"] == 3
    assert panel._baseline["text"] == panel.baseline.text  # the baseline stays
    panel.close()


def test_slider_spam_never_interleaves_runs(setup):
    model, sae = setup
    panel = sw.SteeringPanel(model, sae, features=[3, 5], prompt=PROMPT, max_new_tokens=12)
    panel.wait()
    seen = []
    panel.observe(lambda c: seen.append(dict(c["new"])), names="_steered")
    for strength in np.linspace(0.1, 0.9, 9):
        panel.set_strength(1, float(strength))  # each change cancels the run in flight
    final = panel.wait()
    expected = sw.steer(model, PROMPT, panel.interventions(), max_new_tokens=12)
    assert final.text == expected.text and panel._steered["text"] == expected.text
    runs = [s["run"] for s in seen]
    assert runs == sorted(runs)  # one run after another, never back to an older one
    assert seen[-1]["run"] == panel._run and seen[-1]["done"]
    for _, group in itertools.groupby(seen, key=lambda s: s["run"]):
        texts = [s["text"] for s in group]
        assert all(b.startswith(a) for a, b in itertools.pairwise(texts))
    panel.close()


class FailingSAE(sw.SAE):
    """An SAE whose encoder fails on its third call: an error in the middle of a generation."""

    calls = 0

    def encode(self, x):
        FailingSAE.calls += 1
        if FailingSAE.calls == 3:
            raise RuntimeError("encoder failed mid-generation")
        return super().encode(x)


def test_error_mid_generation_is_shown_and_the_model_is_clean(setup):
    model, _ = setup
    sae = FailingSAE(32, 48, "topk", k=6, site=SITE, seed=4)
    ids = torch.tensor([model.encode(PROMPT)])
    with torch.no_grad():
        clean = model.hf_model(ids).logits
    panel = sw.SteeringPanel(
        model, sae, features=[sw.Intervention(sae, 3, 0.5, "clamp")], prompt=PROMPT
    )
    panel.wait()
    assert panel._task["state"] == "error"
    assert "encoder failed mid-generation" in panel._task["message"]
    logits, _ = model.run(ids, torch.ones_like(ids))
    torch.testing.assert_close(logits, clean)
    panel.close()


def test_bad_input_gets_messages_and_runs_nothing(setup):
    model, sae = setup
    panel = sw.SteeringPanel(model, sae, features=[1], prompt=PROMPT, max_new_tokens=4)
    panel.wait()
    run = panel._run
    with pytest.raises(sw.SteeringError, match="out of range"):
        panel.add_feature(48)
    with pytest.raises(sw.SteeringError, match="no SAE for site 'blocks.0.hook_resid_post'"):
        panel.add_feature(1, site="blocks.0.hook_resid_post")
    panel.prompt = "  "
    assert panel._task["state"] == "error" and "prompt is empty" in panel._task["message"]
    assert panel._run == run  # nothing started
    panel.prompt = PROMPT
    panel.wait()
    assert panel._task["state"] == "done" and panel._run == run + 1
    with pytest.raises(TypeError, match="sw.Model"):
        sw.SteeringPanel("gpt2", sae)
    panel.close()


def test_dashboard_opens_a_prefilled_panel(setup):
    model, sae = setup
    corpus = sw.corpus.from_texts([f"line {i} of some text about cats" for i in range(40)])
    stats = feature_stats(model, sae, corpus, n_tokens=600, window=16, cache=False, progress=False)
    dash = sw.FeatureDashboard(stats, model=model, sae=sae)
    shown = dash.selected_feature
    panel = dash.steering_panel(prompt=PROMPT, max_new_tokens=4)
    assert [r["feature"] for r in panel.rows] == [shown]
    assert panel.rows[0]["unit"] == pytest.approx(float(stats.max_activation[shown]))
    assert panel.rows[0]["label"] == dash.labels[shown]
    assert dash._can_steer
    other = int(np.argsort(-stats.density)[1])
    dash._on_message(dash, {"type": "steer", "feature": other}, [])  # the button's message
    assert [r["feature"] for r in panel.rows] == [shown, other]
    hits = panel.search(str(other))
    first = hits[0]  # an id outranks any label or token
    assert (first["site"], first["feature"], first["label"]) == (SITE, other, dash.labels[other])
    assert first["matches"][0]["field"] == "id"
    # the same rule as sw.search_features, across the panel's sites
    word = next(w for w in re.findall(r"\w{3,}", " ".join(dash.labels.as_dict().values())))
    direct = sw.search_features(word, stats, dash.labels)
    assert [h["feature"] for h in panel.search(word)] == [h.feature for h in direct]
    assert panel.search("") == [] and panel.search(" ?! ") == []
    with pytest.raises(TypeError, match="must be a string"):
        panel.search(3)
    panel.wait()
    panel.close()


def test_exported_panel_page(setup, tmp_path, chromium):
    model, sae = setup
    panel = sw.SteeringPanel(
        model, sae, features=[3, 5], prompt=PROMPT, max_new_tokens=8, labels={3: HOSTILE}
    )
    panel.set_strength(0, 0.7)
    panel.wait()
    panel.sweep(0, points=3)
    panel.wait()
    assert len(panel.last_sweep.table) == 3
    path = tmp_path / "steer.html"
    panel.to_html(path, stops=None)  # no texts at slider stops: the sliders need a kernel
    b = chromium
    page = b.new_page()
    watch = PageWatch(page)
    page.goto(path.as_uri())
    steered = page.locator(".saew-steer-out[data-role='steered']")
    expect(steered).to_have_attribute("data-done", "true")
    assert steered.locator(".saew-steer-text").text_content() == panel.result.text
    baseline = page.locator(".saew-steer-out[data-role='baseline'] .saew-steer-text")
    assert baseline.text_content() == panel.baseline.text
    expect(page.locator(".saew-steer-row")).to_have_count(2)
    expect(page.locator(".saew-steer-slider").first).to_be_disabled()
    assert page.locator(".saew-steer-label").first.text_content() == HOSTILE
    expect(page.locator(".saew-sweep-chart circle")).to_have_count(6)
    chart = page.locator(".saew-sweep-chart")
    assert chart.locator(".saew-x-label").text_content() == "strength (× ‖x‖)"  # no stats
    ticks = chart.locator(".saew-tick").all_text_contents()
    assert ticks and all(re.fullmatch(r"-?\d+(\.\d+)?k?", t) and len(t) <= 6 for t in ticks)
    measures = page.locator(".saew-steer-out[data-role='steered'] .saew-steer-measure")
    expect(measures).to_have_count(2)
    assert page.evaluate("window.__pwned") is None
    assert watch.errors == [] and watch.network == []
    state = json.loads(panel.to_html(stops=None).split('id="saew-state">')[1].split("</script>")[0])
    assert state["_live"] is False
    # by default a page carries texts at five stops per row, and its sliders move between them
    panel.to_html(path)
    page.goto(path.as_uri())
    slider = page.locator(".saew-steer-slider").first
    expect(slider).to_be_enabled()
    stops = [float(v) for v in slider.get_attribute("data-stops").split(",")]
    assert 0.7 in stops and len(stops) >= 5 and max(stops) == 1.0  # clipped to the slider
    panel.close()


def test_ablated_rows_report_no_activation_and_cannot_be_swept(setup):
    model, sae = setup
    panel = sw.SteeringPanel(
        model,
        sae,
        features=[sw.Intervention(sae, 3, 0.0, "ablate")],
        prompt=PROMPT,
        max_new_tokens=6,
    )
    panel.wait()
    measure = panel._steered["measures"][0]
    assert measure["mode"] == "ablate" and measure["activation"] is None  # NaN -> null
    assert measure["vocab_shift"] is not None
    with pytest.raises(sw.SteeringError, match="ablated: there is no strength to sweep"):
        panel.sweep(0)
    panel._on_message(panel, {"type": "sweep", "row": 0}, [])  # the button's message
    assert panel._task["state"] == "error" and "no strength to sweep" in panel._task["message"]
    # a sweep of another row leaves the texts current (it used to bump the run id)
    panel.add_feature(5, strength=0.5)
    panel.wait()
    run = panel._run
    panel.sweep(1, points=3)
    panel.wait()
    assert panel._run == run and panel._steered["run"] == run and panel._steered["done"]
    panel.close()
