// The dashboard area shared by FeatureDashboard and FeatureBrowser: the selected feature's card
// (from the kernel, or from the cards an exported page carries) plus the "test your text" box.
import { renderCard } from "./card.js";
import { clear, h } from "./dom.js";
import { exampleRow, markCores } from "./examples.js";
import {
  featureProblem,
  missingCardText,
  cardFor as pickCard,
  probeSummary,
} from "./featurestate.js";
import { SINK_NOTE } from "./format.js";
import { decodeProbe } from "./probe.js";
import { liveTextBox } from "./textbox.js";

export function cardFor(model, feature) {
  return pickCard(model.get("_card"), model.get("_cards"), feature);
}

export function selectFeature(model, notice, feature) {
  const problem = featureProblem(feature, {
    dSae: model.get("d_sae"),
    live: model.get("_live"),
    hasCard: Boolean(cardFor(model, feature)),
  });
  notice.textContent = problem;
  if (problem) return false;
  model.set("selected_feature", feature);
  model.save_changes();
  return true;
}

export function featurePane(model, { tooltip, notice }) {
  const node = h("div", { class: "saew-feature-pane" });
  const testResult = h("div", { class: "saew-test-result" });
  const box = liveTextBox(model, {
    placeholder: "test your text: type, then Enter (Shift+Enter for a new line)",
    onResult: () => paintTest(),
  });
  const testPanel = h(
    "section",
    { class: "saew-panel saew-test" },
    h("h4", { class: "saew-panel-title" }, "Test your text"),
    box.node,
    testResult,
  );
  const onSelect = (f) => selectFeature(model, notice, f);

  function paintTest() {
    clear(testResult);
    const probe = decodeProbe(model.get("_probe"));
    const feature = model.get("selected_feature");
    if (!probe || feature < 0) return;
    const card = cardFor(model, feature);
    const summary = probeSummary(probe, feature, card?.max);
    const row = exampleRow(
      { tokens: probe.tokens, values: Array.from(summary.values), focus: -1 },
      summary.scale,
      { class: "saew-example saew-probe-tokens" },
    );
    for (const t of probe.skipped) {
      row.children[t]?.classList.add("saew-skipped");
      if (row.children[t]) row.children[t].title = SINK_NOTE; // why it is struck through
    }
    testResult.append(
      h("div", { class: "saew-test-summary", dataset: { max: summary.peak } }, summary.text),
      row,
    );
  }

  function steerButton(feature) {
    // adds this feature to the steering panel the dashboard was connected to
    const steer = h(
      "button",
      { class: "saew-steer-open", type: "button", title: "add this feature to the steering panel" },
      "steer this feature ▸",
    );
    steer.addEventListener("click", () => {
      model.send({ type: "steer", feature });
      notice.textContent = `#${feature} added to the steering panel`;
    });
    return steer;
  }

  function paint() {
    const feature = model.get("selected_feature");
    clear(node);
    delete node.dataset.cores;
    if (feature < 0) {
      node.append(h("div", { class: "saew-empty" }, "no feature selected"));
      return;
    }
    const card = cardFor(model, feature);
    if (!card) {
      const text = missingCardText(feature, model.get("_live"));
      node.append(h("div", { class: "saew-empty saew-loading" }, text));
      return;
    }
    if (model.get("_can_steer") && !card.dead) node.append(steerButton(feature));
    node.append(renderCard(card, { onSelect, tooltip, extra: [testPanel] }));
    node.dataset.feature = String(feature);
    paintTest();
    paintCores();
  }

  // PruningMaxAct cores arrive after the card (the kernel runs truncated prefixes)
  function paintCores() {
    const pruned = model.get("_pruned") || {};
    if (pruned.feature !== model.get("selected_feature")) return;
    markCores(node, pruned.spans);
    node.dataset.cores = "true";
  }

  const events = ["change:selected_feature", "change:_card", "change:_can_steer"];
  for (const event of events) model.on(event, paint);
  model.on("change:_pruned", paintCores);
  paint();
  return {
    node,
    box,
    dispose() {
      box.dispose();
      for (const event of events) model.off(event, paint);
      model.off("change:_pruned", paintCores);
    },
  };
}
