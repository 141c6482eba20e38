// SteeringPanel: a slider per feature, baseline and steered continuations side by side.
// The kernel runs generations; this view edits `rows` and the settings, and shows the newest
// run only (each streamed update carries its run id), so texts from two runs never mix.
import { clear, h } from "../lib/dom.js";
import { ownKeys } from "../lib/keys.js";
import { taskStatus } from "../lib/task.js";
import { outputs } from "./outputs.js";
import { featureRows } from "./rows.js";
import { featureSearch } from "./search.js";
import { settings } from "./settings.js";

export function render({ model, el }) {
  const live = model.get("_live");
  const root = ownKeys(h("div", { class: "saew-root saew-steering" }));
  el.appendChild(root);
  const off = live ? undefined : true;
  const offTitle = live ? undefined : "needs a running Python kernel";

  const error = h("div", { class: "saew-steer-error", role: "alert" });
  const task = taskStatus(model, { className: "saew-steer-status", errorNode: error });
  const form = settings(model, { off, offTitle });
  form.node.append(task.node);
  const rows = featureRows(model, { off, offTitle });
  const search = featureSearch(model, { live, off });
  const out = outputs(model, { live });

  const onRun = () => {
    out.paintBaseline();
    out.paintSteered();
  };
  const handlers = {
    "change:rows": rows.paint,
    "change:_baseline": out.paintBaseline,
    "change:_steered": out.paintSteered,
    "change:_run": onRun,
    "change:_search_results": search.paint,
    "change:_sweep": out.paintSweep,
    "change:prompt": form.syncPrompt,
  };
  for (const [event, fn] of Object.entries(handlers)) model.on(event, fn);

  root.append(form.head, form.node, error, rows.node, search.node, out.node, out.sweepNode);
  rows.paint();
  search.paint();
  onRun();
  out.paintSweep();
  root.dataset.ready = "true";
  return () => {
    rows.dispose();
    task.dispose();
    for (const [event, fn] of Object.entries(handlers)) model.off(event, fn);
    clear(root);
  };
}
