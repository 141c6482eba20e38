import assert from "node:assert/strict";
import { test } from "node:test";
import {
  editedRows,
  measureText,
  nearestStop,
  outputState,
  rowKey,
  rowStops,
  rowsAtStop,
  sameKeys,
  shiftText,
  shortSite,
  strengthText,
  summaryText,
  sweepStrength,
  sweepTitle,
  sweepUnit,
  withoutRow,
} from "../src/steering/state.js";

const ROW = {
  site: "blocks.3.hook_resid_post",
  feature: 7,
  strength: 0,
  mode: "add",
  unit: 2,
  limit: 10,
};

test("site names shorten to layer and hook", () => {
  assert.equal(shortSite("blocks.3.hook_resid_post"), "L3 resid_post");
  assert.equal(shortSite("blocks.12.ln2.hook_normalized"), "L12 ln2.hook_normalized");
  assert.equal(shortSite("embed"), "embed");
});

test("strengths read in their unit", () => {
  assert.equal(strengthText(ROW, 1.5), "1.50 × max (3.00)");
  assert.equal(strengthText({ ...ROW, mode: "clamp" }, 1.5), "set to 1.50 × max (3.00)");
  assert.equal(strengthText({ ...ROW, unit: null }, -0.25), "-0.25 × ‖x‖");
  assert.equal(strengthText({ ...ROW, unit: undefined, mode: "clamp" }, 1), "set to 1.00 × ‖x‖");
  assert.equal(strengthText({ ...ROW, mode: "ablate" }, 3), "ablated");
});

test("row views are kept while the rows keep their keys", () => {
  const rows = [ROW, { ...ROW, feature: 9 }];
  const keys = rows.map(rowKey);
  assert.equal(keys[0], "blocks.3.hook_resid_post|7|10");
  assert.ok(sameKeys([{ ...ROW, strength: 4 }, rows[1]], keys)); // a strength edit: in place
  assert.ok(!sameKeys([rows[1], ROW], keys)); // reordered
  assert.ok(!sameKeys([ROW], keys)); // removed
  assert.ok(sameKeys([], [])); // no rows, no views
});

test("a commit saves every slider's strength and mode; remove drops one row", () => {
  const rows = [ROW, { ...ROW, feature: 9 }];
  const next = editedRows(rows, [{ strength: 2.5, mode: "clamp" }]);
  assert.deepEqual(next[0], { ...ROW, strength: 2.5, mode: "clamp" });
  assert.deepEqual(next[1], rows[1]);
  assert.notEqual(next[1], rows[1]); // copies, never the trait's own objects
  assert.equal(rows[0].strength, 0);
  assert.deepEqual(withoutRow(rows, 0), [rows[1]]);
  assert.deepEqual(withoutRow(rows, 5), rows);
});

test("measures and summaries", () => {
  assert.equal(shiftText(0.0125), "+1.25 pp");
  assert.equal(shiftText(-0.5), "-50.00 pp");
  assert.equal(shiftText(null), "–");
  assert.equal(
    measureText({ feature: 7, activation: 3.25, vocab_shift: 0.01 }),
    "#7: activation 3.25 on the new tokens · VocabProj tokens +1.00 pp",
  );
  assert.equal(
    measureText({ feature: 7, activation: null, vocab_shift: null }),
    "#7: activation – on the new tokens · VocabProj tokens –",
  );
  // an ablated feature reports no activation (zero by construction), only the VocabProj shift
  assert.equal(
    measureText({ feature: 7, mode: "ablate", activation: null, vocab_shift: -0.02 }),
    "#7: ablated (set to 0 where edited) · VocabProj tokens -2.00 pp",
  );
  assert.equal(
    summaryText({ perplexity: 12.34, n_tokens: 8, seconds: 0.5 }),
    "perplexity 12.3 · 8 tokens in 0.50 s",
  );
  assert.equal(summaryText({ perplexity: null, n_tokens: 8, seconds: 0.5 }), "8 tokens in 0.50 s");
  assert.equal(sweepTitle({ feature: 7, label: "cats", mode: "add" }), "#7 cats (add)");
  assert.equal(sweepTitle({ feature: 7, mode: "clamp" }), "#7  (clamp)");
});

test("the sweep's strengths carry the unit of the payload or of the row swept", () => {
  const sweep = { site: ROW.site, feature: 7, mode: "add", points: [] };
  assert.equal(sweepUnit({ ...sweep, unit: 3 }, [ROW]), 3);
  assert.equal(sweepUnit({ ...sweep, unit: null }, [ROW]), null);
  assert.equal(sweepUnit(sweep, [ROW]), 2);
  assert.equal(sweepUnit(sweep, [{ ...ROW, unit: null }]), null);
  assert.equal(sweepUnit(sweep, [{ ...ROW, feature: 8 }]), undefined);
  assert.equal(sweepStrength(2).label, "strength (× feature's max activation)");
  assert.equal(sweepStrength(2).text(1.5), "strength 1.5 × max (activation 3)");
  assert.equal(sweepStrength(null).label, "strength (× ‖x‖)");
  assert.equal(sweepStrength(null).text(-0.25), "strength -0.25 × ‖x‖");
  assert.equal(sweepStrength(undefined).label, "strength");
});

test("an output column shows only the newest run while a kernel runs", () => {
  const streaming = { run: 4, text: "the cat", done: false };
  assert.deepEqual(outputState(streaming, 5, true), { stale: true });
  const now = outputState(streaming, 4, true);
  assert.deepEqual(now, {
    stale: false,
    run: "4",
    done: false,
    strengths: "",
    text: "the cat",
    summary: null,
    measures: [],
  });
  const done = {
    run: 4,
    text: "the cat sat",
    done: true,
    n_tokens: 3,
    seconds: 0.25,
    perplexity: null,
    measures: [{ feature: 7, strength: 0.8, activation: 1, vocab_shift: 0 }],
  };
  const finished = outputState(done, 4, true);
  assert.equal(finished.strengths, "0.8");
  assert.equal(finished.summary, "3 tokens in 0.25 s");
  assert.deepEqual(finished.measures, [
    { feature: 7, text: "#7: activation 1.00 on the new tokens · VocabProj tokens +0.00 pp" },
  ]);
  // an exported page shows what it carries, whatever run it came from
  assert.equal(outputState(done, 9, false).stale, false);
  assert.equal(outputState(undefined, 0, false).run, "-1");
});

test("an exported page snaps a slider to the nearest precomputed stop", () => {
  const pre = {
    rows: [{ stops: [0, 0.5, 1], texts: [{ text: "a" }, { text: "b" }, { text: "c" }] }],
  };
  assert.deepEqual(rowStops(pre, 0).stops, [0, 0.5, 1]);
  assert.equal(rowStops(pre, 1), null);
  assert.equal(rowStops({ rows: [{ stops: [0, 1], texts: [{}] }] }, 0), null); // incomplete
  assert.equal(rowStops(undefined, 0), null);
  assert.equal(nearestStop([0, 0.5, 1], 0.7), 1);
  assert.equal(nearestStop([0, 0.5, 1], 0.26), 1);
  assert.equal(nearestStop([0, 0.5, 1], 0.25), 0);
  assert.equal(nearestStop([-1, 0, 1], -0.9), 0);
});

test("moving one row in a page puts the others back at their exported strengths", () => {
  const exported = [
    { ...ROW, strength: 0.3 },
    { ...ROW, feature: 9, strength: 0.1 },
  ];
  const moved = rowsAtStop(exported, 1, 0.4);
  assert.deepEqual(
    moved.map((r) => r.strength),
    [0.3, 0.4],
  );
  assert.equal(exported[1].strength, 0.1); // not mutated
});
