// Numbers and token text as the views print them (pure: no DOM).

/** A value with about three significant digits: 123, 12.3, 1.23. */
export function fmt(value) {
  if (!Number.isFinite(value)) return String(value);
  const abs = Math.abs(value);
  if (abs >= 100) return value.toFixed(0);
  if (abs >= 10) return value.toFixed(1);
  return value.toFixed(2);
}

/** A fraction as a percentage: 12.3%, 0.042%. */
export function percent(x) {
  if (x === 0) return "0%";
  const p = x * 100;
  return p >= 1 ? `${p.toFixed(1)}%` : `${p.toPrecision(2)}%`;
}

/** A token's text for labels and tooltips: whitespace made visible, kept on one line. */
export function visibleText(text) {
  return text.replace(/ /g, "·").replace(/\n/g, "↵").replace(/\t/g, "⇥").replace(/\r/g, "␍");
}

/** Why a position is marked: the same words wherever first positions are shown. */
export const SINK_NOTE =
  "first position / BOS: an attention sink with large activations for any text; left out of " +
  "statistics, training and the strongest-feature lists";
