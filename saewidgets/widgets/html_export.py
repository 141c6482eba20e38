"""The page `SAEWidget.to_html` writes: a tiny model host over inlined state, no network."""

from __future__ import annotations

import base64
import html

from saewidgets.widgets.serialization import state_json

# The host implements the part of the anywidget model interface the views use. The bundle is
# imported from a blob: URL (made in the page, not fetched), so the file works from disk.
_RUNTIME = r"""
const read = (id) => document.getElementById(id).textContent;
const revive = (v) => {
  if (Array.isArray(v)) return v.map(revive);
  if (v && typeof v === "object") {
    if (typeof v.$b64 === "string") {
      const bin = atob(v.$b64);
      const bytes = new Uint8Array(bin.length);
      for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
      return new DataView(bytes.buffer);
    }
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, revive(x)]));
  }
  return v;
};
const makeModel = (state) => {
  const listeners = new Map();
  return {
    get: (name) => state[name],
    set: (name, value) => {
      state[name] = value;
      for (const cb of listeners.get(`change:${name}`) || []) cb();
    },
    on: (event, cb) => {
      if (!listeners.has(event)) listeners.set(event, []);
      listeners.get(event).push(cb);
    },
    off: (event, cb) => {
      if (!event) return listeners.clear();
      listeners.set(event, (listeners.get(event) || []).filter((x) => cb && x !== cb));
    },
    save_changes: () => {},
    send: () => console.info("saewidgets: this page has no kernel; nothing was sent"),
  };
};
const experimental = {
  invoke: () => Promise.reject(new Error("this needs a running Python kernel")),
};
const importBundle = async (id) => {
  const source = atob(read(id));
  const url = URL.createObjectURL(new Blob([source], { type: "text/javascript" }));
  return (await import(url)).default;
};
"""

_HOST = (
    _RUNTIME
    + r"""
const model = makeModel(revive(JSON.parse(read("saew-state"))));
const widget = await importBundle("saew-bundle");
const el = document.getElementById("saew-widget");
performance.mark("saew-render-start");
if (widget.initialize) await widget.initialize({ model, experimental });
await widget.render({ model, el, experimental });
"""
)

_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="{csp}">
<title>{title}</title>
<style>
body {{ margin: 16px; background: #fff; color: #1f2328; }}
@media (prefers-color-scheme: dark) {{ body {{ background: #0d1117; color: #e6edf3; }} }}
{css}
</style>
</head>
<body>
<div id="saew-widget"></div>
<script type="application/json" id="saew-state">{state}</script>
<script type="application/octet-stream" id="saew-bundle">{bundle}</script>
<script type="module">{host}</script>
</body>
</html>
"""


# Nothing may be fetched: only the inline host script, the blob: module it makes, inline styles.
_CSP = (
    "default-src 'none'; script-src 'unsafe-inline' blob:; style-src 'unsafe-inline'; img-src data:"
)


def render_page(*, bundle: str, css: str, state: dict, title: str) -> str:
    return _PAGE.format(
        title=html.escape(title),
        csp=_CSP,
        css=css.replace("</", "<\\/"),
        state=state_json(state),
        bundle=base64.b64encode(bundle.encode("utf-8")).decode("ascii"),
        host=_HOST,
    )


# Several views in one page, each with its own model over its own state; `links` keep traits
# equal across views (a selection in one reaches the others), optionally only while another
# trait (say, the site) is equal on both sides.
_MULTI_HOST = (
    _RUNTIME
    + r"""
const views = JSON.parse(read("saew-views"));
const models = views.map((_, i) => makeModel(revive(JSON.parse(read(`saew-state-${i}`)))));
for (const link of JSON.parse(read("saew-links"))) {
  for (const [i, name] of link.traits) {
    models[i].on(`change:${name}`, () => {
      const value = models[i].get(name);
      for (const [j, other] of link.traits) {
        if (j === i || models[j].get(other) === value) continue;
        if (link.same && models[i].get(link.same) !== models[j].get(link.same)) continue;
        models[j].set(other, value);
      }
    });
  }
}
const modules = {};
performance.mark("saew-render-start");
for (const [i, view] of views.entries()) {
  modules[view.bundle] ||= await importBundle(`saew-bundle-${view.bundle}`);
  const widget = modules[view.bundle];
  const el = document.getElementById(`saew-view-${i}`);
  if (widget.initialize) await widget.initialize({ model: models[i], experimental });
  await widget.render({ model: models[i], el, experimental });
}
window.saewRenderedAt = performance.now(); // ms from navigation to every view rendered
document.body.dataset.ready = "true";
"""
)

_MULTI_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="{csp}">
<title>{title}</title>
<style>
body {{ margin: 16px; background: #fff; color: #1f2328; font-family: system-ui, sans-serif; }}
@media (prefers-color-scheme: dark) {{ body {{ background: #0d1117; color: #e6edf3; }} }}
.saew-page-head {{ margin: 0 0 12px; }}
.saew-page-head h1 {{ font-size: 1.2em; margin: 0 0 4px; }}
.saew-page-row {{ display: flex; gap: 16px; align-items: flex-start; flex-wrap: wrap; }}
.saew-page-row > div {{ flex: 1 1 420px; min-width: 320px; }}
.saew-page-view {{ margin: 0 0 16px; }}
{css}
</style>
</head>
<body>
{head}
{body}
<script type="application/json" id="saew-views">{views}</script>
<script type="application/json" id="saew-links">{links}</script>
{states}
{bundles}
<script type="module">{host}</script>
</body>
</html>
"""


def render_views_page(
    *,
    views: list[dict],
    links: list[dict],
    layout: list[list[int]],
    title: str,
    head_html: str = "",
) -> str:
    """One offline page with several views: ``views`` are ``{"bundle", "css", "state"}``;
    ``layout`` lists rows of view indices (views of one row sit side by side); ``links`` are
    ``{"traits": [[view, trait], ...], "same": trait or None}``. ``head_html`` must already
    be escaped."""
    bundles = {v["bundle_name"]: v["bundle"] for v in views}
    css = "\n".join(dict.fromkeys(v["css"] for v in views))
    body = "\n".join(
        "<div class='saew-page-row'>"
        + "".join(f"<div class='saew-page-view' id='saew-view-{i}'></div>" for i in row)
        + "</div>"
        for row in layout
    )
    states = "\n".join(
        f"<script type='application/json' id='saew-state-{i}'>{state_json(v['state'])}</script>"
        for i, v in enumerate(views)
    )
    scripts = "\n".join(
        f"<script type='application/octet-stream' id='saew-bundle-{name}'>"
        f"{base64.b64encode(source.encode('utf-8')).decode('ascii')}</script>"
        for name, source in bundles.items()
    )
    return _MULTI_PAGE.format(
        csp=_CSP,
        title=html.escape(title),
        css=css.replace("</", "<\\/"),
        head=head_html,
        body=body,
        views=state_json([{"bundle": v["bundle_name"]} for v in views]),
        links=state_json(links),
        states=states,
        bundles=scripts,
        host=_MULTI_HOST,
    )
