// What the dashboard and the browser decide about features, from plain trait values (pure: no
// DOM): which card to show, whether a feature can be opened, the live box's summary.
import { fmt, visibleText } from "./format.js";

/** The card of `feature`: the kernel's current `_card`, else one an exported page carries. */
export function cardFor(card, cards, feature) {
  if (card && card.feature === feature) return card;
  return cards?.[String(feature)] || null;
}

/** Why `feature` cannot be opened ("" when it can). */
export function featureProblem(feature, { dSae, live, hasCard }) {
  if (!Number.isInteger(feature) || feature < 0 || feature >= dSae) {
    return `feature must be an integer in 0..${dSae - 1}`;
  }
  if (!live && !hasCard) {
    return `feature #${feature} is not included in this page (export it with features=[...])`;
  }
  return "";
}

/**
 * One feature over the probed text: its value per token, where it peaks, the activation that
 * gets full colour (the larger of the peak and the card's max) and the summary line.
 */
export function probeSummary(probe, feature, cardMax = 0) {
  const values = probe.csr.column(feature);
  let peak = 0;
  let at = -1;
  values.forEach((v, i) => {
    if (v > peak) [peak, at] = [v, i];
  });
  const text =
    peak > 0
      ? `#${feature} peaks at ${fmt(peak)} on “${visibleText(probe.tokens[at])}”`
      : `#${feature} does not fire on this text`;
  return { values, peak, at, scale: Math.max(peak, cardMax || 0), text };
}

/** The text a pane shows while it has no card for `feature`. */
export function missingCardText(feature, live) {
  return live ? `loading feature #${feature}…` : `feature #${feature} is not included in this page`;
}
