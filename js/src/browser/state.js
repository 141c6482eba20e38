// FeatureBrowser's data and decisions (pure: no DOM): the catalog of every feature, searching
// (lib/search.js) and sorting it, the shading of probed text.
import { unpack } from "../lib/buffers.js";
import { sequential } from "../lib/colors.js";
import { fmt, SINK_NOTE } from "../lib/format.js";
import { queryWords, searchFeatures, searchIndex } from "../lib/search.js";

export const LIST_LIMIT = 100;
export const TOP_PER_TOKEN = 8;

export const PROMOTED_SHOWN = 3; // promoted tokens in a catalog row

/**
 * `_catalog` decoded: density and max per feature, labels, and per feature the texts of the
 * tokens it fires on most and promotes most (rows of indices into one token table, -1: none),
 * with the search index over them built once.
 */
export function decodeCatalog(raw) {
  const max = unpack(raw.max);
  const topTokens = tokenRows(raw.top_tokens, raw.tokens);
  const promoted = tokenRows(raw.promoted, raw.tokens);
  const size = raw.labels.length;
  return {
    density: unpack(raw.density),
    max,
    // older payloads (pages exported before label scores) have neither array
    detection: raw.detection ? unpack(raw.detection) : new Float32Array(size).fill(Number.NaN),
    twins: raw.twins ? unpack(raw.twins) : new Int8Array(size),
    labels: raw.labels,
    topTokens,
    promoted,
    promotedText: promoted.map(promotedText),
    size: raw.labels.length,
    index: searchIndex({ labels: raw.labels, topTokens, promoted, max }),
  };
}

function tokenRows(packed, table) {
  const ids = unpack(packed);
  const [rows, cols] = packed.shape;
  const out = [];
  for (let f = 0; f < rows; f++) {
    const row = [];
    for (let k = 0; k < cols; k++) if (ids[f * cols + k] >= 0) row.push(table[ids[f * cols + k]]);
    out.push(row);
  }
  return out;
}

/** A row's promoted tokens: "Paris / France / French" (a blank token quoted). */
export function promotedText(tokens) {
  return tokens
    .slice(0, PROMOTED_SHOWN)
    .map((t) => t.trim() || JSON.stringify(t))
    .join(" / ");
}

/** Features that can be opened: all with a kernel, else those whose cards the page carries. */
export function availableFeatures(size, live, hasCard) {
  const out = [];
  for (let f = 0; f < size; f++) if (live || hasCard(f)) out.push(f);
  return out;
}

/** Which labels a "quality" filter keeps: every one, scored at least so high, or shared. */
export const QUALITY_FILTERS = {
  all: () => true,
  "detection>=0.7": (c, f) => c.detection[f] >= 0.7,
  "detection>=0.8": (c, f) => c.detection[f] >= 0.8,
  "detection<0.6": (c, f) => c.detection[f] < 0.6,
  twins: (c, f) => c.twins[f] === 1,
};

/**
 * The catalog rows for a search text, a sort key ("match", "density", "max", "detection" or
 * "id") and a label-quality filter (a key of QUALITY_FILTERS).
 * Without words in the text every available feature is listed; with words, the features that
 * match them by lib/search.js's rule (`matches` maps each to its search hit). "match" orders
 * by that rule (by density when nothing is searched); the other keys strongest first (unscored
 * labels last), ties by id. Returns the first `limit` rows and the counts.
 */
export function searchCatalog(catalog, available, query, key, limit = LIST_LIMIT, quality = "all") {
  const { density, max, detection } = catalog;
  const keep = QUALITY_FILTERS[quality];
  if (!keep) throw new Error(`unknown label filter ${quality}`);
  const of = available.length; // the count says how many of all the features are listed
  if (quality !== "all") available = available.filter((f) => keep(catalog, f));
  const matches = new Map();
  let rows;
  if (queryWords(query).length === 0) {
    rows = [...available];
  } else {
    const hits = searchFeatures(catalog.index, query, { candidates: available });
    for (const hit of hits) matches.set(hit.feature, hit);
    rows = hits.map((hit) => hit.feature);
  }
  const searched = matches.size > 0;
  if (key === "density" || (key === "match" && !searched)) {
    rows.sort((a, b) => density[b] - density[a] || a - b);
  } else if (key === "max") rows.sort((a, b) => max[b] - max[a] || a - b);
  else if (key === "detection") {
    const value = (f) => (Number.isNaN(detection[f]) ? -1 : detection[f]);
    rows.sort((a, b) => value(b) - value(a) || a - b);
  } else if (key === "id" && searched) rows.sort((a, b) => a - b);
  return { rows: rows.slice(0, limit), total: rows.length, of, limit, matches };
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
