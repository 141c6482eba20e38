// TokenHeatmap: documents as flowing text, each token shaded by the selected feature.
import { unpack } from "../lib/buffers.js";
import { h } from "../lib/dom.js";
import { ownKeys } from "../lib/keys.js";
import { focusTooltip, keyboardItems } from "../lib/roving.js";
import { taskStatus } from "../lib/task.js";
import { createTooltip } from "../lib/tooltip.js";
import { controls } from "./controls.js";
import { tokenDocs } from "./docs.js";
import { tokenHover } from "./hover.js";
import { featureProblem, shading, siteCache } from "./state.js";

export function render({ model, el }) {
  const root = ownKeys(h("div", { class: "saew-root saew-heatmap" }));
  el.appendChild(root);
  const message = model.get("_message");
  const tokens = model.get("tokens") || [];
  const offsets = unpack(model.get("_doc_offsets"));
  const sinks = new Set(model.get("_sinks") || []);
  const csrOf = siteCache(model.get("_sites"));
  const site = () => csrOf(model.get("site"));

  function selectFeature(feature) {
    const problem = featureProblem(feature, site().dSae);
    bar.notice.textContent = problem;
    if (problem) return;
    model.set("selected_feature", feature);
    model.save_changes();
  }

  const bar = controls(model, { onPick: selectFeature });
  const task = taskStatus(model, { errorNode: bar.notice });
  bar.node.append(task.node);
  const docs = h("div", { class: "saew-docs" });
  const banner = message ? h("div", { class: "saew-banner" }, message) : null;
  root.append(bar.node, ...(banner ? [banner] : []), bar.strip, docs);
  const tooltip = createTooltip(root);
  const text = tokenDocs({
    tokens,
    offsets,
    sinks,
    container: docs,
    onFirstSlice: () => {
      root.dataset.firstRender = "true";
    },
    onComplete: () => {
      root.dataset.ready = "true";
    },
  });
  tokenHover({
    model,
    docs,
    tooltip,
    tokens,
    offsets,
    site,
    onPick: selectFeature,
    sinks,
  });
  keyboardItems(docs, ".saew-tok", {
    label: "tokens: arrow keys move, Enter selects a token and opens its features",
    onActivate: () => focusTooltip(root, docs),
  });

  function paint() {
    const feature = model.get("selected_feature");
    const s = site();
    if (feature < 0 || feature >= s.dSae) {
      bar.paintSelection(-1, 0);
      text.shade(null);
      return;
    }
    const max = s.max(feature);
    text.shade(shading(s.column(feature), max));
    bar.paintSelection(feature, max);
  }

  bar.fillStrip();
  paint();
  text.start();
  const onSite = () => {
    tooltip.hide(); // its features were the old site's
    bar.syncSite();
    bar.fillStrip();
    paint();
  };
  const onLabels = () => {
    bar.fillStrip();
    paint();
  };
  model.on("change:selected_feature", paint);
  model.on("change:site", onSite);
  model.on("change:labels", onLabels);
  return () => {
    text.dispose();
    tooltip.dispose();
    task.dispose();
    model.off("change:selected_feature", paint);
    model.off("change:site", onSite);
    model.off("change:labels", onLabels);
  };
}
