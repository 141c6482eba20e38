// Search by inference: the typed text's tokens, shaded by the hovered feature chip; hovering a
// token lists its strongest features (a click pins the list, to open one of them).
import { clear, h } from "../lib/dom.js";
import { fmt, visibleText } from "../lib/format.js";
import { decodeProbe } from "../lib/probe.js";
import { focusTooltip, keyboardItems } from "../lib/roving.js";
import { tokenSpan } from "../lib/tokens.js";
import { chipTitle, emptyTokenText, probeShading, TOP_PER_TOKEN } from "./state.js";

export function probeArea(model, { catalog, tooltip, open }) {
  const node = h("div", { class: "saew-probe" });
  const { labels } = catalog;

  function featureButton(f, value) {
    return h(
      "button",
      { class: "saew-tip-feature", dataset: { feature: f }, onclick: () => open(f) },
      h("span", { class: "saew-tip-id" }, `#${f}`),
      h("span", { class: "saew-tip-label" }, labels[f] || ""),
      h("span", { class: "saew-tip-value" }, fmt(value)),
    );
  }

  function tokenTip(probe, t) {
    const rows = probe.csr.row(t, TOP_PER_TOKEN);
    return h(
      "div",
      {},
      h("div", { class: "saew-tip-token" }, visibleText(probe.tokens[t])),
      rows.length
        ? h(
            "ul",
            { class: "saew-tip-list" },
            rows.map(([f, v]) => h("li", {}, featureButton(f, v))),
          )
        : h("div", { class: "saew-empty" }, emptyTokenText(probe.skipped.has(t))),
    );
  }

  function chip(f, v, n, shade) {
    const button = h(
      "button",
      {
        class: "saew-chip",
        dataset: { feature: f },
        title: chipTitle(v, n),
        onclick: () => open(f),
      },
      `#${f}`,
      labels[f] ? h("span", { class: "saew-chip-label" }, ` ${labels[f]}`) : null,
    );
    button.addEventListener("mouseenter", () => shade(f));
    return button;
  }

  function paint() {
    tooltip.hide(); // the text under it is replaced
    clear(node);
    const probe = decodeProbe(model.get("_probe"));
    if (!probe) return;
    const tokens = h("div", { class: "saew-example saew-probe-tokens" });
    const spans = probe.tokens.map((text, t) => {
      const span = tokenSpan(text);
      span.saewToken = t;
      if (probe.skipped.has(t)) span.classList.add("saew-skipped");
      tokens.appendChild(span);
      return span;
    });
    const shade = (f) => {
      const colours = probeShading(probe, f, catalog.max);
      spans.forEach((s, t) => {
        s.style.background = colours[t];
      });
    };
    const tokenAt = (target) => {
      const span = target.closest ? target.closest(".saew-tok") : null;
      return span && span.saewToken !== undefined ? span : null;
    };
    tokens.addEventListener("mouseover", (event) => {
      const span = tokenAt(event.target);
      if (span && !tooltip.pinned) tooltip.show(span, tokenTip(probe, span.saewToken));
    });
    // a click pins the tooltip, so its features can be clicked
    tokens.addEventListener("click", (event) => {
      const span = tokenAt(event.target);
      if (span) tooltip.pin(span, tokenTip(probe, span.saewToken));
    });
    keyboardItems(tokens, ".saew-tok", {
      label: "tokens: arrow keys move, Enter opens the token's features",
      onActivate: () => focusTooltip(tokens.closest(".saew-root") || tokens, tokens),
    });
    const chips = h(
      "div",
      { class: "saew-strip" },
      probe.top.length
        ? probe.top.map(([f, v, n]) => chip(f, v, n, shade))
        : h("span", { class: "saew-empty" }, "no feature fires on this text"),
    );
    node.append(
      h(
        "div",
        { class: "saew-muted" },
        "Strongest features on this text (hover to shade, click to open):",
      ),
      chips,
      tokens,
    );
    shade(probe.top.length ? probe.top[0][0] : -1);
  }

  return { node, paint };
}
