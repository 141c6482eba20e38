// Search to add: the kernel answers `_search` with matching features; a click adds one.
import { clear, h } from "../lib/dom.js";
import { applyOnEnter } from "../lib/keys.js";
import { shortSite } from "./state.js";

export function featureSearch(model, { live, off }) {
  const input = h("input", {
    class: "saew-steer-search",
    type: "search",
    placeholder: live
      ? "add a feature: id, label or token"
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
    const button = h(
      "button",
      {
        class: "saew-chip saew-steer-hit",
        type: "button",
        dataset: { feature: hit.feature, site: hit.site },
      },
      `#${hit.feature} `,
      h("span", { class: "saew-chip-label" }, hit.label || shortSite(hit.site)),
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
