"""FeatureDashboard and FeatureBrowser: cards, live probes, validation, exported pages."""

import re

import numpy as np
import pytest
import torch
import traitlets
from browser import PageWatch
from playwright.sync_api import expect
from tiny import tiny_model

import saewidgets as sw
from saewidgets.analysis.search import feature_tokens
from saewidgets.analysis.stats import StatsMismatch, feature_stats
from saewidgets.widgets.probe import MAX_PROBE_TOKENS
from saewidgets.widgets.serialization import unpack

SITE = "blocks.1.hook_resid_post"
DEAD = 7
CORPUS = sw.corpus.from_texts(
    [
        f"Item {i}: the {['red', 'blue', 'green'][i % 3]} box holds {i % 11} stones."
        for i in range(120)
    ]
)
HOSTILE = '<img src=x onerror="window.__pwned=1">'


@pytest.fixture(scope="module")
def setup():
    model = tiny_model("llama", seed=5)
    sae = sw.SAE(32, 40, "topk", k=5, site=SITE, seed=2)
    with torch.no_grad():  # one feature that can never win the top-k: a dead feature
        sae.W_enc[:, DEAD] = 0
        sae.b_enc[DEAD] = -1e4
    stats = feature_stats(model, sae, CORPUS, n_tokens=1500, window=32, cache=False, progress=False)
    return model, sae, stats


def _live_feature(stats):
    return int(np.argsort(-stats.density)[1])


def test_card_matches_the_statistics(setup):
    model, sae, stats = setup
    f = _live_feature(stats)
    w = sw.FeatureDashboard(stats, model=model, sae=sae, feature=f)
    card = w._card
    assert card["feature"] == f and not card["dead"]
    assert card["max"] == pytest.approx(float(stats.max_activation[f]))
    assert card["density"] == pytest.approx(float(stats.density[f]))
    # the first top example is centred on the feature's strongest activation
    first = card["top"][0]
    assert first["values"][first["focus"]] == pytest.approx(float(stats.top_values[f, 0]), rel=1e-3)
    assert [row[0] for row in card["neighbours"]] == stats.neighbour_ids[f][:8].tolist()
    assert sum(card["hist"]["counts"]) == round(float(stats.density[f]) * stats.n_tokens)
    assert card["label"] == w.labels[f]


def test_dead_feature_card_has_no_empty_panels(setup):
    stats = setup[2]
    assert stats.density[DEAD] == 0
    w = sw.FeatureDashboard(stats, feature=DEAD, labels=None)
    card = w._card
    assert card["dead"] and card["hist"] is None and card["top"] == [] and card["quantiles"] == []
    assert len(card["logits"]["top"]) > 0  # the decoder direction still has logit effects


def test_selection_validation_and_mismatch(setup):
    model, _, stats = setup
    w = sw.FeatureDashboard(stats, labels=None)
    with pytest.raises(traitlets.TraitError, match=r"feature 40 is out of range.*0\.\.39"):
        w.selected_feature = 40
    assert w._card["feature"] == w.selected_feature  # the failed change left the card alone
    other = sw.SAE(32, 40, "topk", k=5, site=SITE, seed=3)
    with pytest.raises(StatsMismatch, match="different SAE"):
        sw.FeatureDashboard(stats, model=model, sae=other)
    with pytest.raises(ValueError, match="both model= and sae="):
        sw.FeatureDashboard(stats, model=model)
    with pytest.raises(TypeError, match="needs FeatureStats"):
        sw.FeatureDashboard("stats")
    with pytest.raises(IndexError, match="out of range"):
        sw.FeatureDashboard(stats, feature=99, labels=None)


def test_live_query_matches_a_direct_encode(setup):
    model, sae, stats = setup
    w = sw.FeatureBrowser(model, sae, stats)
    text = "the blue box holds 3 stones"
    w.query = text  # runs on the view's task runner, not in the observer
    w.wait()
    assert w._task["name"] == "probe" and w._task["state"] == "done" and w._task["id"] == 1
    probe = w._probe
    ids = torch.tensor([model.encode(text)])
    acts = model.read_sites(ids, torch.ones_like(ids), [SITE])[SITE][0]
    dense = sae.encode(acts).detach().numpy()
    dense[~model.content_mask(ids)[0].numpy()] = 0
    csr = probe["csr"]  # the one CSR wire format, float16 values
    indptr, indices, values = (unpack(csr[k]) for k in ("indptr", "indices", "values"))
    assert csr["n_rows"] == len(indptr) - 1 == ids.shape[1] and csr["d_sae"] == sae.d_sae
    rebuilt = np.zeros_like(dense)
    for t in range(len(indptr) - 1):
        rebuilt[t, indices[indptr[t] : indptr[t + 1]]] = values[indptr[t] : indptr[t + 1]]
    np.testing.assert_allclose(rebuilt, dense, rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(unpack(csr["feature_max"]), dense.max(0), rtol=1e-3, atol=1e-4)
    assert probe["top"][0][0] == int(dense.max(0).argmax())
    assert 0 in probe["skipped"]


def test_bad_queries_keep_the_last_result(setup):
    model, sae, stats = setup
    w = sw.FeatureDashboard(stats, model=model, sae=sae)
    w.query = "the red box"
    w.wait()
    good = w._probe
    w.query = "   "
    w.wait()
    assert w._task["state"] == "error" and "type some text" in w._task["message"]
    assert w._probe is good
    w.query = "x" * (MAX_PROBE_TOKENS + 10)
    w.wait()
    assert f"at most {MAX_PROBE_TOKENS}" in w._task["message"] and w._probe is good
    assert w._task["id"] == 3
    with pytest.raises(ValueError, match=f"at most {MAX_PROBE_TOKENS}"):
        w.probe("y" * (MAX_PROBE_TOKENS + 10))
    offline = sw.FeatureDashboard(stats, labels=None)
    offline.query = "anything"
    assert offline._task["state"] == "error" and "needs model=" in offline._task["message"]


def test_browser_catalog(setup):
    model, sae, stats = setup
    w = sw.FeatureBrowser(model, sae, stats)
    assert len(w._catalog["labels"]) == stats.d_sae
    np.testing.assert_allclose(unpack(w._catalog["density"]), stats.density)
    # the search fields are `feature_tokens`, what sw.search_features reads (js/src/lib/search.js)
    table, top = w._catalog["tokens"], unpack(w._catalog["top_tokens"])
    promoted = unpack(w._catalog["promoted"])
    want_top, want_promoted = feature_tokens(stats)
    for f in range(stats.d_sae):
        assert tuple(table[i] for i in top[f] if i >= 0) == want_top[f]
        assert tuple(table[i] for i in promoted[f] if i >= 0) == want_promoted[f]
    w2 = sw.FeatureBrowser(model, sae, stats)
    sw.link(w, w2)
    w.selected_feature = 3
    assert w2.selected_feature == 3 and w2._card["feature"] == 3


def _page(widget, tmp_path, **export):
    path = tmp_path / "page.html"
    widget.to_html(path, **export)
    return path.as_uri()


def test_exported_dashboard_navigates_between_included_features(setup, tmp_path, chromium):
    model, sae, stats = setup
    f = _live_feature(stats)
    w = sw.FeatureDashboard(stats, model=model, sae=sae, feature=f)
    neighbour = int(w._card["neighbours"][0][0])
    url = _page(w, tmp_path)
    b = chromium
    page = b.new_page()
    watch = PageWatch(page)
    page.goto(url)
    page.wait_for_selector(f".saew-card[data-feature='{f}']")
    assert page.locator(".saew-top-examples .saew-example").count() == len(w._card["top"])
    # the histograms have labelled axes with short, round tick values
    hist = page.locator(".saew-chart").first
    assert hist.locator(".saew-y-label").text_content() == "tokens"
    assert "activation" in hist.locator(".saew-x-label").text_content()
    ticks = page.locator(".saew-chart .saew-tick").all_text_contents()
    assert ticks and all(re.fullmatch(r"-?\d+(\.\d+)?k?", t) and len(t) <= 6 for t in ticks)
    assert page.locator(".saew-query").is_disabled()  # no kernel in a file
    # hover the focus token of the first top example: the tooltip shows its value
    page.hover(".saew-top-examples .saew-example >> nth=0 >> .saew-focus")
    page.wait_for_selector(".saew-tooltip:not([hidden]) .saew-tip-value")
    shown = float(page.inner_text(".saew-tooltip .saew-tip-value"))
    assert shown == pytest.approx(float(stats.top_values[f, 0]), abs=0.01)
    page.click(f".saew-related-item[data-feature='{neighbour}'] >> nth=0")
    page.wait_for_selector(f".saew-card[data-feature='{neighbour}']")
    # a feature the page does not carry: a clear message, the card stays
    carried = w._state_for_export()["_cards"]
    missing = next(g for g in range(stats.d_sae) if str(g) not in carried)
    page.fill(".saew-picker", str(missing))
    page.press(".saew-picker", "Enter")
    page.wait_for_selector(".saew-notice:has-text('not included in this page')")
    assert page.locator(f".saew-card[data-feature='{neighbour}']").count() == 1
    assert watch.errors == [] and watch.network == []


def test_exported_dead_feature_says_so(setup, tmp_path, chromium):
    stats = setup[2]
    url = _page(sw.FeatureDashboard(stats, feature=DEAD, labels=None), tmp_path)
    b = chromium
    page = b.new_page()
    watch = PageWatch(page)
    page.goto(url)
    page.wait_for_selector(f".saew-card[data-feature='{DEAD}']")
    assert "never fired" in page.inner_text(".saew-card-head")
    assert page.locator(".saew-dead-banner").count() == 1
    # only the logit-effect histogram: no empty activation histogram, no example panels
    assert page.locator(".saew-chart").count() == 1
    assert page.locator(".saew-example").count() == 0
    assert watch.errors == []


def test_exported_browser_filters_and_opens(setup, tmp_path, chromium):
    model, sae, stats = setup
    labels = {f: f"feature-{f}" for f in range(stats.d_sae)}
    labels[5] = HOSTILE
    w = sw.FeatureBrowser(model, sae, stats, labels=labels)
    w.query = "the green box"
    w.wait()
    top = [row[0] for row in w._probe["top"]]
    features = sorted({5, *top[:6]})
    url = _page(w, tmp_path, features=features)
    b = chromium
    page = b.new_page()
    watch = PageWatch(page)
    page.goto(url)
    page.wait_for_selector(".saew-browser[data-ready='true']")
    assert page.locator(".saew-list .saew-row").count() == len(features)
    # the last typed text's result came along: its strongest features as chips
    chips = page.locator(".saew-probe .saew-chip")
    assert chips.first.get_attribute("data-feature") == str(top[0])
    page.fill(".saew-filter", "feature-")
    rows = page.locator(".saew-list .saew-row")
    expect(rows).to_have_count(len(features) - 1)  # waits for the debounced filter
    # the matched word is marked inside the label, as text
    assert rows.first.locator("mark.saew-match").text_content() == "feature"
    assert rows.first.get_attribute("data-match") == "label"
    page.fill(".saew-filter", "<img")
    expect(rows).to_have_count(1)
    assert HOSTILE in page.inner_text(".saew-list")
    assert rows.first.locator("mark.saew-match").text_content() == "img"
    page.click(".saew-list .saew-row >> nth=0")
    page.wait_for_selector(".saew-browser[data-view='feature'] .saew-card[data-feature='5']")
    page.click(".saew-back")
    page.wait_for_selector(".saew-browser[data-view='search']")
    assert page.evaluate("() => window.__pwned") is None
    assert page.locator(".saew-root img").count() == 0
    assert watch.errors == [] and watch.network == []
