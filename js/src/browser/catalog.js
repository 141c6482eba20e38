// The catalog: every feature as a row, filtered by label, promoted token or id, and sorted.
import { clear, h } from "../lib/dom.js";
import { fmt, percent } from "../lib/format.js";
import { countText, rowLabel, searchCatalog } from "./state.js";

const FILTER_DELAY_MS = 120; // re-filter once typing pauses, not per key

export function catalogList({ catalog, available, open }) {
  const filter = h("input", {
    class: "saew-filter",
    type: "search",
    placeholder: "filter by label or token",
    "aria-label": "filter",
  });
  const sort = h(
    "select",
    { class: "saew-sort", "aria-label": "sort by" },
    h("option", { value: "density" }, "most frequent"),
    h("option", { value: "max" }, "strongest"),
    h("option", { value: "id" }, "id"),
  );
  const count = h("span", { class: "saew-muted saew-count" });
  const list = h("div", { class: "saew-list", role: "list" });
  const head = h(
    "div",
    { class: "saew-row saew-row-head" },
    h("span", {}, "id"),
    h("span", {}, "label"),
    h("span", {}, "promotes"),
    h("span", {}, "density"),
    h("span", {}, "max"),
  );

  function row(f) {
    return h(
      "button",
      { class: "saew-row", role: "listitem", dataset: { feature: f }, onclick: () => open(f) },
      h("span", { class: "saew-tip-id" }, `#${f}`),
      h("span", { class: "saew-row-label" }, rowLabel(catalog, f)),
      h("span", { class: "saew-row-tokens", title: "tokens it promotes" }, catalog.promoted[f]),
      h("span", { class: "saew-num" }, percent(catalog.density[f])),
      h("span", { class: "saew-num" }, fmt(catalog.max[f])),
    );
  }

  function paint() {
    const found = searchCatalog(catalog, available, filter.value, sort.value);
    count.textContent = countText(found);
    clear(list).append(...found.rows.map(row));
  }

  let timer = null;
  filter.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(paint, FILTER_DELAY_MS);
  });
  sort.addEventListener("change", paint);
  return {
    controls: h("div", { class: "saew-controls" }, filter, sort, count),
    head,
    list,
    paint,
    dispose() {
      clearTimeout(timer);
    },
  };
}
