import assert from "node:assert/strict";
import { test } from "node:test";
import {
  cardForNode,
  countText,
  DOT,
  decodeGraph,
  edgeStyle,
  groupOf,
  groupPinned,
  intersects,
  interveneState,
  interventionView,
  keepsNode,
  LABEL_GAP,
  LEFT,
  layoutGraph,
  multiplierLabel,
  neighbours,
  nodeFacts,
  nodeName,
  nodeShape,
  nodeTitle,
  pinScores,
  placeLabel,
  RIGHT,
  ranksFor,
  removeSupernode,
  renameSupernode,
  stackTargetLabels,
  strongestEdges,
  targetLabel,
  thresholdText,
  togglePin,
  truncate,
} from "../src/graphview/state.js";
import { pack } from "./helpers.js";

// tokens "a", " b"; two features and an error at position 1; one logit target.
function graph() {
  return decodeGraph({
    ids: ["E_1_0", "E_2_1", "0_5_1", "0_-1_1", "1_3_1", "3_100_1"],
    types: ["token", "token", "feature", "error", "feature", "logit"],
    labels: ["a", " b", "cats", "", "<b>x</b>", " the"],
    sites: [
      "",
      "",
      "blocks.0.hook_resid_post",
      "blocks.0.hook_resid_post",
      "blocks.1.hook_resid_post",
      "",
    ],
    stream: pack([0, 0, 1, 1, 2, 3], "int32"),
    pos: pack([0, 1, 1, 1, 1, 1], "int32"),
    feature: pack([-1, -1, 5, -1, 3, -1], "int32"),
    activation: pack([0, 0, 1.5, 0, 4, 0], "float32"),
    prob: pack([0, 0, 0, 0, 0, 0.25], "float32"),
    ranks: [pack([0, 0, 0.2, 0.9, 0.5, 0], "float32"), pack([0, 0, 0.6, 0.95, 0.1, 0], "float32")],
    targets: [5],
    edge_src: pack([0, 1, 2, 3, 4], "int32"),
    edge_tgt: pack([2, 2, 4, 4, 5], "int32"),
    edge_w: pack([0.5, -2, 3, 0.25, 1], "float32"),
    edge_share: pack([0.2, -0.8, 0.9, 0.1, 1], "float32"),
    n_edges_total: 5,
    tokens: ["a", " b"],
    streams: [
      [0, "tokens"],
      [1, "blocks.0.hook_resid_post"],
      [2, "blocks.1.hook_resid_post"],
      [3, "targets"],
    ],
    scores: { replacement: 0.5, completeness: 0.75 },
    multipliers: [-1, 0, 2],
    has_stats: [],
  });
}

test("decode: typed arrays and an id index", () => {
  const g = graph();
  assert.equal(g.indexOf.get("1_3_1"), 4);
  assert.deepEqual(Array.from(g.tgt), [2, 2, 4, 4, 5]);
  assert.equal(ranksFor(g, -1), g.ranks[0]);
  assert.equal(ranksFor(g, 0), g.ranks[1]);
});

test("pruning keeps tokens and targets, other nodes within the threshold", () => {
  assert.ok(keepsNode("token", 1, 0.1));
  assert.ok(keepsNode("logit", 1, 0.1));
  assert.ok(keepsNode("feature_target", 1, 0.1));
  assert.ok(keepsNode("feature", 0.5, 0.5));
  assert.ok(!keepsNode("error", 0.9, 0.8));
});

test("layout: streams as rows (targets on top), token columns, most influential first", () => {
  const g = graph();
  const at = layoutGraph(g, { ranks: ranksFor(g, -1), threshold: 0.8, available: 700 });
  assert.deepEqual(Array.from(at.visible), [1, 1, 1, 0, 1, 1]); // the error (0.9) is pruned
  assert.equal(at.shown, 5);
  assert.deepEqual(at.streams, [3, 2, 1, 0]);
  assert.equal(at.colW, (700 - LEFT - RIGHT) / 2);
  assert.equal(at.width, 700);
  assert.equal(at.gutter, 700 - RIGHT); // the target labels' gutter
  // one grid row per stream: y = 10, then + DOT + 18 per stream, + 40 for token labels
  assert.deepEqual(
    [...at.top.entries()],
    [
      [3, 10],
      [2, 37],
      [1, 64],
      [0, 91],
    ],
  );
  assert.equal(at.height, 10 + 4 * (DOT + 18) + 40);
  const x = (i) => at.xy[2 * i];
  const y = (i) => at.xy[2 * i + 1];
  assert.equal(x(0), LEFT + 6);
  assert.equal(x(1), LEFT + at.colW + 6);
  assert.equal(y(5), 16); // the target's row is on top
  assert.equal(y(0), 97);
  // with the error kept, the cell of stream 1 at position 1 holds two nodes side by side,
  // the more influential feature (rank 0.2) first
  const all = layoutGraph(g, { ranks: ranksFor(g, -1), threshold: 1, available: 700 });
  assert.equal(all.xy[2 * 3] - all.xy[2 * 2], DOT);
  assert.equal(all.xy[2 * 3 + 1], all.xy[2 * 2 + 1]);
  // a narrow view still gives each token column 30 px
  assert.equal(layoutGraph(g, { ranks: g.ranks[0], threshold: 1, available: 0 }).width, 640);
  assert.equal(countText(1234, 5000), "1,234 of 5,000 nodes shown");
});

test("nodes: shapes and sizes", () => {
  assert.deepEqual(nodeShape("token", 0), { kind: "rect", size: 3.6 });
  assert.deepEqual(nodeShape("error", 0.5), { kind: "rect", size: 3.6 });
  assert.deepEqual(nodeShape("logit", 0), { kind: "circle", size: 4.5 });
  assert.deepEqual(nodeShape("feature", 0), { kind: "circle", size: 4.2 });
  assert.deepEqual(nodeShape("feature", 2), { kind: "circle", size: 1.6 });
});

test("neighbourhoods and edge styles", () => {
  const g = graph();
  const visible = Uint8Array.from([1, 1, 1, 0, 1, 1]);
  assert.deepEqual([...neighbours(g, visible, 4)].sort(), [2, 4, 5]); // 3 is hidden
  assert.deepEqual([...neighbours(g, visible, 0)].sort(), [0, 2]);
  const calm = edgeStyle(g, 1, -1);
  assert.equal(calm.stroke, "rgba(118,42,131,0.560)"); // negative: purple
  assert.ok(Math.abs(calm.width - Math.sqrt(0.8) * 2.5) < 1e-6);
  assert.equal(edgeStyle(g, 2, 4).stroke, "rgba(27,120,55,1.000)"); // touching the focus
  assert.equal(edgeStyle(g, 0, 4).stroke, "rgba(27,120,55,0.040)"); // away from it
  assert.ok(Math.abs(edgeStyle(g, 0, 4).width - Math.sqrt(0.2) * 2.5) < 1e-6);
});

test("names and facts: token text made visible, labels as they are", () => {
  const g = graph();
  assert.equal(nodeName(g, 1), "·b");
  assert.equal(nodeName(g, 5), "·the");
  assert.equal(nodeName(g, 4), "<b>x</b>");
  const ranks = ranksFor(g, -1);
  assert.deepEqual(nodeFacts(g, 4, ranks), {
    title: "<b>x</b>",
    where: 'feature #3 · blocks.1.hook_resid_post · token "·b" (position 1)',
    numbers: "activation 4.00 · influence rank 0.50",
  });
  // with the kernel's words for places, no raw id is shown
  const named = {
    ...g,
    places: g.types.map((t) => (t === "feature" ? "layer 1 residual stream" : t)),
  };
  assert.equal(
    nodeFacts(named, 4, ranks).where,
    'feature #3 · layer 1 residual stream · token "·b" (position 1)',
  );
  assert.equal(nodeTitle(named, 4), "<b>x</b> · layer 1 residual stream");
  assert.equal(nodeTitle(named, 5), "·the");
  assert.equal(nodeFacts(g, 3, ranks).title, "error");
  assert.equal(nodeFacts(g, 5, ranks).numbers, "p = 0.25");
  assert.equal(nodeFacts(g, 0, ranks).numbers, null);
  assert.equal(targetLabel(g, 5), "logit: ·the");
});

test("strongest edges by |weight|", () => {
  const g = graph();
  assert.deepEqual(strongestEdges(g, 2, true), [
    { other: 1, weight: -2 },
    { other: 0, weight: 0.5 },
  ]);
  assert.deepEqual(strongestEdges(g, 2, false), [{ other: 4, weight: 3 }]);
  assert.deepEqual(strongestEdges(g, 2, true, 1), [{ other: 1, weight: -2 }]);
});

test("pins and supernodes", () => {
  assert.deepEqual(togglePin(["a"], "b"), ["a", "b"]);
  assert.deepEqual(togglePin(["a", "b"], "a"), ["b"]);
  const sns = [["first", "a"]];
  assert.deepEqual([...groupOf(sns)], [["a", 0]]);
  assert.deepEqual(groupPinned(["a", "b", "c"], sns, "  second "), {
    supernodes: [
      ["first", "a"],
      ["second", "b", "c"],
    ],
  });
  assert.deepEqual(groupPinned(["b"], sns, " "), { error: "type a label for the supernode first" });
  assert.deepEqual(groupPinned(["a"], sns, "x"), {
    error: "pin nodes that are not yet grouped first",
  });
  assert.deepEqual(renameSupernode(sns, 0, " renamed "), [["renamed", "a"]]);
  assert.deepEqual(renameSupernode(sns, 0, "  "), [["first", "a"]]);
  assert.deepEqual(removeSupernode(sns, 0), []);
});

test("pin scores are current only for exactly the scored pins", () => {
  const sc = { pinned: ["a", "b"], replacement: 0.5, completeness: 0.25 };
  assert.deepEqual(pinScores(sc, ["a", "b"], false), {
    current: true,
    replacement: "0.5",
    text: "as a subgraph: replacement 0.50 · completeness 0.25",
  });
  assert.equal(pinScores(sc, ["b", "a"], true).current, false);
  assert.equal(pinScores(sc, ["a", "b", "c"], true).text, "scoring the pinned subgraph…");
  assert.equal(pinScores({}, ["a"], false).text, "scores of a changed pin set need a kernel");
  assert.equal(pinScores(undefined, ["a"], false).replacement, "");
});

test("cards, interventions, control texts", () => {
  const card = { node_id: "0_5_1", feature: 5 };
  const cards = { "1_3_1": { feature: 3 } };
  assert.equal(cardForNode(card, cards, "0_5_1"), card);
  assert.equal(cardForNode(card, cards, "1_3_1"), cards["1_3_1"]);
  assert.equal(cardForNode({}, {}, "x"), undefined);
  assert.deepEqual(interveneState(true, true), { enabled: true, why: "" });
  assert.match(interveneState(true, false).why, /loaded from a file/);
  assert.match(interveneState(false, true).why, /need a running kernel/);
  const view = interventionView({
    nodes: ["0_5_1"],
    multiplier: 0,
    mode: "free",
    correlation: 0.9,
    targets: [
      { label: " the", predicted: -1, actual: -1.25, prob_before: 0.5, prob_after: 0.25 },
      { label: "x", predicted: 1, actual: 2, prob_before: null },
    ],
  });
  assert.equal(
    view.summary,
    "1 node(s) × 0 in the real model; predicted vs actual change, r = 0.90",
  );
  assert.deepEqual(view.rows[0], {
    label: "·the",
    predicted: "-1.00",
    actual: "-1.25",
    prob: "0.50 → 0.25",
  });
  assert.equal(view.rows[1].prob, "");
  assert.equal(multiplierLabel(0), "× 0 (ablate)");
  assert.equal(multiplierLabel(-2), "× -2");
  assert.equal(thresholdText(0.8), " 80%");
});

test("target labels: a list in the gutter, in node order, never closer than a line", () => {
  // ten targets in one cell (two grid rows of five): their labels would pile up at the node
  const points = Array.from({ length: 10 }, (_, i) => ({
    i,
    x: 500 + (i % 5) * DOT,
    y: 16 + Math.floor(i / 5) * DOT,
  }));
  const out = stackTargetLabels(points.reverse());
  assert.deepEqual(
    out.map((p) => p.i),
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
  );
  assert.equal(out[0].ly, 16);
  for (let k = 1; k < out.length; k++) assert.ok(out[k].ly - out[k - 1].ly >= LABEL_GAP);
  // a label lower down stays at its node's height
  assert.equal(stackTargetLabels([{ i: 0, x: 0, y: 200 }])[0].ly, 200);
  assert.equal(truncate("abcdefghij", 6), "abcde…");
  assert.equal(truncate("abc", 6), "abc");
  assert.equal(truncate("😀😀😀😀", 3), "😀😀…"); // characters, not UTF-16 halves
});

test("supernode labels: beside the group, off every node and every other label", () => {
  assert.ok(intersects({ x: 0, y: 0, w: 10, h: 10 }, { x: 5, y: 5, w: 10, h: 10 }));
  assert.ok(!intersects({ x: 0, y: 0, w: 10, h: 10 }, { x: 10, y: 0, w: 10, h: 10 }));
  // a grid of nodes 9 px apart, rows 27 px apart (a gap of 18 px between rows)
  const nodes = [];
  for (const row of [0, 1, 2]) {
    for (let c = 0; c < 20; c++) nodes.push({ x: 160 + c * DOT, y: 20 + row * 36, r: 4.5 });
    for (let c = 0; c < 20; c++) nodes.push({ x: 160 + c * DOT, y: 29 + row * 36, r: 4.5 });
  }
  const box = (n) => ({ x: n.x - n.r, y: n.y - n.r, w: 2 * n.r, h: 2 * n.r });
  const bounds = { x: 150, y: 0, w: 400, h: 200 };
  const around = { x: 190, y: 51, w: 20, h: 18 }; // nodes of the middle row
  const taken = [];
  for (let k = 0; k < 3; k++) {
    const at = placeLabel(60, 13, around, nodes, taken, bounds);
    const label = { x: at.x, y: at.y, w: 60, h: 13 };
    assert.ok(at.free);
    assert.ok(!nodes.some((n) => intersects(label, box(n))), `label ${k} covers a node`);
    assert.ok(!taken.some((t) => intersects(label, t)), `label ${k} covers a label`);
    assert.ok(label.x >= bounds.x && label.x + label.w <= bounds.x + bounds.w);
    taken.push(label);
  }
  // the first sits in the gap just above the group
  assert.ok(taken[0].y + 13 <= around.y && taken[0].y >= around.y - 20);
  // nowhere free: still inside the bounds, apart from the other labels
  const crowded = placeLabel(60, 13, around, [{ x: 300, y: 100, r: 500 }], [], bounds);
  assert.equal(crowded.free, false);
  assert.ok(crowded.y >= 0);
});
