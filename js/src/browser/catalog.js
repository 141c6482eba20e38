// The catalog: every feature as a row, searched by words (lib/search.js: label, the tokens it
// fires on, the tokens it promotes, id) with the match shown, and sorted.
import { clear, h } from "../lib/dom.js";
import { fmt, percent } from "../lib/format.js";
import { highlighted, matchNote } from "../lib/matchview.js";
import { countText, rowLabel, searchCatalog } from "./state.js";

const FILTER_DELAY_MS = 120; // re-filter once typing pauses, not per key

export function catalogList({ catalog, available, open }) {
  const filter = h("input", {
    class: "saew-filter",
    type: "search",
    placeholder: "search: words of a label or token, or an id",
    "aria-label": "search features",
  });
  const sort = h(
    "select",
    { class: "saew-sort", "aria-label": "sort by" },
    h("option", { value: "match" }, "best match"),
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

  function row(f, hit) {
    const matches = hit ? hit.matches : [];
    const label = rowLabel(catalog, f);
    const idMatched = matches.some((m) => m.field === "id");
    return h(
      "button",
      {
        class: "saew-row",
        role: "listitem",
        // data-match: the field of the match shown (absent without a search)
        dataset: hit ? { feature: f, match: hit.matches[0].field } : { feature: f },
        onclick: () => open(f),
      },
      h(
        "span",
        { class: "saew-tip-id" },
        idMatched ? h("mark", { class: "saew-match" }, `#${f}`) : `#${f}`,
      ),
      h(
        "span",
        { class: "saew-row-label", title: label },
        matchNote(hit?.matches[0]),
        ...(catalog.labels[f] ? highlighted(label, matches) : [label]),
      ),
      h("span", { class: "saew-row-tokens", title: "tokens it promotes" }, catalog.promotedText[f]),
      h("span", { class: "saew-num" }, percent(catalog.density[f])),
      h("span", { class: "saew-num" }, fmt(catalog.max[f])),
    );
  }

  function paint() {
    const found = searchCatalog(catalog, available, filter.value, sort.value);
    count.textContent = countText(found);
    clear(list).append(...found.rows.map((f) => row(f, found.matches.get(f))));
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
