import assert from "node:assert/strict";
import { test } from "node:test";
import {
  availableFeatures,
  chipTitle,
  countText,
  decodeCatalog,
  emptyTokenText,
  probeShading,
  rowLabel,
  searchCatalog,
} from "../src/browser/state.js";
import { sequential } from "../src/lib/colors.js";
import { decodeProbe } from "../src/lib/probe.js";
import { csrPayload, pack } from "./helpers.js";

// Token fields as the kernel sends them: a token table and [features, 5] rows of indices.
const TOKENS = [" cat", " dog", " kibble", " x", " food", " ", "Paris"];
const rows = (table) => ({ ...pack(table.flat(), "int16"), shape: [table.length, 5] });
const catalog = decodeCatalog({
  density: pack([0.1, 0.3, 0, 0.3, 0.05], "float32"),
  max: pack([5, 1, 0, 2, 9], "float32"),
  labels: ["cats", "Dogs", "", "cat food", "<img src=x>"],
  tokens: TOKENS,
  top_tokens: rows([
    [0, -1, -1, -1, -1],
    [1, -1, -1, -1, -1],
    [-1, -1, -1, -1, -1],
    [4, 2, -1, -1, -1],
    [3, -1, -1, -1, -1],
  ]),
  promoted: rows([
    [0, 5, 6, 1, -1],
    [1, -1, -1, -1, -1],
    [-1, -1, -1, -1, -1],
    [2, -1, -1, -1, -1],
    [3, -1, -1, -1, -1],
  ]),
});
const ALL = [0, 1, 2, 3, 4];

test("the catalog decodes", () => {
  assert.equal(catalog.size, 5);
  assert.equal(catalog.density[1], Math.fround(0.3));
  assert.equal(catalog.labels[4], "<img src=x>");
});

test("available: every feature with a kernel, carried cards without", () => {
  assert.deepEqual(
    availableFeatures(5, true, () => false),
    ALL,
  );
  assert.deepEqual(
    availableFeatures(5, false, (f) => f % 2 === 0),
    [0, 2, 4],
  );
});

test("the catalog's token fields decode to texts", () => {
  assert.deepEqual(catalog.topTokens[3], [" food", " kibble"]);
  assert.deepEqual(catalog.promoted[0], [" cat", " ", "Paris", " dog"]);
  assert.deepEqual(catalog.topTokens[2], []);
  assert.equal(catalog.promotedText[0], 'cat / " " / Paris'); // three shown, a blank quoted
});

test("search by whole words of label and tokens, any case; by id with or without #", () => {
  const find = (q, key = "id") => searchCatalog(catalog, ALL, q, key).rows;
  assert.deepEqual(find("CAT"), [0, 3]);
  assert.deepEqual(find("kibble"), [3]);
  assert.deepEqual(find(" dog "), [0, 1]); // 0 promotes " dog"
  assert.deepEqual(find("#4"), [4]);
  assert.deepEqual(find("2"), [2]);
  assert.deepEqual(find("<img"), [4]); // punctuation separates words: the word "img"
  assert.deepEqual(find(""), ALL);
  assert.deepEqual(find(" <> "), ALL); // no words: nothing to search by
  assert.deepEqual(find("horse"), []);
  assert.deepEqual(find("ca"), []); // two letters: whole words only
  assert.deepEqual(find("paris"), [0]); // a promoted token beyond the three shown
});

test("best match order, and what matched", () => {
  const found = searchCatalog(catalog, ALL, "cat", "match");
  assert.deepEqual(found.rows, [3, 0]); // "cat food": exact in the label; "cats": a prefix
  assert.deepEqual(
    found.rows.map((f) => found.matches.get(f).matches[0].field),
    ["label", "label"],
  );
  const food = searchCatalog(catalog, ALL, "food", "match");
  assert.deepEqual(food.rows, [3]);
  assert.equal(food.matches.get(3).matches[0].field, "label");
  const token = searchCatalog(catalog, ALL, "kibble", "match").matches.get(3).matches[0];
  assert.deepEqual([token.field, token.text], ["top_tokens", " kibble"]);
  assert.deepEqual(searchCatalog(catalog, ALL, "", "match").rows, [1, 3, 0, 4, 2]); // density
});

test("the list shows at most `limit` rows and says so", () => {
  const found = searchCatalog(catalog, ALL, "", "density", 2);
  assert.deepEqual(found.rows, [1, 3]);
  assert.equal(found.total, 5);
  assert.equal(countText(found), "5 of 5 features (first 2 shown)");
  assert.equal(countText(searchCatalog(catalog, ALL, "cat", "id")), "2 of 5 features");
  const many = { total: 4608, of: 4608, limit: 100 };
  assert.equal(countText(many), "4,608 of 4,608 features (first 100 shown)");
});

test("row labels, chips, empty tokens", () => {
  assert.equal(rowLabel(catalog, 0), "cats");
  assert.equal(rowLabel(catalog, 2), "(never fires)");
  assert.equal(chipTitle(2.5, 3), "max 2.50 on 3 tokens");
  assert.match(emptyTokenText(true), /^first position \/ BOS: an attention sink/);
  assert.equal(emptyTokenText(false), "no active features");
});

test("probe shading: full colour at the larger of the text's peak and the corpus max", () => {
  const probe = decodeProbe({
    tokens: ["a", "b", "c"],
    skipped: [0],
    csr: csrPayload(
      [
        [],
        [[0, 2.5]],
        [
          [0, 10],
          [4, 4.5],
        ],
      ],
      5,
    ),
  });
  // feature 0: corpus max 5 < this text's 10
  assert.deepEqual(probeShading(probe, 0, catalog.max), ["", sequential(0.25), sequential(1)]);
  // feature 4: corpus max 9 > this text's 4.5
  assert.deepEqual(probeShading(probe, 4, catalog.max), ["", "", sequential(0.5)]);
  assert.deepEqual(probeShading(probe, -1, catalog.max), ["", "", ""]);
});

test("label scores sort and filter the catalog; unscored last, shared labels found", () => {
  const scored = decodeCatalog({
    density: pack([0.1, 0.3, 0, 0.3, 0.05], "float32"),
    max: pack([5, 1, 0, 2, 9], "float32"),
    detection: pack([0.9, Number.NaN, 0.55, 0.75, 0.82], "float32"),
    twins: pack([1, 0, 0, 1, 0], "int8"),
    labels: ["cats", "Dogs", "", "cats", "<img src=x>"],
    tokens: TOKENS,
    top_tokens: rows([[0, -1, -1, -1, -1], ...Array(4).fill([-1, -1, -1, -1, -1])]),
    promoted: rows(Array(5).fill([-1, -1, -1, -1, -1])),
  });
  const find = (key, quality) => searchCatalog(scored, ALL, "", key, 100, quality).rows;
  assert.deepEqual(find("detection", "all"), [0, 4, 3, 2, 1]); // NaN (unscored) last
  assert.deepEqual(find("detection", "detection>=0.8"), [0, 4]);
  assert.deepEqual(find("detection", "detection>=0.7"), [0, 4, 3]);
  assert.deepEqual(find("id", "detection<0.6"), [2]); // unscored is not "doubtful"
  assert.deepEqual(find("id", "twins"), [0, 3]);
  const twins = searchCatalog(scored, ALL, "", "id", 100, "twins");
  assert.equal(countText(twins), "2 of 5 features");
  assert.throws(() => find("id", "best"), /unknown label filter best/);
  // a payload from before label scores: every label unscored, none shared
  assert.ok(Number.isNaN(catalog.detection[0]));
  assert.equal(catalog.twins[0], 0);
});
