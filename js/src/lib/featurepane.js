// The dashboard area shared by FeatureDashboard and FeatureBrowser: the selected feature's card
// (from the kernel, or from the cards an exported page carries) plus the "test your text" box.
import { renderCard } from "./card.js";
import { clear, h } from "./dom.js";
import { exampleRow } from "./examples.js";
import { fmt } from "./format.js";
import { decodeProbe, probeColumn } from "./probe.js";
import { liveTextBox } from "./textbox.js";
import { visibleText } from "./tokens.js";

export function cardFor(model, feature) {
  const current = model.get("_card") || {};
  if (current.feature === feature) return current;
  return (model.get("_cards") || {})[String(feature)] || null;
}

export function selectFeature(model, notice, feature) {
  const d = model.get("d_sae");
  if (!Number.isInteger(feature) || feature < 0 || feature >= d) {
    notice.textContent = `feature must be an integer in 0..${d - 1}`;
    return false;
  }
  if (!model.get("_live") && !cardFor(model, feature)) {
    notice.textContent = `feature #${feature} is not included in this page (export it with features=[...])`;
    return false;
  }
  notice.textContent = "";
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
    const values = probeColumn(probe, feature);
    const card = cardFor(model, feature);
    let peak = 0;
    let at = -1;
    values.forEach((v, i) => {
      if (v > peak) [peak, at] = [v, i];
    });
    const scale = Math.max(peak, card && card.max ? card.max : 0);
    const row = exampleRow({ tokens: probe.tokens, values: Array.from(values), focus: -1 }, scale, {
      class: "saew-example saew-probe-tokens",
    });
    for (const t of probe.skipped) row.children[t].classList.add("saew-skipped");
    testResult.append(
      h(
        "div",
        { class: "saew-test-summary", dataset: { max: peak } },
        peak > 0
          ? `#${feature} peaks at ${fmt(peak)} on “${visibleText(probe.tokens[at])}”`
          : `#${feature} does not fire on this text`,
      ),
      row,
    );
  }

  function paint() {
    const feature = model.get("selected_feature");
    clear(node);
    if (feature < 0) {
      node.append(h("div", { class: "saew-empty" }, "no feature selected"));
      return;
    }
    const card = cardFor(model, feature);
    if (!card) {
      node.append(
        h(
          "div",
          { class: "saew-empty saew-loading" },
          model.get("_live") ? `loading feature #${feature}…` : `feature #${feature} is not included in this page`,
        ),
      );
      return;
    }
    if (model.get("_can_steer") && !card.dead) {
      // adds this feature to the steering panel the dashboard was connected to
      const steer = h("button", { class: "saew-steer-open", type: "button", title: "add this feature to the steering panel" }, "steer this feature ▸");
      steer.addEventListener("click", () => {
        model.send({ type: "steer", feature });
        notice.textContent = `#${feature} added to the steering panel`;
      });
      node.append(steer);
    }
    node.append(renderCard(card, { onSelect, tooltip, extra: [testPanel] }));
    node.dataset.feature = String(feature);
    paintTest();
  }

  model.on("change:selected_feature", paint);
  model.on("change:_card", paint);
  model.on("change:_can_steer", paint);
  paint();
  return {
    node,
    dispose() {
      box.dispose();
      model.off("change:selected_feature", paint);
      model.off("change:_card", paint);
      model.off("change:_can_steer", paint);
    },
  };
}
