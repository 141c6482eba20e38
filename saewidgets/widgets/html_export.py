"""The page `SAEWidget.to_html` writes: a tiny model host over inlined state, no network."""

from __future__ import annotations

import base64
import html

from saewidgets.widgets.serialization import state_json

# The host implements the part of the anywidget model interface the views use. The bundle is
# imported from a blob: URL (made in the page, not fetched), so the file works from disk.
_HOST = r"""
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
const state = revive(JSON.parse(read("saew-state")));
const listeners = new Map();
const model = {
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
const experimental = {
  invoke: () => Promise.reject(new Error("this needs a running Python kernel")),
};
const source = atob(read("saew-bundle"));
const url = URL.createObjectURL(new Blob([source], { type: "text/javascript" }));
const widget = (await import(url)).default;
const el = document.getElementById("saew-widget");
performance.mark("saew-render-start");
if (widget.initialize) await widget.initialize({ model, experimental });
await widget.render({ model, el, experimental });
"""

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
