// The search rule's front-end copy runs the same cases as tests/test_search.py (Python).
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import {
  highlightPieces,
  MIN_PREFIX,
  queryWords,
  searchFeatures,
  searchIndex,
  textWords,
} from "../src/lib/search.js";

const CASES = JSON.parse(
  readFileSync(new URL("../../tests/search_cases.json", import.meta.url), "utf8"),
);
const F = CASES.features;
const index = searchIndex({
  labels: F.labels,
  topTokens: F.top_tokens,
  promoted: F.promoted,
  max: F.max,
});
const found = (query, options) =>
  searchFeatures(index, query, options).map((h) => [
    h.feature,
    h.matches[0].field,
    h.matches[0].text.slice(h.matches[0].start, h.matches[0].end),
  ]);

for (const c of CASES.cases) {
  test(`shared case ${JSON.stringify(c.query)}`, () => {
    assert.deepEqual(found(c.query), c.hits);
  });
}

test("offsets are the JS string's (UTF-16 units), as Python's payload sends them", () => {
  const want = CASES.offsets;
  const hit = searchFeatures(index, want.query)[0];
  const m = hit.matches[0];
  assert.equal(hit.feature, want.feature);
  assert.deepEqual([m.text, m.start, m.end], [want.text, want.start, want.end]);
});

test("'Paris' is not in 'comparison'; 'food' finds a label before a token", () => {
  assert.deepEqual(
    found("Paris").map((h) => h[0]),
    [1],
  );
  const [label, token] = searchFeatures(index, "food");
  assert.equal(label.matches[0].field, "label");
  assert.equal(token.matches[0].field, "top_tokens");
  assert.ok(label.score > token.score);
  assert.equal(label.matches[0].exact, false);
  assert.equal(token.matches[0].exact, true);
});

test("more query words first; each hit reports every matched word, best first", () => {
  const [first] = searchFeatures(index, "food cooking");
  assert.equal(first.feature, 2);
  assert.equal(first.words, 2);
  assert.deepEqual(
    first.matches.map((m) => m.query),
    ["cooking", "food"],
  );
});

test("candidates and limit", () => {
  assert.deepEqual(
    found("food", { candidates: [5, 3] }).map((h) => h[0]),
    [3, 5],
  );
  assert.equal(searchFeatures(index, "food", { limit: 1 }).length, 1);
});

test("words, queries and bad input", () => {
  assert.deepEqual(queryWords("Food, FOOD and  food!"), ["food", "and"]);
  assert.deepEqual(queryWords(" #12 "), ["12"]);
  assert.deepEqual(textWords(" Zürich"), [{ word: "zürich", start: 1, end: 7 }]);
  assert.deepEqual(searchFeatures(index, ""), []);
  assert.throws(() => searchFeatures(index, 3), /must be a string, got number/);
  assert.equal(MIN_PREFIX, 3);
});

test("highlight pieces cover the text once, marking the spans", () => {
  const text = "foods and cooking";
  const pieces = highlightPieces(text, [
    { start: 10, end: 17 },
    { start: 0, end: 5 },
    { start: 0, end: 5 },
  ]);
  assert.deepEqual(pieces, [
    { text: "foods", hit: true },
    { text: " and ", hit: false },
    { text: "cooking", hit: true },
  ]);
  assert.equal(pieces.map((p) => p.text).join(""), text);
  assert.deepEqual(highlightPieces("abc", []), [{ text: "abc", hit: false }]);
});
