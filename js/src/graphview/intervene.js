// The side panel's intervention: scale the pinned nodes in the real (or frozen) model and show
// each target's actual change next to the graph's prediction.
import { clear, h } from "../lib/dom.js";
import { interveneState, interventionView, multiplierLabel } from "./state.js";

export function intervenePanel(model, g, { error }) {
  const multSelect = h(
    "select",
    { class: "saew-graph-multiplier", "aria-label": "multiplier" },
    ...g.multipliers.map((m) => h("option", { value: String(m) }, multiplierLabel(m))),
  );
  const modeSelect = h(
    "select",
    { class: "saew-graph-mode", "aria-label": "where" },
    h("option", { value: "free" }, "real model"),
    h("option", { value: "frozen" }, "frozen replacement model"),
  );
  const runButton = h("button", { class: "saew-graph-run" }, "intervene on pinned");
  const result = h("div", { class: "saew-graph-result" });
  runButton.addEventListener("click", () => {
    const pins = model.get("pinned") || [];
    if (!pins.length) {
      error.textContent = "pin the nodes to intervene on first";
      return;
    }
    const multiplier = Number(multSelect.value);
    model.set("multiplier", multiplier);
    model.set("mode", modeSelect.value);
    model.save_changes();
    model.send({ type: "intervene", nodes: pins, multiplier, mode: modeSelect.value });
  });
  const node = h(
    "div",
    { class: "saew-graph-intervene" },
    h("h4", {}, "intervene"),
    h("div", { class: "saew-row" }, multSelect, modeSelect, runButton),
    result,
  );

  function paint() {
    clear(result);
    const r = model.get("_intervention") || {};
    if (!r.targets) return;
    result.dataset.run = String(r.run || 0);
    const view = interventionView(r);
    const rows = view.rows.map((row) =>
      h(
        "tr",
        {},
        h("td", {}, row.label),
        h("td", { class: "saew-num" }, row.predicted),
        h("td", { class: "saew-num saew-graph-actual" }, row.actual),
        h("td", { class: "saew-num" }, row.prob),
      ),
    );
    const head = h(
      "tr",
      {},
      h("th", {}, "target"),
      h("th", {}, "graph"),
      h("th", {}, "actual"),
      h("th", {}, "p"),
    );
    result.append(
      h("div", { class: "saew-muted" }, view.summary),
      h("table", { class: "saew-graph-table" }, h("thead", {}, head), h("tbody", {}, ...rows)),
    );
  }

  /** Enable the controls when a kernel with a model can run interventions. */
  function paintControls() {
    const state = interveneState(model.get("_live"), model.get("_can_intervene"));
    runButton.disabled = !state.enabled;
    multSelect.disabled = !state.enabled;
    modeSelect.disabled = !state.enabled;
    if (!state.enabled) runButton.title = state.why;
  }

  return { node, paint, paintControls };
}
