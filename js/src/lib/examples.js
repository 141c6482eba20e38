// Token rows shaded by one feature's activation; hovering a token shows its value.
import { sequential } from "./colors.js";
import { h } from "./dom.js";
import { fmt, visibleText } from "./format.js";
import { keyboardItems } from "./roving.js";
import { tokenNode, tokenSpan } from "./tokens.js";

/** One example: {tokens, values, focus}; `scale` is the activation that gets full colour. */
export function exampleRow(example, scale, attrs = {}) {
  const row = h("div", { class: "saew-example", ...attrs });
  example.tokens.forEach((text, i) => {
    const span = i === example.focus ? tokenNode(text) : tokenSpan(text);
    const v = example.values[i] || 0;
    if (v > 0 && scale > 0) span.style.background = sequential(v / scale);
    if (i === example.focus) span.classList.add("saew-focus");
    span.saewValue = v;
    span.saewText = text;
    row.appendChild(span);
  });
  return row;
}

/** Delegated hover: any token with a value under `container` shows it in `tooltip`. */
export function valueTooltips(container, tooltip) {
  keyboardItems(container, ".saew-tok", { label: "example tokens: arrow keys show each value" });
  container.addEventListener("mouseover", (event) => {
    const span = event.target.closest ? event.target.closest(".saew-tok") : null;
    if (!span || span.saewValue === undefined) return;
    tooltip.show(
      span,
      h(
        "div",
        { class: "saew-tip-value-box" },
        h("span", { class: "saew-tip-token" }, visibleText(span.saewText)),
        " ",
        h(
          "span",
          { class: "saew-tip-value" },
          span.saewValue > 0 ? fmt(span.saewValue) : "0 (not active)",
        ),
      ),
    );
  });
  container.addEventListener("mouseleave", () => tooltip.hide());
}

/**
 * Token indices of an example's PruningMaxAct core: the `length` tokens ending at its focus
 * (clipped to what the example shows). Empty without a span.
 */
export function coreIndices(focus, length, nTokens) {
  if (!(length > 0) || focus < 0 || focus >= nTokens) return [];
  const first = Math.max(0, focus - length + 1);
  return Array.from({ length: focus - first + 1 }, (_, i) => first + i);
}

/** Mark the cores of the top examples under `container` (`pruned.spans`, in example order). */
export function markCores(container, spans = []) {
  const rows = container.querySelectorAll(".saew-top-examples .saew-example");
  rows.forEach((row, i) => {
    const span = spans[i];
    const tokens = [...row.children];
    for (const t of tokens) t.classList.remove("saew-core");
    if (!span) return;
    const focus = tokens.findIndex((t) => t.classList.contains("saew-focus"));
    for (const k of coreIndices(focus, span.length, tokens.length)) {
      tokens[k].classList.add("saew-core");
    }
    row.dataset.core = String(span.length);
    row.title =
      `core: the last ${span.length} tokens up to the maximum keep ` +
      `${Math.round(span.kept * 100)}% of its activation`;
  });
}
