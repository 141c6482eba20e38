"""TokenHeatmap: traits, validation, escaping, and the exported page in headless Chromium."""

import numpy as np
import pytest
import traitlets
from browser import PageWatch
from tiny import tiny_model

import saewidgets as sw
from saewidgets.analysis.trace import FeatureTrace, SiteFeatures
from saewidgets.widgets.serialization import pack, state_json, unpack

SITE = "blocks.1.hook_resid_post"
HOSTILE = [
    "<script>window.__pwned = 1</script>",
    '<img src=x onerror="window.__pwned=2">',
    "</script><script>window.__pwned=3</script>",
    " plain",
    "\n",
    "<0xE2>",
]


def _trace_of(token_texts, d_sae=8, rows=None):
    """A FeatureTrace with given token strings; feature (i % d_sae) fires on token i."""
    n = sum(len(doc) for doc in token_texts)
    counts = np.ones(n, dtype=np.int64) if rows is None else rows
    indices = (np.arange(n) % d_sae).astype(np.int32)[: int(counts.sum())]
    sf = SiteFeatures(
        SITE,
        d_sae,
        np.concatenate([[0], np.cumsum(counts)]),
        indices,
        np.linspace(1, 2, len(indices)).astype(np.float32),
        np.zeros(n, np.float32),
        np.ones(n, np.float32),
    )
    return FeatureTrace(
        texts=["".join(d) for d in token_texts],
        token_ids=[np.arange(len(d)) for d in token_texts],
        token_texts=[list(d) for d in token_texts],
        site_features={SITE: sf},
    )


@pytest.fixture(scope="module")
def real_trace():
    model = tiny_model("llama")
    saes = {
        SITE: sw.SAE(32, 96, "topk", k=6, seed=0),
        "blocks.2.hook_resid_post": sw.SAE(32, 64, "relu", seed=1),
    }
    return sw.trace(model, ["Hello world, this is a test.", "Second\tdoc\nwith lines"], saes)


def test_pack_round_trip_and_no_float_lists():
    a = np.arange(12, dtype=np.float64).reshape(3, 4)
    packed = pack(a)
    assert packed["dtype"] == "float32" and isinstance(packed["data"], bytes)
    np.testing.assert_array_equal(unpack(packed), a.astype(np.float32))
    assert pack(np.arange(3, dtype=np.int64))["dtype"] == "int32"


def test_heatmap_state_is_binary_and_complete(real_trace):
    w = sw.TokenHeatmap(real_trace)
    assert w.site == SITE and w.selected_feature == int(real_trace.top_features(k=1).feature[0])
    # the default feature is ranked without the first positions, which are sent as sinks
    assert set(w._sinks) >= {int(o) for o in real_trace.doc_offsets[:-1]}
    payload = w._sites[SITE]
    assert {"indptr", "indices", "values"} <= set(payload)
    assert all(isinstance(payload[k]["data"], bytes) for k in ("indptr", "indices", "values"))
    np.testing.assert_allclose(
        unpack(payload["values"]), real_trace.site_features[SITE].values, rtol=1e-3
    )
    assert w.tokens == real_trace.token_texts
    assert set(w._summary) == set(real_trace.sites)


def test_heatmap_validation(real_trace):
    w = sw.TokenHeatmap(real_trace)
    with pytest.raises(traitlets.TraitError, match=r"feature 96 is out of range.*0\.\.95"):
        w.selected_feature = 96
    with pytest.raises(traitlets.TraitError, match="not in this trace"):
        w.site = "blocks.0.hook_resid_post"
    with pytest.raises(IndexError, match="out of range"):
        w.selected_token = [0, 999]
    with pytest.raises(TypeError, match="needs a FeatureTrace"):
        sw.TokenHeatmap("text")
    with pytest.raises(ValueError, match="not in this trace"):
        sw.TokenHeatmap(real_trace, site="blocks.0.hook_mlp_out")


def test_a_trace_without_active_features_says_so():
    tr = _trace_of([["a", "b", "c"]], rows=np.zeros(3, dtype=np.int64))
    w = sw.TokenHeatmap(tr)
    assert w.selected_feature == -1 and "No feature" in w._message


def test_link_keeps_selection_in_step(real_trace):
    a, b = sw.TokenHeatmap(real_trace), sw.TokenHeatmap(real_trace)
    sw.link(a, b)
    a.selected_feature = 5
    assert b.selected_feature == 5
    b.selected_token = [1, 2]
    assert a.selected_token == [1, 2]
    with pytest.raises(ValueError, match="at least two"):
        sw.link(a)


def test_state_json_cannot_close_the_script_block():
    text = state_json({"tokens": [HOSTILE], "blob": b"\x00\xff"})
    assert "<" not in text and "</script" not in text.lower()
    assert '"$b64"' in text


def _open(page_html, tmp_path, block=True):
    path = tmp_path / "page.html"
    path.write_text(page_html, encoding="utf-8")
    return path.as_uri()


def test_exported_html_renders_offline_and_responds(real_trace, tmp_path, chromium):
    w = sw.TokenHeatmap(real_trace, labels={3: "feature three"})
    url = _open(w.to_html(), tmp_path)
    b = chromium
    page = b.new_page()
    watch = PageWatch(page)
    page.goto(url)
    page.wait_for_selector(".saew-heatmap[data-ready='true']")
    n_tokens = page.locator(".saew-docs .saew-tok").count()
    assert n_tokens == real_trace.n_tokens
    # the first position is marked and its tooltip says why it is left out of rankings
    first = page.locator(".saew-docs .saew-tok >> nth=0")
    assert "saew-sink" in first.get_attribute("class").split()
    page.hover(".saew-docs .saew-tok >> nth=0")
    page.wait_for_selector(".saew-tooltip:not([hidden]) .saew-tip-sink")
    assert "attention sink" in page.inner_text(".saew-tooltip .saew-tip-sink")
    page.hover(".saew-docs .saew-tok >> nth=4")
    page.wait_for_selector(".saew-tooltip:not([hidden]) .saew-tip-feature")
    top = real_trace.top_features(doc=0, pos=4, k=1)
    first = page.locator(".saew-tooltip .saew-tip-feature").first
    assert first.get_attribute("data-feature") == str(int(top.feature[0]))
    # click a feature in the summary strip: it becomes the shaded one
    chip = page.locator(".saew-chip").nth(2)
    feature = int(chip.get_attribute("data-feature"))
    chip.click()
    page.wait_for_selector(f".saew-chip.saew-active[data-feature='{feature}']")
    shaded = page.evaluate(
        "() => [...document.querySelectorAll('.saew-docs .saew-tok')]"
        ".map(s => s.style.background !== '' && s.style.background !== 'transparent')"
    )
    expected = np.concatenate(real_trace.feature(feature)) > 0
    assert shaded == expected.tolist()
    # site switcher
    page.select_option(".saew-site", "blocks.2.hook_resid_post")
    page.wait_for_selector(".saew-chip")
    assert watch.errors == [] and watch.network == []


def test_hostile_tokens_and_labels_render_as_text(tmp_path, chromium):
    tr = _trace_of([HOSTILE])
    w = sw.TokenHeatmap(tr, labels={1: "<b onmouseover=window.__pwned=4>bold</b>"})
    url = _open(w.to_html(), tmp_path)
    b = chromium
    page = b.new_page()
    watch = PageWatch(page)
    page.goto(url)
    page.wait_for_selector(".saew-heatmap[data-ready='true']")
    text = page.inner_text(".saew-docs")
    assert "<script>window.__pwned = 1</script>" in text
    assert "<img src=x onerror=" in text
    page.hover(".saew-docs .saew-tok >> nth=1")
    page.wait_for_selector(".saew-tooltip:not([hidden])")
    assert "<b onmouseover" in page.inner_text(".saew-tooltip")
    assert page.evaluate("() => window.__pwned") is None
    assert page.locator(".saew-root img, .saew-root script, .saew-root b").count() == 0
    assert watch.errors == [] and watch.network == []


def test_feature_picker_rejects_out_of_range_ids(real_trace, tmp_path, chromium):
    url = _open(sw.TokenHeatmap(real_trace).to_html(), tmp_path)
    b = chromium
    page = b.new_page()
    page.goto(url)
    page.wait_for_selector(".saew-heatmap[data-ready='true']")
    page.fill(".saew-picker", "5000")
    page.press(".saew-picker", "Enter")
    page.wait_for_selector(".saew-notice:has-text('0..95')")
