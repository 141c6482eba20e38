// FeatureBrowser's data and decisions (pure: no DOM): the catalog of every feature, filtering
// and sorting it, the shading of probed text.
import { unpack } from "../lib/buffers.js";
import { sequential } from "../lib/colors.js";
import { fmt, SINK_NOTE } from "../lib/format.js";

export const LIST_LIMIT = 100;
export const TOP_PER_TOKEN = 8;

/** `_catalog` decoded: density and max per feature, labels and promoted tokens (strings). */
export function decodeCatalog(raw) {
  return {
    density: unpack(raw.density),
    max: unpack(raw.max),
    labels: raw.labels,
    promoted: raw.promoted,
    size: raw.labels.length,
  };
}

/** Features that can be opened: all with a kernel, else those whose cards the page carries. */
export function availableFeatures(size, live, hasCard) {
  const out = [];
  for (let f = 0; f < size; f++) if (live || hasCard(f)) out.push(f);
  return out;
}

/**
 * The catalog rows for a filter text and a sort key ("density", "max" or "id"): features whose
 * id is the text ("12" or "#12") or whose label or promoted tokens contain it (any case),
 * strongest first by the key (ties by id). Returns the first `limit` and the counts.
 */
export function searchCatalog(catalog, available, query, key, limit = LIST_LIMIT) {
  const q = query.trim().toLowerCase();
  const idQuery = q.match(/^#?(\d+)$/);
  const { labels, promoted, density, max } = catalog;
  const hits = available.filter(
    (f) =>
      !q ||
      (idQuery && String(f) === idQuery[1]) ||
      labels[f].toLowerCase().includes(q) ||
      promoted[f].toLowerCase().includes(q),
  );
  if (key === "density") hits.sort((a, b) => density[b] - density[a] || a - b);
  else if (key === "max") hits.sort((a, b) => max[b] - max[a] || a - b);
  return { rows: hits.slice(0, limit), total: hits.length, of: available.length, limit };
}

/** "12 of 4,608 features (first 100 shown)". */
export function countText({ total, of, limit }) {
  const more = total > limit ? ` (first ${limit} shown)` : "";
  return `${total.toLocaleString()} of ${of.toLocaleString()} features${more}`;
}

/** A catalog row's label: its own, or a note that it never fires. */
export function rowLabel(catalog, f) {
  return catalog.labels[f] || (catalog.density[f] === 0 ? "(never fires)" : "");
}

/**
 * Background of every probed token for feature f (-1: none): full colour at the larger of the
 * text's peak and the feature's max over the statistics corpus.
 */
export function probeShading(probe, f, maxAct) {
  if (f < 0) return probe.tokens.map(() => "");
  const values = probe.csr.column(f);
  let peak = maxAct[f] || 0;
  for (const v of values) if (v > peak) peak = v;
  return Array.from(values, (v) => (v > 0 ? sequential(v / peak) : ""));
}

/** What a probed token with no active features says. */
export function emptyTokenText(skipped) {
  return skipped ? SINK_NOTE : "no active features";
}

export function chipTitle(max, count) {
  return `max ${fmt(max)} on ${count} tokens`;
}
