import assert from "node:assert/strict";
import { test } from "node:test";
import { sequential } from "../src/lib/colors.js";
import { fmt, percent, visibleText } from "../src/lib/format.js";

test("fmt keeps about three significant digits", () => {
  assert.equal(fmt(1234.5), "1235");
  assert.equal(fmt(-150), "-150");
  assert.equal(fmt(12.345), "12.3");
  assert.equal(fmt(1.2345), "1.23");
  assert.equal(fmt(0.0042), "0.00");
  assert.equal(fmt(Number.NaN), "NaN");
  assert.equal(fmt(Number.POSITIVE_INFINITY), "Infinity");
  assert.equal(fmt(undefined), "undefined");
});

test("percent", () => {
  assert.equal(percent(0), "0%");
  assert.equal(percent(0.1234), "12.3%");
  assert.equal(percent(0.01), "1.0%");
  assert.equal(percent(0.00042), "0.042%");
});

test("visibleText marks whitespace and keeps one line", () => {
  assert.equal(visibleText(" the\tcat\r\n"), "·the⇥cat␍↵");
  assert.equal(visibleText("<b>x</b>"), "<b>x</b>"); // text, never markup
});

test("the sequential scale: transparent at 0, quantised, capped at 1", () => {
  assert.equal(sequential(0), "");
  assert.equal(sequential(-1), "");
  assert.equal(sequential(Number.NaN), "");
  assert.equal(sequential(1), "rgba(230,97,1,calc(0.900 * var(--saew-heat-scale, 1)))");
  assert.equal(sequential(5), sequential(1));
  assert.equal(sequential(0.5), "rgba(230,97,1,calc(0.490 * var(--saew-heat-scale, 1)))");
});
