import assert from "node:assert/strict";
import { test } from "node:test";
import {
  countTicks,
  exact,
  linearTicks,
  logTicks,
  logTicksWithin,
  niceStep,
  positiveTicks,
  tickText,
} from "../src/lib/axes.js";

test("niceStep picks 1, 2 or 5 times a power of ten", () => {
  assert.equal(niceStep(10, 4), 5);
  assert.equal(niceStep(1, 4), 0.5);
  assert.equal(niceStep(0.07, 4), 0.02);
  assert.equal(niceStep(137, 3), 50);
  assert.equal(niceStep(0, 4), 1);
});

test("linear ticks are round, cover the range and share their decimals", () => {
  const t = linearTicks(-0.0123, 0.0456);
  assert.deepEqual(t.values, [-0.02, 0, 0.02, 0.04, 0.06]);
  assert.deepEqual(t.labels, ["-0.02", "0.00", "0.02", "0.04", "0.06"]);
  assert.equal(t.lo, -0.02);
  assert.equal(t.hi, 0.06);
  assert.deepEqual(linearTicks(-2, 2).labels, ["-2", "-1", "0", "1", "2"]);
  assert.deepEqual(linearTicks(-0.03, 0.12, 3).labels, ["-0.05", "0.00", "0.05", "0.10", "0.15"]);
  // one value or none: a range around it
  assert.deepEqual(linearTicks(0, 0).labels, ["-1.0", "-0.5", "0.0", "0.5", "1.0"]);
  assert.ok(linearTicks(3, 3).values.includes(3));
  assert.deepEqual(linearTicks(Number.NaN, Number.NaN).values, [0, 0.5, 1]);
});

test("count ticks are whole numbers from zero", () => {
  assert.deepEqual(countTicks(137).labels, ["0", "50", "100", "150"]);
  assert.deepEqual(countTicks(3).labels, ["0", "1", "2", "3"]);
  assert.deepEqual(countTicks(0).labels, ["0", "1"]);
  assert.deepEqual(countTicks(24000).labels, ["0", "10k", "20k", "30k"]);
});

test("log ticks step 1-2-5, or by decades over a wide range", () => {
  const t = logTicks(3.1, 12.21243);
  assert.deepEqual(t.labels, ["2", "5", "10", "20"]);
  assert.equal(t.lo, 2);
  assert.equal(t.hi, 20);
  assert.deepEqual(logTicks(1.5, 2.1).labels, ["1", "2", "5"]);
  assert.deepEqual(logTicks(2, 2).labels, ["2", "5"]);
  assert.deepEqual(logTicks(0.8, 400).labels, ["0.1", "1", "10", "100", "1000"]);
  assert.ok(logTicks(1, 1e9).values.length <= 7);
  assert.equal(logTicks(1, 1e9).hi >= 1e9, true);
});

test("log ticks inside a fixed range, or its two ends", () => {
  assert.deepEqual(logTicksWithin(0.0123, 54.4).labels, ["0.1", "1", "10"]);
  assert.deepEqual(logTicksWithin(0.5, 3).labels, ["0.5", "1", "2"]);
  assert.deepEqual(logTicksWithin(3.1234, 3.9).labels, ["3.12", "3.9"]);
});

test("tick and hover texts are short", () => {
  assert.equal(tickText(-0.0001, 2), "0.00");
  assert.equal(tickText(2500000), "2.5M");
  assert.equal(tickText(3e9), "3e9");
  assert.equal(exact(12.21243), "12.21");
  assert.equal(exact(0.000123456), "0.0001235");
  assert.equal(exact(123456.7), "123,457");
  assert.equal(exact(null), "null");
  for (const label of logTicks(3.1, 12.21243).labels) assert.ok(label.length <= 4, label);
});

test("positive values get a log axis only over a wide range", () => {
  const narrow = positiveTicks(185.8, 222.4);
  assert.equal(narrow.log, false);
  assert.deepEqual(narrow.labels, ["180", "200", "220", "240"]);
  const wide = positiveTicks(3.1, 12.21243);
  assert.equal(wide.log, true);
  assert.deepEqual(wide.labels, ["2", "5", "10", "20"]);
});
