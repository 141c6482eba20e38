// Baseline and steered continuations side by side (newest run only), and the sweep chart.
import { clear, h } from "../lib/dom.js";
import { sweepChart } from "../lib/sweepchart.js";
import { outputState, sweepStrength, sweepTitle, sweepUnit } from "./state.js";

function column(role, title) {
  const text = h("span", { class: "saew-steer-text" });
  const echo = h("span", { class: "saew-steer-prompt-echo" });
  const measures = h("div", { class: "saew-steer-measures" });
  const node = h(
    "section",
    { class: "saew-panel saew-steer-out", dataset: { role, done: "false", run: "-1" } },
    h("h4", { class: "saew-panel-title" }, title),
    h("div", { class: "saew-steer-body" }, echo, text),
    measures,
  );
  return { node, text, echo, measures };
}

export function outputs(model, { live }) {
  const baseline = column("baseline", "Baseline (no edits)");
  const steered = column("steered", "Steered");
  const sweepNode = h("div", { class: "saew-steer-sweepchart" });

  function paintColumn(view, trait) {
    view.echo.textContent = model.get("prompt");
    // With the chat template the reply is a new turn: show it below the prompt, not glued on.
    view.node.dataset.chat = model.get("chat") ? "true" : "false";
    const out = outputState(model.get(trait) || {}, model.get("_run"), live);
    if (out.stale) {
      view.node.dataset.done = "false";
      view.node.classList.add("saew-stale");
      return; // an older run: keep the last text dimmed until the new run streams
    }
    view.node.classList.remove("saew-stale");
    view.node.dataset.run = out.run;
    view.node.dataset.done = out.done ? "true" : "false";
    view.node.dataset.strengths = out.strengths;
    view.text.textContent = out.text;
    clear(view.measures);
    if (!out.done) return;
    view.measures.append(h("div", {}, out.summary));
    for (const m of out.measures) {
      view.measures.append(
        h("div", { class: "saew-steer-measure", dataset: { feature: m.feature } }, m.text),
      );
    }
  }

  function paintSweep() {
    clear(sweepNode);
    const sweep = model.get("_sweep") || {};
    if (!sweep.points?.length) return;
    const strength = sweepStrength(sweepUnit(sweep, model.get("rows") || []));
    sweepNode.append(
      sweepChart(sweep.points, {
        title: sweepTitle(sweep),
        strengthLabel: strength.label,
        strengthText: strength.text,
      }),
    );
  }

  return {
    node: h("div", { class: "saew-steer-outputs" }, baseline.node, steered.node),
    sweepNode,
    paintBaseline: () => paintColumn(baseline, "_baseline"),
    paintSteered: () => paintColumn(steered, "_steered"),
    paintSweep,
  };
}
