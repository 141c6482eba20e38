// FeatureDashboard: every panel about one feature; neighbours open in place.
import { clear, h } from "../lib/dom.js";
import { featurePane, selectFeature } from "../lib/featurepane.js";
import { applyOnEnter, ownKeys } from "../lib/keys.js";
import { taskStatus } from "../lib/task.js";
import { createTooltip } from "../lib/tooltip.js";
import { metaLine, parseFeatureId } from "./state.js";

export function render({ model, el }) {
  const root = ownKeys(h("div", { class: "saew-root saew-dashboard" }));
  el.appendChild(root);
  const picker = h("input", {
    class: "saew-picker",
    type: "text",
    placeholder: "go to feature id",
    "aria-label": "feature id",
  });
  applyOnEnter(picker);
  const notice = h("span", { class: "saew-notice", role: "status" });
  const controls = h(
    "div",
    { class: "saew-controls" },
    picker,
    notice,
    h("span", { class: "saew-muted" }, metaLine(model.get("_meta") || {})),
  );
  const body = h("div", { class: "saew-body" });
  root.append(controls, body);
  const tooltip = createTooltip(root);
  const pane = featurePane(model, { tooltip, notice });
  const task = taskStatus(model, { errorNode: notice, claimed: pane.box.claims });
  controls.insertBefore(task.node, notice.nextSibling);
  body.append(pane.node);
  picker.addEventListener("change", () => {
    const pick = parseFeatureId(picker.value, model.get("d_sae"));
    if (pick.error) notice.textContent = pick.error;
    else selectFeature(model, notice, pick.feature);
  });
  root.dataset.ready = "true";
  return () => {
    task.dispose();
    pane.dispose();
    tooltip.dispose();
    clear(root);
  };
}
