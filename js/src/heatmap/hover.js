// Hovering a token shows its strongest features; clicking pins the tooltip (its features can
// then be clicked) and selects the token (Escape or a click outside the view unpins).
import { h } from "../lib/dom.js";
import { fmt, SINK_NOTE, visibleText } from "../lib/format.js";
import { labelOf, locate, TOP_IN_TOOLTIP } from "./state.js";

export function tokenHover({ model, docs, tooltip, tokens, offsets, site, onPick, sinks }) {
  function tokenAt(target) {
    const span = target.closest ? target.closest(".saew-tok") : null;
    return span && span.saewToken !== undefined ? span : null;
  }

  function featureList(t) {
    const features = site().row(t, TOP_IN_TOOLTIP);
    if (!features.length) return h("div", { class: "saew-empty" }, "no active features");
    const labels = model.get("labels");
    const name = model.get("site");
    return h(
      "ul",
      { class: "saew-tip-list" },
      features.map(([f, v]) =>
        h(
          "li",
          {},
          h(
            "button",
            { class: "saew-tip-feature", dataset: { feature: f }, onclick: () => onPick(f) },
            h("span", { class: "saew-tip-id" }, `#${f}`),
            h("span", { class: "saew-tip-label" }, labelOf(labels, name, f)),
            h("span", { class: "saew-tip-value" }, fmt(v)),
          ),
        ),
      ),
    );
  }

  function tokenTip(span) {
    const t = span.saewToken;
    const [d, pos] = locate(offsets, t);
    return h(
      "div",
      {},
      h("div", { class: "saew-tip-token" }, visibleText(tokens[d][pos])),
      h("div", { class: "saew-tip-where" }, `doc ${d} · token ${pos}`),
      sinks?.has(t) ? h("div", { class: "saew-tip-sink" }, SINK_NOTE) : null,
      featureList(t),
    );
  }

  docs.addEventListener("mouseover", (event) => {
    const span = tokenAt(event.target);
    if (span && !tooltip.pinned) tooltip.show(span, tokenTip(span));
  });
  docs.addEventListener("click", (event) => {
    const span = tokenAt(event.target);
    if (!span) return;
    tooltip.pin(span, tokenTip(span));
    for (const old of docs.querySelectorAll(".saew-tok-selected")) {
      old.classList.remove("saew-tok-selected");
    }
    span.classList.add("saew-tok-selected");
    model.set("selected_token", locate(offsets, span.saewToken));
    model.save_changes();
  });
}
