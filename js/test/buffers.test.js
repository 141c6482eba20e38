import assert from "node:assert/strict";
import { test } from "node:test";
import { float16ToFloat32, halfToNumber, numbers, unpack } from "../src/lib/buffers.js";
import { pack, shifted } from "./helpers.js";

test("halfToNumber decodes normals, subnormals, zeros, infinities and NaN", () => {
  assert.equal(halfToNumber(0x3c00), 1);
  assert.equal(halfToNumber(0xc000), -2);
  assert.equal(halfToNumber(0x3555), 0.333251953125);
  assert.equal(halfToNumber(0x7bff), 65504); // largest finite
  assert.equal(halfToNumber(0x0400), 2 ** -14); // smallest normal
  assert.equal(halfToNumber(0x0001), 2 ** -24); // smallest subnormal
  assert.equal(halfToNumber(0x03ff), 1023 * 2 ** -24); // largest subnormal
  assert.equal(halfToNumber(0x8001), -(2 ** -24));
  assert.equal(halfToNumber(0x0000), 0);
  assert.ok(Object.is(halfToNumber(0x8000), -0));
  assert.equal(halfToNumber(0x7c00), Number.POSITIVE_INFINITY);
  assert.equal(halfToNumber(0xfc00), Number.NEGATIVE_INFINITY);
  assert.ok(Number.isNaN(halfToNumber(0x7e00)));
  assert.ok(Number.isNaN(halfToNumber(0xfc01)));
});

test("the bulk decoder agrees with the single-value one on all 65,536 patterns", () => {
  const bits = new Uint16Array(65536).map((_, i) => i);
  const bulk = float16ToFloat32(bits);
  for (let b = 0; b < 65536; b++) {
    const one = halfToNumber(b);
    if (Number.isNaN(one)) assert.ok(Number.isNaN(bulk[b]), `pattern ${b}`);
    else assert.ok(Object.is(bulk[b], one), `pattern ${b.toString(16)}: ${bulk[b]} vs ${one}`);
  }
});

test("unpack makes typed arrays of every dtype, float16 as Float32Array", () => {
  assert.deepEqual(Array.from(unpack(pack([1, -2, 3], "int32"))), [1, -2, 3]);
  assert.deepEqual(Array.from(unpack(pack([7, 65535], "uint16"))), [7, 65535]);
  const halves = unpack(pack([0.5, -1.5, 2 ** -20], "float16"));
  assert.ok(halves instanceof Float32Array);
  assert.deepEqual(Array.from(halves), [0.5, -1.5, 2 ** -20]);
  assert.throws(() => unpack({ dtype: "complex64", data: new DataView(new ArrayBuffer(8)) }), {
    message: /unsupported dtype complex64/,
  });
  assert.throws(() => unpack({ dtype: "int32", data: [1, 2] }), /expected binary data/);
});

test("unpack reads views that start inside a buffer, aligned or not", () => {
  assert.deepEqual(Array.from(unpack(shifted(pack([5, 6], "int32"), 3))), [5, 6]);
  assert.deepEqual(Array.from(unpack(shifted(pack([5, 6], "int32"), 4))), [5, 6]);
  assert.deepEqual(Array.from(unpack(shifted(pack([1.5, -3], "float16"), 1))), [1.5, -3]);
  // typed arrays and bare ArrayBuffers are accepted as data too
  assert.deepEqual(Array.from(unpack({ dtype: "uint8", data: Uint8Array.of(4, 2) })), [4, 2]);
  assert.deepEqual(Array.from(unpack({ dtype: "uint8", data: Uint8Array.of(9).buffer })), [9]);
});

test("numbers decodes float16 one value at a time, other dtypes through unpack", () => {
  const lazy = numbers(shifted(pack([0.25, 2 ** -24, -65504], "float16"), 1));
  assert.equal(lazy.length, 3);
  assert.deepEqual([lazy.get(0), lazy.get(1), lazy.get(2)], [0.25, 2 ** -24, -65504]);
  const plain = numbers(pack([1.5, 2.5], "float32"));
  assert.deepEqual([plain.length, plain.get(1)], [2, 2.5]);
});
