import assert from "node:assert/strict";
import { test } from "node:test";
import {
  chipTitle,
  defaultFeature,
  docIndex,
  featureProblem,
  labelOf,
  legendName,
  legendRange,
  locate,
  parsePick,
  pickOptions,
  shading,
  siteCache,
  siteLabels,
} from "../src/heatmap/state.js";
import { sequential } from "../src/lib/colors.js";
import { csrPayload } from "./helpers.js";

// three documents of 3, 1 and 2 tokens
const OFFSETS = Int32Array.from([0, 3, 4, 6]);

test("docIndex / locate: global token → [document, position]", () => {
  assert.deepEqual(
    [0, 1, 2, 3, 4, 5].map((t) => docIndex(OFFSETS, t)),
    [0, 0, 0, 1, 2, 2],
  );
  assert.deepEqual(locate(OFFSETS, 0), [0, 0]);
  assert.deepEqual(locate(OFFSETS, 3), [1, 0]);
  assert.deepEqual(locate(OFFSETS, 5), [2, 1]);
  assert.deepEqual(locate(Int32Array.from([0, 4]), 3), [0, 3]);
});

test("sites decode once, on first use", () => {
  const sites = { a: csrPayload([[[1, 1]], [], [], [], [], []], 4), b: csrPayload([[]], 8) };
  const get = siteCache(sites);
  assert.equal(get("a"), get("a"));
  assert.equal(get("a").dSae, 4);
  assert.equal(get("b").dSae, 8);
  assert.equal(get("missing"), null);
});

test("labels per site", () => {
  const labels = { s: { 3: "cats", 12: "Dogs and CATS" } };
  assert.deepEqual(siteLabels(labels, "s"), { 3: "cats", 12: "Dogs and CATS" });
  assert.deepEqual(siteLabels(undefined, "s"), {});
  assert.equal(labelOf(labels, "s", 12), "Dogs and CATS");
  assert.equal(labelOf(labels, "s", 4), "");
  assert.equal(labelOf(labels, "other", 3), "");
  assert.deepEqual(pickOptions(labels.s), ["3 cats", "12 Dogs and CATS"]);
});

test("parsePick: a leading id, else the first label containing the text", () => {
  const labels = { 3: "cats", 12: "Dogs and CATS" };
  assert.deepEqual(parsePick("17", labels), { feature: 17 });
  assert.deepEqual(parsePick(" #17 ", labels), { feature: 17 });
  assert.deepEqual(parsePick("12 Dogs and CATS", labels), { feature: 12 }); // a datalist entry
  assert.deepEqual(parsePick("CAT", labels), { feature: 3 });
  assert.deepEqual(parsePick("dogs", labels), { feature: 12 });
  assert.deepEqual(parsePick("horse", labels), { error: 'no feature id or label matches "horse"' });
  assert.equal(parsePick("   ", labels), null);
});

test("featureProblem at a site", () => {
  assert.equal(featureProblem(0, 96), "");
  assert.equal(featureProblem(95, 96), "");
  assert.equal(featureProblem(5000, 96), "feature must be an integer in 0..95");
  assert.equal(featureProblem(Number.NaN, 96), "feature must be an integer in 0..95");
});

test("shading: each token by value / max; nothing when the feature never fires", () => {
  assert.deepEqual(shading(Float32Array.from([0, 1, 2]), 2), ["", sequential(0.5), sequential(1)]);
  assert.deepEqual(shading(Float32Array.from([0, 0]), 0), ["", ""]);
});

test("legend and chip texts", () => {
  assert.equal(legendName(7, ""), "#7");
  assert.equal(legendName(7, "cats"), "#7 cats");
  assert.equal(legendRange(12.345), "0 – 12.3");
  assert.equal(legendRange(0), "never active here");
  assert.equal(chipTitle(2.345, 12), "max 2.35 · active on 12 tokens");
});

test("a site opens on its first summary feature, or none", () => {
  const summary = {
    a: [
      [7, 2.5, 3],
      [1, 1, 9],
    ],
    b: [],
  };
  assert.equal(defaultFeature(summary, "a"), 7);
  assert.equal(defaultFeature(summary, "b"), -1);
  assert.equal(defaultFeature(summary, "missing"), -1);
  assert.equal(defaultFeature(undefined, "a"), -1);
});
