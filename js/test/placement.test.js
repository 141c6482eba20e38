import assert from "node:assert/strict";
import { test } from "node:test";
import { GAP, MARGIN, placeTip } from "../src/lib/placement.js";

const VIEW = { width: 800, height: 600 };
const box = (left, top, width = 20, height = 16) => ({
  left,
  top,
  right: left + width,
  bottom: top + height,
});

test("below the anchor when it fits there", () => {
  const at = placeTip(box(100, 100), { width: 200, height: 150 }, VIEW);
  assert.deepEqual(at, { left: 100, top: 116 + GAP, maxHeight: null });
});

test("above the anchor when only the room above is enough", () => {
  const at = placeTip(box(100, 500), { width: 200, height: 150 }, VIEW);
  assert.deepEqual(at, { left: 100, top: 500 - GAP - 150, maxHeight: null });
});

test("kept inside the right and left edges", () => {
  assert.equal(placeTip(box(780, 100), { width: 200, height: 50 }, VIEW).left, 800 - MARGIN - 200);
  assert.equal(placeTip(box(-30, 100), { width: 200, height: 50 }, VIEW).left, MARGIN);
  // wider than the viewport: starts at the left margin
  assert.equal(placeTip(box(300, 100), { width: 900, height: 50 }, VIEW).left, MARGIN);
});

test("too tall for either side: the roomier side, height capped to it", () => {
  const below = placeTip(box(10, 200), { width: 100, height: 500 }, VIEW);
  assert.equal(below.top, 216 + GAP);
  assert.equal(below.maxHeight, 600 - MARGIN - (216 + GAP));
  const above = placeTip(box(10, 390), { width: 100, height: 500 }, VIEW);
  assert.equal(above.maxHeight, 390 - GAP - MARGIN);
  assert.equal(above.top, MARGIN);
});

test("an anchor outside the viewport still gets a tooltip inside it", () => {
  for (const anchor of [box(10, 700), box(10, -200), box(10, 596)]) {
    const at = placeTip(anchor, { width: 100, height: 120 }, VIEW);
    const height = at.maxHeight ?? 120;
    assert.ok(at.top >= MARGIN && at.top + height <= VIEW.height - MARGIN, JSON.stringify(at));
    assert.equal(height, 120);
  }
});

test("every placement lies inside the viewport", () => {
  for (let y = -50; y <= 650; y += 25) {
    for (const h of [20, 200, 590, 900]) {
      const at = placeTip(box(300, y), { width: 150, height: h }, VIEW);
      const height = at.maxHeight ?? h;
      assert.ok(at.top >= MARGIN - 1e-9, `${y} ${h}`);
      assert.ok(at.top + height <= VIEW.height - MARGIN + 1e-9, `${y} ${h}`);
    }
  }
});
