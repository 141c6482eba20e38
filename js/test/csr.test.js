import assert from "node:assert/strict";
import { test } from "node:test";
import { decodeCSR } from "../src/lib/csr.js";
import { csrPayload, pack, shifted } from "./helpers.js";

// 4 tokens × 5 features: token 1 has none, token 2 a tie, token 3 float16's largest value.
const ROWS = [
  [
    [1, 0.5],
    [3, 2],
  ],
  [],
  [
    [3, 1],
    [0, 1],
  ],
  [[4, 65504]],
];

test("decode keeps the shape and reads values lazily", () => {
  const csr = decodeCSR(csrPayload(ROWS, 5));
  assert.equal(csr.dSae, 5);
  assert.equal(csr.nRows, 4);
  assert.equal(csr.nnz, 5);
  assert.deepEqual(Array.from(csr.indptr), [0, 2, 2, 4, 5]);
  assert.deepEqual(Array.from(csr.indices), [1, 3, 3, 0, 4]);
  assert.equal(csr.values.get(4), 65504);
});

test("row(t): the features at a token, strongest first, ties by id", () => {
  const csr = decodeCSR(csrPayload(ROWS, 5));
  assert.deepEqual(csr.row(0), [
    [3, 2],
    [1, 0.5],
  ]);
  assert.deepEqual(csr.row(1), []);
  assert.deepEqual(csr.row(2), [
    [0, 1],
    [3, 1],
  ]);
  assert.deepEqual(csr.row(0, 1), [[3, 2]]);
  assert.deepEqual(csr.row(4), []);
  assert.deepEqual(csr.row(-1), []);
});

test("column(f): one feature over all tokens, 0 where it is inactive", () => {
  const csr = decodeCSR(csrPayload(ROWS, 5));
  assert.deepEqual(Array.from(csr.column(3)), [2, 0, 1, 0]);
  assert.deepEqual(Array.from(csr.column(4)), [0, 0, 0, 65504]);
  assert.deepEqual(Array.from(csr.column(2)), [0, 0, 0, 0]);
  assert.deepEqual(Array.from(csr.column(5)), [0, 0, 0, 0]); // out of range
  assert.deepEqual(Array.from(csr.column(-1)), [0, 0, 0, 0]);
});

test("max(f) comes from feature_max, or is computed when a payload lacks it", () => {
  const sent = decodeCSR(csrPayload(ROWS, 5));
  const computed = decodeCSR(csrPayload(ROWS, 5, { withMax: false }));
  for (const csr of [sent, computed]) {
    assert.deepEqual([0, 1, 2, 3, 4].map(csr.max), [1, 0.5, 0, 2, 65504]);
    assert.equal(csr.max(7), 0);
  }
  // the kernel's maxima are what the view shows, even where they differ from the values
  const payload = csrPayload(ROWS, 5);
  payload.feature_max = pack([9, 9, 9, 9, 9], "float32");
  assert.equal(decodeCSR(payload).max(1), 9);
  assert.deepEqual(Array.from(computed.maxima()), [1, 0.5, 0, 2, 65504]);
});

test("wide SAEs send int32 indices; slices of a buffer decode the same", () => {
  const wide = csrPayload([[[70000, 1.5]], [[3, 0.25]]], 100000);
  assert.equal(wide.indices.dtype, "int32");
  const csr = decodeCSR({
    ...wide,
    indices: shifted(wide.indices, 2),
    values: shifted(wide.values, 1),
  });
  assert.deepEqual(csr.row(0), [[70000, 1.5]]);
  assert.deepEqual(Array.from(csr.column(3)), [0, 0.25]);
  assert.equal(csr.max(70000), 1.5);
});

test("subnormal and negative float16 values survive the round trip", () => {
  const csr = decodeCSR(csrPayload([[[0, 2 ** -24]], [[0, -3.5]]], 1));
  assert.deepEqual(Array.from(csr.column(0)), [2 ** -24, -3.5]);
});

test("empty payloads and inconsistent ones", () => {
  assert.equal(decodeCSR(undefined), null);
  assert.equal(decodeCSR({}), null);
  const empty = decodeCSR(csrPayload([], 3));
  assert.equal(empty.nRows, 0);
  assert.deepEqual(Array.from(empty.column(1)), []);
  const noRows = csrPayload(ROWS, 5);
  delete noRows.n_rows;
  assert.equal(decodeCSR(noRows).nRows, 4);
  assert.throws(() => decodeCSR({ ...csrPayload(ROWS, 5), n_rows: 3 }), /5 entries for 3 rows/);
  const short = { ...csrPayload(ROWS, 5), values: pack([1, 2], "float16") };
  assert.throws(() => decodeCSR(short), /5 indices and 2 values/);
});
