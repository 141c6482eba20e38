// Feature search, the one ranking rule (pure: no DOM). Python's copy is
// saewidgets/analysis/search.py; both run the cases in tests/search_cases.json.
//
// - The query and every field are split into words (runs of Unicode letters, digits and "_"),
//   compared in lower case; "#123" is the word "123".
// - A query word matches a field word equal to it (exact) or, for query words of at least
//   MIN_PREFIX characters, one that starts with it (prefix): "food" finds "foods", "Paris"
//   never finds "comparison".
// - Fields by weight: the id (a query word of digits equal to it), the label, the tokens at the
//   feature's strongest activations, the tokens it promotes. Exact adds EXACT_BONUS, less than
//   the gap between fields.
// - A query word counts once, with its best match (ties: earlier field, token, position).
//   More query words matched first, then the higher sum, then the higher max activation, then
//   the lower id.

export const FIELDS = ["id", "label", "top_tokens", "promoted"];
export const WEIGHTS = { id: 8, label: 6, top_tokens: 4, promoted: 2 };
export const EXACT_BONUS = 1;
export const MIN_PREFIX = 3; // shorter query words match whole words only
/** How each field is named next to a match. */
export const FIELD_NAMES = {
  id: "id",
  label: "label",
  top_tokens: "fires on",
  promoted: "promotes",
};

const WORD = /[\p{L}\p{N}_]+/gu; // Python's \w: str.isalnum() and "_"
const DIGITS = /^[0-9]+$/;

/** The words of a text: lower-case word, and its start and end in the text. */
export function textWords(text) {
  return Array.from(text.matchAll(WORD), (m) => ({
    word: m[0].toLowerCase(),
    start: m.index,
    end: m.index + m[0].length,
  }));
}

/** The distinct lower-case words of a query, in order (TypeError for a non-string). */
export function queryWords(query) {
  if (typeof query !== "string") {
    throw new TypeError(`a search query must be a string, got ${typeof query}`);
  }
  return [...new Set(textWords(query).map((w) => w.word))];
}

/**
 * Every feature's words, split once. `labels[f]` a string, `topTokens[f]` / `promoted[f]` arrays
 * of token texts, `max[f]` the tie-breaker (any array-like of numbers).
 */
export function searchIndex({ labels, topTokens, promoted, max }) {
  const size = labels.length;
  const features = [];
  for (let f = 0; f < size; f++) {
    const items = [[labels[f] || ""], topTokens?.[f] || [], promoted?.[f] || []];
    features.push(items.map((texts) => texts.map((text) => ({ text, words: textWords(text) }))));
  }
  const maxOf = (f) => (max && Number.isFinite(max[f]) ? max[f] : 0);
  return { size, features, maxOf };
}

function matchValue(match) {
  return WEIGHTS[match.field] + (match.exact ? EXACT_BONUS : 0);
}

// The best match of query word q in one feature (null: none). Scanning in field, item and
// position order and keeping only strictly better values gives the rule's tie order.
function bestMatch(index, f, q) {
  let best = null;
  if (DIGITS.test(q) && String(f) === q) {
    best = { field: "id", text: q, start: 0, end: q.length, query: q, exact: true };
  }
  const prefixOk = Array.from(q).length >= MIN_PREFIX;
  index.features[f].forEach((items, k) => {
    const field = FIELDS[k + 1];
    for (const { text, words } of items) {
      for (const { word, start, end } of words) {
        const exact = word === q;
        if (!exact && !(prefixOk && word.startsWith(q))) continue;
        const match = { field, text, start, end, query: q, exact };
        if (!best || matchValue(match) > matchValue(best)) best = match;
      }
    }
  });
  return best;
}

/**
 * Features matching `query`, best first: `{feature, score, words, matches}` with `matches` one
 * per matched query word, best first (`matches[0]` is the one to show). `candidates`: the
 * features to consider (default all). A query without words finds nothing.
 */
export function searchFeatures(index, query, { candidates = null, limit = Infinity } = {}) {
  const words = queryWords(query);
  const hits = [];
  if (words.length === 0) return hits;
  const pool = candidates || Array.from({ length: index.size }, (_, f) => f);
  for (const f of pool) {
    const matches = [];
    for (const q of words) {
      const m = bestMatch(index, f, q);
      if (m) matches.push(m);
    }
    if (matches.length === 0) continue;
    // stable: among equal values the earlier query word first
    matches.sort((a, b) => matchValue(b) - matchValue(a));
    const score = matches.reduce((sum, m) => sum + matchValue(m), 0);
    hits.push({ feature: f, score, words: matches.length, matches });
  }
  hits.sort(
    (a, b) =>
      b.words - a.words ||
      b.score - a.score ||
      index.maxOf(b.feature) - index.maxOf(a.feature) ||
      a.feature - b.feature,
  );
  return hits.slice(0, limit);
}

/** A text cut at matched spans: [{text, hit}] pieces in order (spans may overlap or repeat). */
export function highlightPieces(text, spans) {
  const sorted = [...spans].sort((a, b) => a.start - b.start || b.end - a.end);
  const pieces = [];
  let at = 0;
  for (const { start, end } of sorted) {
    if (end <= at) continue;
    const from = Math.max(start, at);
    if (from > at) pieces.push({ text: text.slice(at, from), hit: false });
    pieces.push({ text: text.slice(from, end), hit: true });
    at = end;
  }
  if (at < text.length) pieces.push({ text: text.slice(at), hit: false });
  return pieces;
}
