// Colour scales that read in light and dark themes: a fixed hue whose opacity carries the value,
// so the page's own background and text colour show through. Hues from ColorBrewer's PuOr,
// which stays distinguishable for the common colour-vision deficiencies.

const POSITIVE = [230, 97, 1]; // orange
const NEGATIVE = [94, 60, 153]; // purple

const LEVELS = 64;
// The opacity is scaled by `--saew-heat-scale` (common.css): 1 on light backgrounds; lower on
// dark ones, where a near-opaque orange is too bright for light text (contrast < 4.5).
const alpha = (a) => `calc(${a.toFixed(3)} * var(--saew-heat-scale, 1))`;
// Precomputed strings: shading many tokens must not format a colour per token.
const SEQUENTIAL = Array.from(
  { length: LEVELS + 1 },
  (_, i) => `rgba(${POSITIVE.join(",")},${alpha(0.08 + (0.82 * i) / LEVELS)})`,
);

/** Sequential: 0 → transparent, 1 → full orange (quantised to 64 steps). */
export function sequential(t) {
  if (!(t > 0)) return "";
  return SEQUENTIAL[Math.round(Math.min(1, t) * LEVELS)];
}

/** Diverging: −1 → purple, 0 → transparent, +1 → orange. */
export function diverging(t) {
  const a = Math.max(-1, Math.min(1, t));
  if (a === 0) return "transparent";
  const rgb = a > 0 ? POSITIVE : NEGATIVE;
  return `rgba(${rgb.join(",")},${alpha(0.08 + 0.82 * Math.abs(a))})`;
}
