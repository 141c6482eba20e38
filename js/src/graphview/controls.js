// GraphView's controls: the pruning slider, the shown-node count, the target picker, the
// graph's scores and the kernel's task status.
import { h } from "../lib/dom.js";
import { fmt } from "../lib/format.js";
import { targetLabel, thresholdText } from "./state.js";

const SCORES_TITLE =
  "replacement: share of the targets' influence reaching input tokens rather than error nodes; completeness: share of node inputs explained without errors";

export function controls(model, g, { status }) {
  const slider = h("input", {
    type: "range",
    min: "0.05",
    max: "1",
    step: "0.01",
    class: "saew-graph-threshold",
    "aria-label": "pruning threshold",
  });
  const sliderValue = h("span", { class: "saew-graph-threshold-value" });
  const count = h("span", { class: "saew-graph-count", role: "status" });
  const targetSelect = h(
    "select",
    { class: "saew-graph-target", "aria-label": "target" },
    h("option", { value: "-1" }, "all targets (by probability)"),
    ...g.targets.map((t, k) => h("option", { value: String(k) }, targetLabel(g, t))),
  );
  const scores = g.scores || {};
  const node = h(
    "div",
    { class: "saew-controls" },
    h("label", {}, "show nodes within ", slider, sliderValue, " of influence"),
    count,
    h("label", {}, "rank by ", targetSelect),
    h(
      "span",
      { class: "saew-muted", title: SCORES_TITLE },
      `replacement ${fmt(scores.replacement)} · completeness ${fmt(scores.completeness)} · ${g.n_edges_total.toLocaleString()} edges`,
    ),
    status,
  );

  slider.addEventListener("input", () => {
    sliderValue.textContent = thresholdText(Number(slider.value));
    model.set("node_threshold", Number(slider.value));
    model.save_changes();
  });
  targetSelect.addEventListener("change", () => {
    model.set("target", Number(targetSelect.value));
    model.save_changes();
  });

  return {
    node,
    count,
    paint() {
      slider.value = String(model.get("node_threshold"));
      sliderValue.textContent = thresholdText(model.get("node_threshold"));
      targetSelect.value = String(model.get("target"));
    },
  };
}
