// TokenHeatmap's data and decisions (pure: no DOM): sites as CSRs, where a token lives, which
// feature a typed pick means, how tokens are shaded, what the legend and chips say.
import { sequential } from "../lib/colors.js";
import { decodeCSR } from "../lib/csr.js";
import { fmt } from "../lib/format.js";

export const TOP_IN_TOOLTIP = 8;
export const FIRST_SLICE = 600; // tokens built at once: about what the 480px viewport shows
export const SLICE = 2500; // tokens built per later task

/** `get(name)`: that site's CSR, decoded on first use. */
export function siteCache(sites) {
  const decoded = new Map();
  return (name) => {
    if (!decoded.has(name)) decoded.set(name, decodeCSR(sites?.[name]));
    return decoded.get(name);
  };
}

/** Labels of one site ({id: label}) from the `labels` trait ({site: {id: label}}). */
export function siteLabels(labels, site) {
  return labels?.[site] || {};
}

export function labelOf(labels, site, feature) {
  return siteLabels(labels, site)[String(feature)] || "";
}

/** The document holding global token t (offsets: start of each document, then the total). */
export function docIndex(offsets, t) {
  let lo = 0;
  let hi = offsets.length - 2;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (offsets[mid] <= t) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/** [doc, position in the doc] of global token t. */
export function locate(offsets, t) {
  const doc = docIndex(offsets, t);
  return [doc, t - offsets[doc]];
}

/**
 * The feature a site opens on: the first of its summary (the strip's first chip, the kernel's
 * order), or -1 (none) when nothing fires there. A site switch selects it, since a feature id
 * means something else at another site.
 */
export function defaultFeature(summary, site) {
  const rows = summary?.[site] || [];
  return rows.length ? rows[0][0] : -1;
}

/** Why `feature` cannot be shown at a site with `dSae` features ("" when it can). */
export function featureProblem(feature, dSae) {
  if (!Number.isInteger(feature) || feature < 0 || feature >= dSae) {
    return `feature must be an integer in 0..${dSae - 1}`;
  }
  return "";
}

/**
 * What the picker's text asks for: a leading id ("12", "#12 label"), else the first label
 * containing the text (any case). Returns {feature}, {error}, or null for empty text.
 */
export function parsePick(text, labels) {
  const query = text.trim();
  if (!query) return null;
  const leading = query.match(/^#?(\d+)/);
  if (leading) return { feature: Number(leading[1]) };
  const needle = query.toLowerCase();
  const hit = Object.entries(labels || {}).find(([, l]) => l.toLowerCase().includes(needle));
  if (hit) return { feature: Number(hit[0]) };
  return { error: `no feature id or label matches "${query}"` };
}

/** The datalist entries of the picker: "id label". */
export function pickOptions(labels) {
  return Object.entries(labels || {}).map(([feature, label]) => `${feature} ${label}`);
}

/** Background of every token for one feature's values ("" = unshaded). */
export function shading(values, max) {
  return Array.from(values, (v) => (max > 0 ? sequential(v / max) : ""));
}

export function chipTitle(max, count) {
  return `max ${fmt(max)} · active on ${count} tokens`;
}

export function legendName(feature, label) {
  return `#${feature}${label ? ` ${label}` : ""}`;
}

export function legendRange(max) {
  return max > 0 ? `0 – ${fmt(max)}` : "never active here";
}
