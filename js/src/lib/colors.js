// Colour scales that read in light and dark themes: a fixed hue whose opacity carries the value,
// so the page's own background and text colour show through. Hues from ColorBrewer's PuOr,
// which stays distinguishable for the common colour-vision deficiencies.

const POSITIVE = [230, 97, 1]; // orange
const NEGATIVE = [94, 60, 153]; // purple

/** Sequential: 0 → transparent, 1 → full orange. */
export function sequential(t) {
  const a = Math.max(0, Math.min(1, t));
  return a <= 0 ? "transparent" : `rgba(${POSITIVE.join(",")},${(0.08 + 0.82 * a).toFixed(3)})`;
}

/** Diverging: −1 → purple, 0 → transparent, +1 → orange. */
export function diverging(t) {
  const a = Math.max(-1, Math.min(1, t));
  if (a === 0) return "transparent";
  const rgb = a > 0 ? POSITIVE : NEGATIVE;
  return `rgba(${rgb.join(",")},${(0.08 + 0.82 * Math.abs(a)).toFixed(3)})`;
}
