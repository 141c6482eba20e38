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

const catalog = decodeCatalog({
  density: pack([0.1, 0.3, 0, 0.3, 0.05], "float32"),
  max: pack([5, 1, 0, 2, 9], "float32"),
  labels: ["cats", "Dogs", "", "cat food", "<img src=x>"],
  promoted: [" cat", " dog", "", " kibble", " x"],
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

test("search by label or promoted token, any case; by id with or without #", () => {
  const find = (q, key = "id") => searchCatalog(catalog, ALL, q, key).rows;
  assert.deepEqual(find("CAT"), [0, 3]);
  assert.deepEqual(find("kibble"), [3]);
  assert.deepEqual(find(" dog "), [1]);
  assert.deepEqual(find("#4"), [4]);
  assert.deepEqual(find("2"), [2]);
  assert.deepEqual(find("<img"), [4]);
  assert.deepEqual(find(""), ALL);
  assert.deepEqual(find("horse"), []);
});

test("sorting: most frequent or strongest first, ties by id", () => {
  assert.deepEqual(searchCatalog(catalog, ALL, "", "density").rows, [1, 3, 0, 4, 2]);
  assert.deepEqual(searchCatalog(catalog, ALL, "", "max").rows, [4, 0, 3, 1, 2]);
  assert.deepEqual(searchCatalog(catalog, [4, 1, 0], "", "id").rows, [4, 1, 0]); // as given
  assert.deepEqual(searchCatalog(catalog, ALL, "cat", "max").rows, [0, 3]);
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
