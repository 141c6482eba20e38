import assert from "node:assert/strict";
import { test } from "node:test";
import { metaLine, parseFeatureId } from "../src/dashboard/state.js";

test("the picker takes an id, with or without #", () => {
  assert.deepEqual(parseFeatureId("42", 96), { feature: 42 });
  assert.deepEqual(parseFeatureId(" #7 ", 96), { feature: 7 });
  assert.deepEqual(parseFeatureId("cats", 96), { error: '"cats" is not a feature id (0..95)' });
  assert.deepEqual(parseFeatureId("4 cats", 96), { error: '"4 cats" is not a feature id (0..95)' });
});

test("the meta line", () => {
  const meta = { model: "SmolLM2", n_tokens: 123456, corpus: "default" };
  assert.equal(metaLine(meta), "SmolLM2 · 123,456 tokens of default");
  assert.equal(metaLine({}), " · 0 tokens of ?");
});

test("a PruningMaxAct core is the span ending at the focus, clipped to the example", async () => {
  const { coreIndices } = await import("../src/lib/examples.js");
  assert.deepEqual(coreIndices(5, 3, 10), [3, 4, 5]);
  assert.deepEqual(coreIndices(1, 12, 10), [0, 1]); // longer than what the example shows
  assert.deepEqual(coreIndices(4, 1, 10), [4]);
  assert.deepEqual(coreIndices(-1, 3, 10), []); // no focus
  assert.deepEqual(coreIndices(4, 0, 10), []);
  assert.deepEqual(coreIndices(4, undefined, 10), []);
});
