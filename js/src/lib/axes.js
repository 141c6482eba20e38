// Axis ticks for the small charts (pure: no DOM): round tick values, formatted alike.

/** The round step (1, 2 or 5 × 10^k) that cuts `span` into about `count` parts. */
export function niceStep(span, count = 4) {
  const raw = Math.abs(span) / Math.max(1, count);
  if (!(raw > 0) || !Number.isFinite(raw)) return 1;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const norm = raw / mag;
  const unit = norm <= 1 ? 1 : norm <= 2 ? 2 : norm <= 5 ? 5 : 10;
  return unit * mag;
}

/** Digits after the point that a multiple of `step` needs (0 for 5, 1 for 0.5, 2 for 0.05). */
function decimals(step) {
  return Math.max(0, -Math.floor(Math.log10(step) + 1e-9));
}

/** A tick value as text with `digits` decimals: no "-0"; 10k, 2.5M, 1e9 for large values. */
export function tickText(value, digits = 0) {
  const abs = Math.abs(value);
  if (abs >= 1e9) return value.toExponential(0).replace("+", "");
  if (abs >= 1e4 && digits === 0) {
    const [scaled, suffix] = abs >= 1e6 ? [value / 1e6, "M"] : [value / 1e3, "k"];
    return `${Number(scaled.toPrecision(3))}${suffix}`;
  }
  const text = value.toFixed(digits);
  return /^-0(\.0*)?$/.test(text) ? text.slice(1) : text;
}

/**
 * Linear ticks covering [lo, hi]: {lo, hi, values, labels}, where lo and hi are widened to
 * multiples of a round step and every label has the same number of decimals.
 */
export function linearTicks(lo, hi, count = 4) {
  let a = Number.isFinite(lo) ? lo : 0;
  let b = Number.isFinite(hi) ? hi : 1;
  if (a > b) [a, b] = [b, a];
  if (a === b) {
    const pad = a === 0 ? 1 : Math.abs(a) / 2;
    a -= pad;
    b += pad;
  }
  const step = niceStep(b - a, count);
  const first = Math.floor(a / step + 1e-9);
  const last = Math.ceil(b / step - 1e-9);
  const values = [];
  for (let i = first; i <= last; i++) values.push(Number((i * step).toPrecision(12)));
  const digits = decimals(step);
  return {
    lo: values[0],
    hi: values[values.length - 1],
    values,
    labels: values.map((v) => tickText(v, digits)),
  };
}

/** Ticks from 0 to a count's peak (bar heights): whole numbers only. */
export function countTicks(peak, count = 3) {
  const top = Math.max(1, peak);
  const step = Math.max(1, niceStep(top, count));
  const last = Math.ceil(top / step - 1e-9);
  const values = [];
  for (let i = 0; i <= last; i++) values.push(i * step);
  return { lo: 0, hi: values[values.length - 1], values, labels: values.map((v) => tickText(v)) };
}

const LADDER = [1, 2, 5];

/** A positive value's text with only the digits it needs: 0.05, 2, 20, 500, 20k. */
function logText(v) {
  if (v >= 1e4) return tickText(v);
  return String(Number(v.toPrecision(6)));
}

/**
 * Ticks for a log axis over positive [lo, hi]: 1-2-5 steps (powers of ten alone when the range
 * spans more than two decades); lo and hi widened to the neighbouring ticks.
 */
export function logTicks(lo, hi) {
  let a = lo > 0 && Number.isFinite(lo) ? lo : 1;
  let b = hi > 0 && Number.isFinite(hi) ? hi : a;
  if (a > b) [a, b] = [b, a];
  const decades = Math.log10(b / a);
  const ladder = decades > 1.3 ? [1] : LADDER;
  const candidates = [];
  for (let k = Math.floor(Math.log10(a)) - 1; k <= Math.ceil(Math.log10(b)) + 1; k++) {
    for (const m of ladder) candidates.push(Number((m * 10 ** k).toPrecision(12)));
  }
  const below = candidates.filter((v) => v <= a * (1 + 1e-9));
  const above = candidates.filter((v) => v >= b * (1 - 1e-9));
  const from = below[below.length - 1];
  let to = above[0];
  if (to === from) to = candidates[candidates.indexOf(from) + 1];
  let values = candidates.filter((v) => v >= from && v <= to);
  if (values.length > 7) {
    const every = Math.ceil((values.length - 1) / 6);
    values = values.filter((_, i) => i % every === 0);
    const last = values[values.length - 1];
    if (last < to) values.push(Number((last * 10 ** every).toPrecision(12)));
  }
  const top = values[values.length - 1];
  return { lo: from, hi: top, values, labels: values.map(logText) };
}

/**
 * Ticks for a fixed log axis from lo to hi (> 0, not widened): the round values inside it, or
 * both ends (three significant digits) when fewer than two round values fall inside.
 */
export function logTicksWithin(lo, hi) {
  const { values } = logTicks(lo, hi);
  const inside = values.filter((v) => v >= lo * (1 - 1e-9) && v <= hi * (1 + 1e-9));
  if (inside.length >= 2) return { values: inside, labels: inside.map(logText) };
  const ends = [lo, hi].map((v) => Number(v.toPrecision(3)));
  return { values: [lo, hi], labels: ends.map(logText) };
}

/**
 * Ticks for positive values such as perplexities: a log axis when they span a factor of three
 * or more, else a linear one (a log axis over 185–222 would show one tick). `log` says which.
 */
export function positiveTicks(lo, hi) {
  if (lo > 0 && hi / lo >= 3) return { ...logTicks(lo, hi), log: true };
  return { ...linearTicks(lo, hi, 3), log: false };
}

/** A value for a hover text: four significant digits, no trailing zeros (0.01234, 12.35). */
export function exact(value) {
  if (value === null || value === undefined || !Number.isFinite(value)) return String(value);
  if (Math.abs(value) >= 1e4) return Math.round(value).toLocaleString("en-US");
  return String(Number(value.toPrecision(4)));
}
