import assert from "node:assert/strict";
import { test } from "node:test";
import { decodeProbe } from "../src/lib/probe.js";
import { csrPayload } from "./helpers.js";

function payload() {
  return {
    text: "a cat",
    tokens: ["<s>", "a", " cat"],
    skipped: [0],
    csr: csrPayload(
      [
        [],
        [[2, 1.5]],
        [
          [2, 0.5],
          [7, 3],
        ],
      ],
      8,
    ),
    top: [
      [7, 3, 1],
      [2, 1.5, 2],
    ],
  };
}

test("the live box's payload: tokens, skipped positions, the CSR, top features", () => {
  const probe = decodeProbe(payload());
  assert.equal(probe.text, "a cat");
  assert.deepEqual(probe.tokens, ["<s>", "a", " cat"]);
  assert.ok(probe.skipped.has(0) && !probe.skipped.has(1));
  assert.deepEqual(Array.from(probe.csr.column(2)), [0, 1.5, 0.5]);
  assert.deepEqual(probe.csr.row(2), [
    [7, 3],
    [2, 0.5],
  ]);
  assert.deepEqual(probe.csr.row(0), []); // a skipped position has no activations
  assert.deepEqual(probe.top[0], [7, 3, 1]);
});

test("no probe yet, a cached decode per payload, a payload that disagrees with itself", () => {
  assert.equal(decodeProbe({}), null);
  assert.equal(decodeProbe(undefined), null);
  assert.equal(decodeProbe({ tokens: ["a"] }), null); // the old layout (no csr) is not read
  const raw = payload();
  assert.equal(decodeProbe(raw), decodeProbe(raw));
  assert.deepEqual(decodeProbe({ ...payload(), skipped: undefined, top: undefined }).top, []);
  assert.throws(() => decodeProbe({ ...payload(), tokens: ["a"] }), /1 tokens but 3 CSR rows/);
});
