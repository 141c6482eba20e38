import assert from "node:assert/strict";
import { test } from "node:test";
import { cardFor, featureProblem, missingCardText, probeSummary } from "../src/lib/featurestate.js";
import { decodeProbe } from "../src/lib/probe.js";
import { csrPayload } from "./helpers.js";

test("cardFor: the kernel's card when it is this feature's, else the page's", () => {
  const current = { feature: 4, max: 2 };
  const cards = { 4: { feature: 4, max: 1 }, 9: { feature: 9 } };
  assert.equal(cardFor(current, cards, 4), current);
  assert.equal(cardFor(current, cards, 9), cards[9]);
  assert.equal(cardFor({}, cards, 9), cards[9]);
  assert.equal(cardFor(current, {}, 5), null);
  assert.equal(cardFor(undefined, undefined, 5), null);
});

test("featureProblem: range, and cards an exported page lacks", () => {
  const opts = { dSae: 96, live: true, hasCard: false };
  assert.equal(featureProblem(5, opts), "");
  assert.equal(featureProblem(96, opts), "feature must be an integer in 0..95");
  assert.equal(featureProblem(-1, opts), "feature must be an integer in 0..95");
  assert.equal(featureProblem(1.5, opts), "feature must be an integer in 0..95");
  assert.match(featureProblem(5, { ...opts, live: false }), /#5 is not included in this page/);
  assert.equal(featureProblem(5, { ...opts, live: false, hasCard: true }), "");
  assert.equal(missingCardText(5, true), "loading feature #5…");
  assert.equal(missingCardText(5, false), "feature #5 is not included in this page");
});

test("probeSummary: values, the peak token and the colour scale", () => {
  const probe = decodeProbe({
    text: "a b c",
    tokens: ["a", " b", " c"],
    skipped: [],
    csr: csrPayload([[[1, 0.5]], [[1, 2]], [[0, 4]]], 2),
    top: [],
  });
  const hit = probeSummary(probe, 1, 3);
  assert.deepEqual(Array.from(hit.values), [0.5, 2, 0]);
  assert.equal(hit.peak, 2);
  assert.equal(hit.at, 1);
  assert.equal(hit.scale, 3); // the card's max is larger than this text's peak
  assert.equal(hit.text, "#1 peaks at 2.00 on “·b”");
  assert.equal(probeSummary(probe, 1).scale, 2);
  const miss = probeSummary(probe, 0, 1);
  assert.equal(probeSummary(probe, 0).peak, 4);
  assert.equal(miss.scale, 4);
  const none = decodeProbe({ tokens: ["a"], csr: csrPayload([[]], 2) });
  assert.equal(probeSummary(none, 1).text, "#1 does not fire on this text");
});
