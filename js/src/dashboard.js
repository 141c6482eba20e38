// FeatureDashboard: every panel about one feature; neighbours open in place.
import { clear, h } from "./lib/dom.js";
import { featurePane, selectFeature } from "./lib/featurepane.js";
import { createTooltip } from "./lib/tooltip.js";

function render({ model, el }) {
  const root = h("div", { class: "saew-root saew-dashboard" });
  el.appendChild(root);
  const picker = h("input", { class: "saew-picker", type: "text", placeholder: "go to feature id", "aria-label": "feature id" });
  const notice = h("span", { class: "saew-notice", role: "status" });
  const meta = model.get("_meta") || {};
  const controls = h(
    "div",
    { class: "saew-controls" },
    picker,
    notice,
    h("span", { class: "saew-muted" }, `${meta.model || ""} · ${(meta.n_tokens || 0).toLocaleString()} tokens of ${meta.corpus || "?"}`),
  );
  const body = h("div", { class: "saew-body" });
  root.append(controls, body);
  const tooltip = createTooltip(root);
  const pane = featurePane(model, { tooltip, notice });
  body.append(pane.node);
  picker.addEventListener("change", () => {
    const match = picker.value.trim().match(/^#?(\d+)$/);
    if (match) selectFeature(model, notice, Number(match[1]));
    else notice.textContent = `"${picker.value}" is not a feature id (0..${model.get("d_sae") - 1})`;
  });
  root.dataset.ready = "true";
  return () => {
    pane.dispose();
    clear(root);
  };
}

export default { render };
