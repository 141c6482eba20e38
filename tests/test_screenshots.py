"""What a user sees: every view on the embedded model inside JupyterLab, in the light and the
dark theme. Each view's text must stay readable against the notebook behind it (WCAG contrast
≥ 4.5) in both themes, and the screenshots are written for people to look at: to
``$SAEW_SCREENSHOTS`` when set (the README's picture comes from here), else a temporary folder.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from test_jupyter import _run_all, _serve

pytestmark = pytest.mark.browser

VIEWS = {
    "heatmap": ".saew-heatmap",
    "dashboard": ".saew-dashboard",
    "steering": ".saew-steering",
    "graph": ".saew-graph",
}

CELLS = [
    "import saewidgets as sw\nmodel = sw.load_model()\n"
    "site = 'blocks.21.hook_resid_post'\nsae = sw.load_sae('embedded', site=site)\n"
    "stats = sw.feature_stats(model, sae)  # shipped: read, not computed",
    "tr = sw.trace(model, ['The Eiffel Tower is in Paris. It was built for the world fair of"
    " 1889, and millions of visitors climb it every year.', 'def area(r): return 3.14 * r * r'],"
    " sae)\nsw.TokenHeatmap(tr)",
    "sw.FeatureDashboard(stats, model=model, sae=sae, feature=int(tr.top_features(doc=0,"
    " pos=tr.tokens[0].index('·Paris'), k=1).feature[0]))",
    "sw.SteeringPanel(model, sae, features=[1598], prompt='After a long week, we decided to',"
    " max_new_tokens=16)",
    "graph = sw.attribute(model, 'The capital of France is', 'embedded', progress=False)\n"
    "sw.GraphView(graph)",
    "import plotly.express as px\n"
    "sw.themed(px.bar(x=['a', 'b', 'c'], y=[3, 1, 2], title='a figure through sw.themed'))",
]

# WCAG relative luminance and contrast of an element's text against what is painted behind it:
# the translucent backgrounds of the element and its ancestors composited over the first opaque
# one (else white), and the text colour composited over that.
_CONTRAST = """el => {
  const rgba = s => { const v = (s.match(/[\\d.]+/g) || []).map(Number);
                      return v.length === 3 ? [...v, 1] : v; };
  const over = (top, under) => top.slice(0, 3).map((c, i) => c * top[3] + under[i] * (1 - top[3]));
  const lum = ([r, g, b]) => {
    const f = c => { c /= 255; return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  const layers = [];
  for (let e = el; e; e = e.parentElement) {
    const c = rgba(getComputedStyle(e).backgroundColor);
    if (c.length === 4 && c[3] > 0) layers.push(c);
    if (c[3] >= 1) break;
  }
  let bg = [255, 255, 255];
  for (const layer of layers.reverse()) bg = over(layer, bg);
  const fg = over(rgba(getComputedStyle(el).color), bg);
  const [a, b] = [lum(fg), lum(bg)].sort((x, y) => y - x);
  return {ratio: (a + 0.05) / (b + 0.05), fg: lum(fg), bg: lum(bg)};
}"""


# A plotly figure's paper (must be transparent) and its tick text's contrast against what the
# notebook paints behind the figure.
_PLOT_INK = """el => {
  const rgba = s => { const v = (s.match(/[\\d.]+/g) || []).map(Number);
                      return v.length === 3 ? [...v, 1] : v; };
  const lum = ([r, g, b]) => {
    const f = c => { c /= 255; return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  const paper = el.querySelector('.main-svg rect.bg') || el.querySelector('.main-svg');
  const paperFill = rgba(paper.style.fill || getComputedStyle(paper).fill || 'rgba(0,0,0,0)');
  let bg = [255, 255, 255];
  for (let e = el; e; e = e.parentElement) {
    const c = rgba(getComputedStyle(e).backgroundColor);
    if (c[3] >= 1) { bg = c.slice(0, 3); break; }
  }
  const tick = el.querySelector('.xtick text, .ytick text');
  const ink = rgba(tick.style.fill || getComputedStyle(tick).fill);
  const [a, b] = [lum(ink), lum(bg)].sort((x, y) => y - x);
  const opacity = Number.parseFloat(paper.style.fillOpacity || getComputedStyle(paper).fillOpacity);
  return {ratio: (a + 0.05) / (b + 0.05), paper_alpha: (paperFill[3] ?? 1) * opacity};
}"""


def _set_theme(page, name: str, light: bool) -> None:
    page.locator(".lm-MenuBar-itemLabel", has_text="Settings").click()
    page.locator(".lm-Menu-itemLabel", has_text="Theme").first.hover()
    page.locator(".lm-Menu-itemLabel", has_text=name).first.click()
    page.wait_for_selector(
        f"body[data-jp-theme-light='{str(light).lower()}']", state="attached", timeout=30_000
    )


def _shoot(page, selector: str, path: Path, with_tooltip: bool = False) -> None:
    """A picture of one view (and its tooltip, which lives in the top layer beside it)."""
    box = page.locator(selector).first.bounding_box()
    if with_tooltip:
        tip = page.locator(".saew-tooltip:not([hidden])").first.bounding_box()
        right = max(box["x"] + box["width"], tip["x"] + tip["width"])
        bottom = max(box["y"] + box["height"], tip["y"] + tip["height"])
        box = {"x": box["x"], "y": box["y"], "width": right - box["x"], "height": bottom - box["y"]}
    view = page.viewport_size
    clip = {
        "x": max(0, box["x"] - 8),
        "y": max(0, box["y"] - 8),
        "width": min(view["width"], box["width"] + 16),
        "height": min(view["height"], box["height"] + 16),
    }
    page.screenshot(path=str(path), clip=clip)


def test_every_view_readable_in_light_and_dark(tmp_path, chromium):
    from playwright.sync_api import expect

    out = Path(os.environ.get("SAEW_SCREENSHOTS") or tmp_path / "shots")
    out.mkdir(parents=True, exist_ok=True)
    # no "news" toast over the pictures (the server's config folder is tmp_path / "config")
    settings = tmp_path / "config/lab/user-settings/@jupyterlab/apputils-extension"
    settings.mkdir(parents=True)
    (settings / "notification.jupyterlab-settings").write_text('{"fetchNews": "false"}')
    with _serve("lab", tmp_path, CELLS) as url:
        page = chromium.new_page(viewport={"width": 1280, "height": 900})
        _run_all(page, "lab", url)
        page.wait_for_selector(".saew-heatmap[data-ready='true']", timeout=240_000)
        page.wait_for_selector(".saew-dashboard .saew-card", timeout=120_000)
        page.wait_for_selector(
            ".saew-steer-out[data-role='steered'][data-done='true']", timeout=240_000
        )
        page.wait_for_selector(".saew-graph[data-ready='true']", timeout=240_000)
        page.wait_for_selector(".js-plotly-plot .xtick text", timeout=120_000)
        page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']")
        for theme, light in (("JupyterLab Dark", False), ("JupyterLab Light", True)):
            _set_theme(page, theme, light)
            suffix = "light" if light else "dark"
            for name, selector in VIEWS.items():
                root = page.locator(selector).first
                root.scroll_into_view_if_needed()
                found = root.evaluate(_CONTRAST)
                assert found["ratio"] >= 4.5, (theme, name, found)
                assert (found["fg"] < found["bg"]) == light, (theme, name, found)
                if name == "dashboard":  # the signed logit tables (orange / purple numbers)
                    cells = page.locator(".saew-dashboard .saew-logits td").all()
                    worst = min(c.evaluate(_CONTRAST)["ratio"] for c in cells)
                    assert worst >= 4.5, (theme, "logit table", worst)
                if name == "heatmap":  # shaded tokens keep their text readable too
                    worst = min(
                        t.evaluate(_CONTRAST)["ratio"]
                        for t in page.locator(".saew-heatmap .saew-docs .saew-tok").all()
                    )
                    assert worst >= 4.5, (theme, "least readable token", worst)
                    token = page.locator(".saew-heatmap .saew-docs .saew-tok", has_text="Paris")
                    token.first.hover()
                    tip = page.locator(".saew-tooltip:not([hidden])")
                    expect(tip.locator(".saew-tip-feature").first).to_be_visible()
                    found = tip.first.evaluate(_CONTRAST)
                    assert found["ratio"] >= 4.5, (theme, "heatmap tooltip", found)
                    _shoot(page, selector, out / f"heatmap-{suffix}.png", with_tooltip=True)
                    page.mouse.move(0, 0)
                else:
                    _shoot(page, selector, out / f"{name}-{suffix}.png")
            # a plotly figure through sw.themed: the notebook shows through, and its ink reads
            # on both (3:1, the bar for chart text and graphics: one grey cannot reach 4.5 on
            # both white and JupyterLab's near-black)
            plot = page.locator(".js-plotly-plot").first
            plot.scroll_into_view_if_needed()
            found = plot.evaluate(_PLOT_INK)
            assert found["paper_alpha"] == 0, (theme, found)
            assert found["ratio"] >= 3, (theme, "plotly ink", found)
        assert len(list(out.glob("*.png"))) >= 2 * len(VIEWS)
        # item 5: with the chat template the reply is a new turn, shown below the prompt echo
        steered = page.locator(".saew-steer-out[data-role='steered']")
        run = int(steered.get_attribute("data-run"))
        page.locator(".saew-steer-chat").check()
        page.wait_for_selector(
            f".saew-steer-out[data-role='steered'][data-done='true']:not([data-run='{run}'])",
            timeout=240_000,
        )
        assert steered.get_attribute("data-chat") == "true"
        for column in page.locator(".saew-steer-out[data-chat='true']").all():
            echo = column.locator(".saew-steer-prompt-echo").bounding_box()
            reply = column.locator(".saew-steer-text").bounding_box()
            assert reply["y"] >= echo["y"] + echo["height"] - 1, (echo, reply)
