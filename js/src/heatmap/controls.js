// TokenHeatmap's controls: the site picker, the feature picker (id or label), the legend and
// the strip of the site's most active features.
import { clear, h } from "../lib/dom.js";
import { applyOnEnter } from "../lib/keys.js";
import {
  chipTitle,
  defaultFeature,
  labelOf,
  legendName,
  legendRange,
  parsePick,
  pickOptions,
  siteLabels,
} from "./state.js";

export function controls(model, { onPick }) {
  const siteNames = Object.keys(model.get("_sites") || {});
  const siteSelect = h(
    "select",
    { class: "saew-site", "aria-label": "site" },
    siteNames.map((s) => h("option", { value: s }, s)),
  );
  siteSelect.value = model.get("site");
  siteSelect.addEventListener("change", () => {
    // a feature id means something else at another site: open the new site on its default
    model.set("site", siteSelect.value);
    model.set("selected_feature", defaultFeature(model.get("_summary"), siteSelect.value));
    model.save_changes();
  });
  const listId = `saew-features-${Math.random().toString(36).slice(2)}`;
  const datalist = h("datalist", { id: listId });
  const picker = h("input", {
    class: "saew-picker",
    type: "text",
    list: listId,
    placeholder: "feature id or label",
    "aria-label": "feature",
  });
  applyOnEnter(picker);
  const notice = h("span", { class: "saew-notice", role: "status" });
  const legend = h("span", { class: "saew-legend" });
  const node = h(
    "div",
    { class: "saew-controls" },
    siteNames.length > 1 ? siteSelect : h("span", { class: "saew-site-name" }, model.get("site")),
    picker,
    datalist,
    legend,
    notice,
  );
  const strip = h("div", { class: "saew-strip", "aria-label": "most active features" });

  picker.addEventListener("change", () => {
    const pick = parsePick(picker.value, siteLabels(model.get("labels"), model.get("site")));
    if (!pick) return;
    if (pick.error) notice.textContent = pick.error;
    else onPick(pick.feature);
  });

  /** The strip of chips and the picker's suggestions, for the current site. */
  function fillStrip() {
    clear(strip);
    clear(datalist);
    const site = model.get("site");
    const labels = model.get("labels");
    const summary = model.get("_summary")?.[site] || [];
    if (summary.length === 0) {
      strip.append(h("span", { class: "saew-empty" }, "no feature fires on these documents"));
    }
    for (const [feature, max, count] of summary) {
      const label = labelOf(labels, site, feature);
      strip.append(
        h(
          "button",
          {
            class: "saew-chip",
            dataset: { feature },
            title: chipTitle(max, count),
            onclick: () => onPick(feature),
          },
          `#${feature}`,
          label ? h("span", { class: "saew-chip-label" }, ` ${label}`) : null,
        ),
      );
    }
    for (const value of pickOptions(siteLabels(labels, site))) {
      datalist.append(h("option", { value }));
    }
  }

  /** Mark the selected chip, show the legend (none: feature < 0). */
  function paintSelection(feature, max) {
    for (const chip of strip.querySelectorAll(".saew-chip")) {
      chip.classList.toggle("saew-active", Number(chip.dataset.feature) === feature);
    }
    clear(legend);
    if (feature < 0) {
      if (document.activeElement !== picker) picker.value = "";
      return;
    }
    const label = labelOf(model.get("labels"), model.get("site"), feature);
    legend.append(
      h("span", { class: "saew-legend-name" }, legendName(feature, label)),
      h("span", { class: "saew-legend-bar" }),
      legendRange(max),
    );
    if (document.activeElement !== picker) picker.value = String(feature);
  }

  return {
    node,
    strip,
    notice,
    fillStrip,
    paintSelection,
    syncSite() {
      siteSelect.value = model.get("site");
    },
  };
}
