// One row per steered feature: mode, strength slider, sweep and remove. A released slider
// waits a moment for another move, then saves every row's strength and mode at once.
import { clear, h } from "../lib/dom.js";
import { readTask } from "../lib/task.js";
import {
  editedRows,
  MODES,
  nearestStop,
  rowKey,
  rowStops,
  rowsAtStop,
  sameKeys,
  shortSite,
  strengthText,
  withoutRow,
} from "./state.js";

const COMMIT_DELAY_MS = 150; // a released slider waits this long for another move

export function featureRows(model, { off, offTitle }) {
  const node = h("div", { class: "saew-steer-rows" });
  let commitTimer = null;
  let cancelSent = false;
  let views = [];
  // An exported page may carry texts at a few strengths per row: its sliders then move
  // between those stops and show their texts, without a kernel.
  const exported = model.get("rows") || [];

  const commit = () => {
    clearTimeout(commitTimer);
    commitTimer = setTimeout(() => {
      const edits = views.map((v) => ({ strength: v.value(), mode: v.mode() }));
      cancelSent = false;
      model.set("rows", editedRows(model.get("rows"), edits));
      model.save_changes();
    }, COMMIT_DELAY_MS);
  };

  function rowView(row, index) {
    const stops = off ? rowStops(model.get("_precomputed"), index) : null;
    const slider = h("input", {
      class: "saew-steer-slider",
      type: "range",
      min: -row.limit,
      max: row.limit,
      step: row.limit / 100,
      "aria-label": `strength of feature ${row.feature}`,
      disabled: (off && !stops) || row.mode === "ablate" || undefined,
      title: stops
        ? `this page carries the text at ${stops.stops.length} strengths: ${stops.stops.join(", ")}`
        : offTitle,
      dataset: stops ? { stops: stops.stops.join(",") } : {},
    });
    slider.value = row.strength;
    const value = h("span", { class: "saew-steer-value" }, strengthText(row, row.strength));
    const mode = h(
      "select",
      { class: "saew-steer-mode", "aria-label": "mode", disabled: off },
      MODES.map((m) => h("option", { value: m }, m)),
    );
    mode.value = row.mode;
    const sweep = h(
      "button",
      {
        class: "saew-steer-sweep",
        type: "button",
        disabled: off || row.mode === "ablate" || undefined,
        title: "concept and fluency across strengths",
      },
      "sweep",
    );
    const remove = h(
      "button",
      { class: "saew-steer-remove", type: "button", disabled: off, "aria-label": "remove feature" },
      "✕",
    );
    slider.addEventListener("input", () => {
      if (stops) slider.value = stops.stops[nearestStop(stops.stops, Number(slider.value))];
      value.textContent = strengthText({ ...row, mode: mode.value }, Number(slider.value));
      // a slider moving again makes the run in flight pointless: stop it now
      if (!cancelSent && readTask(model.get("_task")).state === "running") {
        model.send({ type: "cancel_task" });
        cancelSent = true;
      }
    });
    slider.addEventListener("change", () => {
      if (!stops) return commit();
      const k = nearestStop(stops.stops, Number(slider.value));
      model.set("rows", rowsAtStop(exported, index, stops.stops[k]));
      model.set("_steered", { ...stops.texts[k], run: model.get("_run") });
    });
    mode.addEventListener("change", () => {
      slider.disabled = mode.value === "ablate";
      sweep.disabled = mode.value === "ablate";
      value.textContent = strengthText({ ...row, mode: mode.value }, Number(slider.value));
      commit();
    });
    sweep.addEventListener("click", () => model.send({ type: "sweep", row: index }));
    remove.addEventListener("click", () => {
      model.set("rows", withoutRow(model.get("rows"), index));
      model.save_changes();
    });
    const name = h(
      "span",
      { class: "saew-steer-name" },
      h("b", {}, `#${row.feature}`),
      " ",
      h("span", { class: "saew-steer-label" }, row.label || "(no label)"),
      " ",
      h("span", { class: "saew-muted" }, shortSite(row.site)),
    );
    return {
      node: h(
        "div",
        { class: "saew-steer-row", dataset: { feature: row.feature, site: row.site } },
        name,
        mode,
        slider,
        value,
        sweep,
        remove,
      ),
      key: rowKey(row),
      value: () => Number(slider.value),
      mode: () => mode.value,
      update(next) {
        if (document.activeElement !== slider || stops) slider.value = next.strength;
        mode.value = next.mode;
        slider.disabled = (off && !stops) || next.mode === "ablate";
        sweep.disabled = off || next.mode === "ablate"; // nothing to sweep once ablated
        value.textContent = strengthText(next, next.strength);
        row = next;
      },
    };
  }

  function paint() {
    const rows = model.get("rows") || [];
    const keys = views.map((v) => v.key);
    if (sameKeys(rows, keys)) {
      for (const [i, r] of rows.entries()) views[i].update(r); // in place: keeps keyboard focus
      return;
    }
    views = rows.map(rowView);
    clear(node);
    if (!rows.length) {
      node.append(h("div", { class: "saew-empty" }, "no features yet: search below to add one"));
    }
    node.append(...views.map((v) => v.node));
  }

  return {
    node,
    paint,
    dispose() {
      clearTimeout(commitTimer);
    },
  };
}
