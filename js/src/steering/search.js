// Search to add: the kernel answers `_search` with matching features, ranked by the search rule
// (saewidgets/analysis/search.py, the same as lib/search.js) and saying what matched; a click
// adds one.
import { clear, h } from "../lib/dom.js";
import { applyOnEnter } from "../lib/keys.js";
import { highlighted, matchNote } from "../lib/matchview.js";
import { shortSite } from "./state.js";

export function featureSearch(model, { live, off }) {
  const input = h("input", {
    class: "saew-steer-search",
    type: "search",
    placeholder: live
      ? "add a feature: words of a label or token, or an id"
      : "adding features needs a running Python kernel",
    "aria-label": "search features to add",
    disabled: off,
  });
  applyOnEnter(input);
  const hits = h("div", { class: "saew-steer-results" });
  input.addEventListener("change", () => {
    model.set("_search", input.value);
    model.save_changes();
  });

  function hitButton(hit) {
    const matches = hit.matches || [];
    const label = hit.label || "";
    const button = h(
      "button",
      {
        class: "saew-chip saew-steer-hit",
        type: "button",
        title: label || undefined,
        dataset: {
          feature: hit.feature,
          site: hit.site,
          ...(matches.length ? { match: matches[0].field } : {}),
        },
      },
      matches.some((m) => m.field === "id")
        ? h("mark", { class: "saew-match" }, `#${hit.feature}`)
        : `#${hit.feature}`,
      " ",
      matchNote(matches[0]),
      h(
        "span",
        { class: "saew-chip-label" },
        ...(label ? highlighted(label, matches) : [shortSite(hit.site)]),
      ),
    );
    button.addEventListener("click", () => {
      model.send({ type: "add", site: hit.site, feature: hit.feature });
    });
    return button;
  }

  function paint() {
    clear(hits);
    for (const hit of model.get("_search_results") || []) hits.append(hitButton(hit));
  }

  return { node: h("div", { class: "saew-steer-add" }, input, hits), paint };
}
