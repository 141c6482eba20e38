// The catalog: every feature as a row, searched by words (lib/search.js: label, the tokens it
// fires on, the tokens it promotes, id) with the match shown, and sorted.
import { clear, h } from "../lib/dom.js";
import { fmt, percent } from "../lib/format.js";
import { highlighted, matchNote } from "../lib/matchview.js";
import { countText, rowLabel, searchCatalog } from "./state.js";

const FILTER_DELAY_MS = 120; // re-filter once typing pauses, not per key

function scoreCell(catalog, f) {
  const value = catalog.detection[f];
  const twin = catalog.twins[f] === 1;
  const text = Number.isNaN(value) ? "—" : value.toFixed(2);
  const title = Number.isNaN(value)
    ? "not scored"
    : `detection ${value.toFixed(2)} (0.5 is chance)`;
  return h(
    "span",
    {
      class: "saew-num saew-row-score",
      title: twin ? `${title}; another feature's label reads the same` : title,
    },
    twin ? `${text} ≡` : text,
  );
}

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
    h("option", { value: "detection" }, "best label score"),
    h("option", { value: "id" }, "id"),
  );
  const quality = h(
    "select",
    { class: "saew-quality", "aria-label": "filter by label score" },
    h("option", { value: "all" }, "all labels"),
    h("option", { value: "detection>=0.8" }, "detection ≥ 0.8"),
    h("option", { value: "detection>=0.7" }, "detection ≥ 0.7"),
    h("option", { value: "detection<0.6" }, "detection < 0.6 (doubtful)"),
    h("option", { value: "twins" }, "labels shared by several features"),
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
    h("span", { title: "detection score of the label (0.5 is chance)" }, "label score"),
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
      scoreCell(catalog, f),
    );
  }

  function paint() {
    const found = searchCatalog(
      catalog,
      available,
      filter.value,
      sort.value,
      undefined,
      quality.value,
    );
    count.textContent = countText(found);
    clear(list).append(...found.rows.map((f) => row(f, found.matches.get(f))));
  }

  let timer = null;
  filter.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(paint, FILTER_DELAY_MS);
  });
  sort.addEventListener("change", paint);
  quality.addEventListener("change", paint);
  return {
    controls: h("div", { class: "saew-controls" }, filter, sort, quality, count),
    head,
    list,
    paint,
    dispose() {
      clearTimeout(timer);
    },
  };
}
