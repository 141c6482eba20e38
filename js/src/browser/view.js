// FeatureBrowser: find features by typed text, label or promoted token; open their dashboards.
import { h } from "../lib/dom.js";
import { cardFor, featurePane, selectFeature } from "../lib/featurepane.js";
import { ownKeys } from "../lib/keys.js";
import { taskStatus } from "../lib/task.js";
import { liveTextBox } from "../lib/textbox.js";
import { createTooltip } from "../lib/tooltip.js";
import { catalogList } from "./catalog.js";
import { probeArea } from "./probe.js";
import { availableFeatures, decodeCatalog } from "./state.js";

export function render({ model, el }) {
  const root = ownKeys(h("div", { class: "saew-root saew-browser", dataset: { view: "search" } }));
  el.appendChild(root);
  const tooltip = createTooltip(root);
  const notice = h("span", { class: "saew-notice", role: "status" });
  const catalog = decodeCatalog(model.get("_catalog"));
  const open = (f) => {
    // Also when f is already selected (no change event): the list still opens its dashboard.
    if (selectFeature(model, notice, f)) show("feature");
  };

  const probe = probeArea(model, { catalog, tooltip, open });
  const box = liveTextBox(model, {
    placeholder: "type text to see which features fire on it, then Enter",
    onResult: () => probe.paint(),
  });
  const available = availableFeatures(catalog.size, model.get("_live"), (f) =>
    Boolean(cardFor(model, f)),
  );
  const list = catalogList({ catalog, available, open });

  const back = h("button", { class: "saew-back" }, "← all features");
  const pane = featurePane(model, { tooltip, notice });
  const task = taskStatus(model, {
    errorNode: notice,
    claimed: (t) => box.claims(t) || pane.box.claims(t),
  });
  const search = h(
    "div",
    { class: "saew-search" },
    box.node,
    probe.node,
    list.controls,
    list.head,
    list.list,
  );
  const featureView = h("div", { class: "saew-feature-view" }, back, pane.node);
  root.append(h("div", { class: "saew-controls" }, notice, task.node), search, featureView);
  const show = (view) => {
    root.dataset.view = view;
    search.hidden = view !== "search";
    featureView.hidden = view !== "feature";
    tooltip.hide();
  };
  back.addEventListener("click", () => show("search"));
  const onFeature = () => show("feature");
  model.on("change:selected_feature", onFeature);
  show("search");
  list.paint();
  probe.paint();
  root.dataset.ready = "true";
  return () => {
    list.dispose();
    box.dispose();
    pane.dispose();
    task.dispose();
    tooltip.dispose();
    model.off("change:selected_feature", onFeature);
  };
}
