// GraphView's data and decisions (pure: no DOM): the decoded graph, the layer × token layout,
// neighbourhoods, edge styles, pins and supernodes, the texts of the side panel.
import { unpack } from "../lib/buffers.js";
import { fmt, visibleText } from "../lib/format.js";

export const LEFT = 150; // stream labels
export const RIGHT = 130; // the gutter with the target labels
export const TARGET_CHARS = 16; // longer target labels are cut (the full text is their title)
export const LABEL_GAP = 13; // vertical distance between target labels
export const DOT = 9; // grid step of nodes inside a cell
export const POS = "27,120,55"; // positive edges (green)
export const NEG = "118,42,131"; // negative edges (purple)
export const GROUP_COLOURS = [
  "#e66101",
  "#1b9e77",
  "#7570b3",
  "#d95f02",
  "#e7298a",
  "#66a61e",
  "#a6761d",
];
export const EDGES_LISTED = 8;

/** `_graph` with its arrays decoded and `indexOf` (node id → index). */
export function decodeGraph(g) {
  return {
    ...g,
    stream: unpack(g.stream),
    pos: unpack(g.pos),
    feature: unpack(g.feature),
    activation: unpack(g.activation),
    prob: unpack(g.prob),
    ranks: g.ranks.map(unpack),
    src: unpack(g.edge_src),
    tgt: unpack(g.edge_tgt),
    weight: unpack(g.edge_w),
    share: unpack(g.edge_share),
    indexOf: new Map(g.ids.map((id, i) => [id, i])),
  };
}

/** Influence ranks to prune and order by: all targets (-1) or one target's. */
export function ranksFor(g, target) {
  return g.ranks[target < 0 ? 0 : target + 1];
}

/** Tokens, targets and target features always show; other nodes within the threshold. */
export function keepsNode(type, rank, threshold) {
  return type === "token" || type === "logit" || type === "feature_target" || rank <= threshold;
}

/**
 * Where every shown node goes: streams are rows (targets on top), token positions columns;
 * inside a cell nodes fill a grid, most influential first. `available`: the width to fill.
 * A gutter of RIGHT px on the right holds the target labels.
 * Returns {xy (x, y per node), visible (0/1 per node), shown, streams, top (stream → y),
 * colW, width, height, gutter (x where the gutter starts)}.
 */
export function layoutGraph(g, { ranks, threshold, available }) {
  const n = g.ids.length;
  const cols = g.tokens.length;
  let width = Math.max(640, available);
  const colW = Math.max(30, (width - LEFT - RIGHT) / cols);
  width = LEFT + colW * cols + RIGHT;
  const perRow = Math.max(1, Math.floor((colW - 4) / DOT));
  const cells = new Map();
  const visible = new Uint8Array(n);
  let shown = 0;
  for (let i = 0; i < n; i++) {
    if (!keepsNode(g.types[i], ranks[i], threshold)) continue;
    visible[i] = 1;
    shown++;
    const key = `${g.stream[i]}:${g.pos[i]}`;
    if (!cells.has(key)) cells.set(key, []);
    cells.get(key).push(i);
  }
  const streams = g.streams.map((s) => s[0]).sort((a, b) => b - a); // targets on top
  const rowsOf = new Map(streams.map((s) => [s, 1]));
  for (const [key, members] of cells) {
    const s = Number(key.split(":")[0]);
    members.sort((a, b) => ranks[a] - ranks[b]);
    rowsOf.set(s, Math.max(rowsOf.get(s), Math.ceil(members.length / perRow)));
  }
  const top = new Map();
  let y = 10;
  for (const s of streams) {
    top.set(s, y);
    y += rowsOf.get(s) * DOT + 18;
  }
  const height = y + 40; // token labels below
  const xy = new Float32Array(2 * n);
  for (const [key, members] of cells) {
    const [s, p] = key.split(":").map(Number);
    members.forEach((i, k) => {
      xy[2 * i] = LEFT + p * colW + 6 + (k % perRow) * DOT;
      xy[2 * i + 1] = top.get(s) + 6 + Math.floor(k / perRow) * DOT;
    });
  }
  return { xy, visible, shown, streams, top, colW, width, height, gutter: width - RIGHT };
}

/** `text` cut to `n` characters with an ellipsis. */
export function truncate(text, n) {
  const chars = Array.from(text);
  return chars.length > n ? `${chars.slice(0, n - 1).join("")}…` : text;
}

/** Whether boxes {x, y, w, h} overlap (touching edges do not). */
export function intersects(a, b) {
  return a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
}

/**
 * Target labels as a list in the gutter, one per line, in the order of their nodes (top to
 * bottom, then left to right), each as near its node's height as the lines above allow.
 * `points`: [{i, x, y}]. Returns [{i, x, y, ly}] (ly: the label line's middle), never
 * closer than `gap` to each other.
 */
export function stackTargetLabels(points, { top = 10, gap = LABEL_GAP } = {}) {
  const sorted = [...points].sort((a, b) => a.y - b.y || a.x - b.x);
  let next = top;
  return sorted.map((p) => {
    const ly = Math.max(next, p.y);
    next = ly + gap;
    return { ...p, ly };
  });
}

/**
 * Where a label box (w × h) goes next to a group of nodes (`around`, its bounding box
 * {x, y, w, h}): the free place nearest above or below it, then further out, that overlaps
 * no node (`nodes`: [{x, y, r}]), no box in `taken`, and stays within `bounds` {x, y, w, h}.
 * Returns {x, y, free} (free: false when nothing was free and the first candidate is used).
 */
export function placeLabel(w, h, around, nodes, taken, bounds, pad = 1) {
  const cx = around.x + around.w / 2;
  const clampX = (x) => Math.min(Math.max(x, bounds.x), bounds.x + bounds.w - w);
  const candidates = [];
  for (let d = 0; d < 40; d++) {
    for (const dx of [0, -w / 2 - 6, w / 2 + 6, -w - 12, w + 12]) {
      const x = clampX(cx - w / 2 + dx);
      candidates.push({ x, y: around.y - pad - h - d * 4, cost: d * 4 + Math.abs(dx) });
      candidates.push({ x, y: around.y + around.h + pad + d * 4, cost: d * 4 + Math.abs(dx) + 1 });
    }
  }
  candidates.sort((a, b) => a.cost - b.cost);
  const inside = candidates.filter((c) => c.y >= bounds.y && c.y + h <= bounds.y + bounds.h);
  const clearOf = (c) => {
    const box = { x: c.x - pad, y: c.y - pad, w: w + 2 * pad, h: h + 2 * pad };
    return (
      !taken.some((t) => intersects(box, t)) &&
      !nodes.some((n) => intersects(box, { x: n.x - n.r, y: n.y - n.r, w: 2 * n.r, h: 2 * n.r }))
    );
  };
  const best = inside.find(clearOf);
  if (best) return { x: best.x, y: best.y, free: true };
  const apart = inside.find((c) => !taken.some((t) => intersects({ ...c, w, h }, t)));
  const c = apart || inside[0] || candidates[0];
  return { x: c.x, y: c.y, free: false };
}

/** "12 of 340 nodes shown". */
export function countText(shown, n) {
  return `${shown.toLocaleString()} of ${n.toLocaleString()} nodes shown`;
}

/** How a node is drawn: a square (errors, tokens) or a circle, and its half-size. */
export function nodeShape(type, rank) {
  if (type === "error" || type === "token") return { kind: "rect", size: 3.6 };
  if (type === "logit" || type === "feature_target") return { kind: "circle", size: 4.5 };
  if (type === "feature") return { kind: "circle", size: 1.6 + 2.6 * (1 - Math.min(1, rank)) };
  return { kind: "circle", size: 3.6 };
}

/** Supernode index of each grouped node id. */
export function groupOf(supernodes) {
  const out = new Map();
  (supernodes || []).forEach((sn, k) => {
    for (const id of sn.slice(1)) out.set(id, k);
  });
  return out;
}

export function groupColour(k) {
  return GROUP_COLOURS[k % GROUP_COLOURS.length];
}

/** Node i and the shown nodes it has an edge to or from. */
export function neighbours(g, visible, i) {
  const out = new Set([i]);
  for (let e = 0; e < g.src.length; e++) {
    if (g.src[e] === i && visible[g.tgt[e]]) out.add(g.tgt[e]);
    if (g.tgt[e] === i && visible[g.src[e]]) out.add(g.src[e]);
  }
  return out;
}

/**
 * Colour and width of edge e. With a focused node (hovered or clicked) its edges stand out
 * and the rest fade; otherwise opacity follows the edge's share of its target's input.
 */
export function edgeStyle(g, e, focus) {
  const touching = focus >= 0 && (g.src[e] === focus || g.tgt[e] === focus);
  const a = Math.min(1, Math.abs(g.share[e]) * 2);
  const alpha = focus >= 0 ? (touching ? 0.25 + 0.75 * a : 0.04) : 0.06 + 0.5 * a;
  return {
    stroke: `rgba(${g.weight[e] >= 0 ? POS : NEG},${alpha.toFixed(3)})`,
    width: Math.max(0.3, Math.sqrt(Math.abs(g.share[e])) * (touching ? 4 : 2.5)),
  };
}

// Tokens and logits are token text (spaces made visible); feature labels are plain text.
export function nodeName(g, i) {
  const type = g.types[i];
  return type === "token" || type === "logit" ? visibleText(g.labels[i]) : g.labels[i];
}

/** A node's name in lists (inputs, outputs, pins): its label, or feature number, with where
 * it sits ("#7042 · layer 12 MLP output"), never the raw id alone. */
export function nodeTitle(g, i) {
  const type = g.types[i];
  const name = nodeName(g, i) || (type === "feature" ? `#${g.feature[i]}` : type);
  const place = g.places?.[i];
  return type === "feature" || type === "error" ? `${name} · ${place || g.sites[i]}` : name;
}

/** The lines describing node i: title, where it is (in words), its numbers (if any). */
export function nodeFacts(g, i, ranks) {
  const type = g.types[i];
  const title = nodeName(g, i) || (type === "feature" ? `#${g.feature[i]}` : type);
  const place = g.places?.[i] || g.sites[i] || type;
  const what = type === "feature" ? `feature #${g.feature[i]} · ${place}` : place;
  const where = `${what} · token "${visibleText(g.tokens[g.pos[i]] || "")}" (position ${g.pos[i]})`;
  let numbers = null;
  if (type === "feature") {
    numbers = `activation ${fmt(g.activation[i])} · influence rank ${fmt(ranks[i])}`;
  } else if (type === "logit") {
    numbers = `p = ${fmt(g.prob[i])}`;
  }
  return { title, where, numbers };
}

/** Node i's strongest input (or output) edges by |weight|: [{other, weight}, ...]. */
export function strongestEdges(g, i, incoming, limit = EDGES_LISTED) {
  const rows = [];
  for (let e = 0; e < g.src.length; e++) {
    if (incoming ? g.tgt[e] === i : g.src[e] === i) rows.push(e);
  }
  rows.sort((a, b) => Math.abs(g.weight[b]) - Math.abs(g.weight[a]));
  return rows
    .slice(0, limit)
    .map((e) => ({ other: incoming ? g.src[e] : g.tgt[e], weight: g.weight[e] }));
}

/** The card of node `id`: the kernel's current `_card`, else one the page carries. */
export function cardForNode(card, cards, id) {
  return card?.node_id === id ? card : cards?.[id];
}

export function togglePin(pins, id) {
  return pins.includes(id) ? pins.filter((p) => p !== id) : [...pins, id];
}

/** Group the pinned nodes not yet in a supernode under `label`: {supernodes} or {error}. */
export function groupPinned(pins, supernodes, label) {
  const name = label.trim();
  const grouped = groupOf(supernodes);
  const members = pins.filter((id) => !grouped.has(id));
  if (!name) return { error: "type a label for the supernode first" };
  if (!members.length) return { error: "pin nodes that are not yet grouped first" };
  return { supernodes: [...(supernodes || []), [name, ...members]] };
}

export function renameSupernode(supernodes, k, label) {
  return supernodes.map((s, j) => (j === k ? [label.trim() || s[0], ...s.slice(1)] : s));
}

export function removeSupernode(supernodes, k) {
  return supernodes.filter((_, j) => j !== k);
}

/**
 * The pinned subgraph's scores: current when the kernel (or the saved page) scored exactly
 * these pins, in this order.
 */
export function pinScores(scores, pins, live) {
  const sc = scores || {};
  const current =
    Array.isArray(sc.pinned) &&
    sc.pinned.length === pins.length &&
    sc.pinned.every((p, i) => p === pins[i]);
  let text;
  if (current) {
    text = `as a subgraph: replacement ${fmt(sc.replacement)} · completeness ${fmt(sc.completeness)}`;
  } else {
    text = live ? "scoring the pinned subgraph…" : "scores of a changed pin set need a kernel";
  }
  return { current, replacement: current ? String(sc.replacement) : "", text };
}

/** Whether interventions can run, and why not. */
export function interveneState(live, canIntervene) {
  if (live && canIntervene) return { enabled: true, why: "" };
  const why = live
    ? "this graph was loaded from a file: no model to intervene with"
    : "interventions need a running kernel";
  return { enabled: false, why };
}

export function multiplierLabel(m) {
  return `× ${m}${m === 0 ? " (ablate)" : ""}`;
}

export function targetLabel(g, t) {
  return `${g.types[t] === "logit" ? "logit" : "feature"}: ${visibleText(g.labels[t])}`;
}

export function thresholdText(value) {
  return ` ${Math.round(value * 100)}%`;
}

/** The intervention result's heading and table rows. */
export function interventionView(r) {
  const where = r.mode === "free" ? "real" : r.mode;
  return {
    summary: `${r.nodes.length} node(s) × ${r.multiplier} in the ${where} model; predicted vs actual change, r = ${fmt(r.correlation)}`,
    rows: r.targets.map((t) => ({
      label: visibleText(t.label),
      predicted: fmt(t.predicted),
      actual: fmt(t.actual),
      prob:
        t.prob_before === undefined || t.prob_before === null
          ? ""
          : `${fmt(t.prob_before)} → ${fmt(t.prob_after)}`,
    })),
  };
}
