// The graph itself: nodes as SVG (hover shows a node's neighbourhood, click opens its card,
// shift-click pins) over a canvas with the edges, so thousands of them stay cheap.
import { clear, h } from "../lib/dom.js";
import { visibleText } from "../lib/format.js";
import { svg } from "../lib/histogram.js";
import { keyboardItems } from "../lib/roving.js";
import {
  countText,
  edgeStyle,
  groupColour,
  groupOf,
  LEFT,
  layoutGraph,
  neighbours,
  nodeShape,
  placeLabel,
  ranksFor,
  stackTargetLabels,
  TARGET_CHARS,
  truncate,
} from "./state.js";

const SUPERNODE_CHARS = 28;

export function stage(model, g, { el, root, count, tooltip, describe, togglePin }) {
  const n = g.ids.length;
  const canvas = h("canvas", { class: "saew-graph-edges" });
  const layer = svg("svg", { class: "saew-graph-nodes" });
  const node = h("div", { class: "saew-graph-stage" }, canvas, layer);
  const dpr = window.devicePixelRatio || 1;
  let placed = { xy: new Float32Array(2 * n), visible: new Uint8Array(n), width: 0, height: 0 };
  let hovered = -1;
  let shapes = new Map();

  function layout() {
    const ranks = ranksFor(g, model.get("target"));
    placed = layoutGraph(g, {
      ranks,
      threshold: model.get("node_threshold"),
      available: (el.clientWidth || 960) - 300,
    });
    count.textContent = countText(placed.shown, n);
    count.dataset.visible = String(placed.shown);
    drawNodes(ranks);
    drawEdges();
  }

  function text(attrs, content) {
    const t = svg("text", attrs);
    t.textContent = content;
    layer.appendChild(t);
  }

  function drawNodes(ranks) {
    const { xy, visible, streams, top, colW, width, height } = placed;
    clear(layer);
    layer.setAttribute("width", String(width));
    layer.setAttribute("height", String(height));
    layer.setAttribute("viewBox", `0 0 ${width} ${height}`);
    const names = new Map(g.streams);
    for (const s of streams)
      text({ x: 4, y: top.get(s) + 10, class: "saew-graph-stream" }, names.get(s));
    g.tokens.forEach((tok, p) => {
      text(
        { x: LEFT + p * colW + 2, y: height - 24, class: "saew-graph-token" },
        visibleText(tok).slice(0, 8),
      );
    });
    const pinned = new Set(model.get("pinned"));
    const supernodes = model.get("supernodes") || [];
    const groups = groupOf(supernodes);
    const clicked = model.get("clicked");
    shapes = new Map();
    for (let i = 0; i < n; i++) {
      if (!visible[i]) continue;
      const type = g.types[i];
      const { kind, size } = nodeShape(type, ranks[i]);
      const attrs = { class: `saew-node saew-node-${type}`, "data-node": g.ids[i] };
      const [x, y] = [xy[2 * i], xy[2 * i + 1]];
      const shape =
        kind === "rect"
          ? svg("rect", { ...attrs, x: x - size, y: y - size, width: 2 * size, height: 2 * size })
          : svg("circle", { ...attrs, cx: x, cy: y, r: size });
      if (pinned.has(g.ids[i])) shape.classList.add("saew-pinned");
      if (g.ids[i] === clicked) shape.classList.add("saew-clicked");
      if (groups.has(g.ids[i])) shape.style.stroke = groupColour(groups.get(g.ids[i]));
      shape.saewIndex = i;
      shapes.set(i, shape);
      layer.appendChild(shape);
    }
    drawTargetLabels();
    drawSupernodeLabels(supernodes);
  }

  // A text with the full text as its hover title (beside the text, so its textContent is
  // what is drawn).
  function titled(attrs, content, full) {
    const group = svg("g", { class: "saew-graph-titled" });
    const title = svg("title", {});
    title.textContent = full;
    const t = svg("text", attrs);
    t.textContent = content;
    group.append(title, t);
    return group;
  }

  // Target labels: a list in the right-hand gutter, one per line, each joined to its node.
  function drawTargetLabels() {
    const { xy, visible, gutter } = placed;
    const points = [];
    for (let i = 0; i < n; i++) {
      if (visible[i] && g.types[i] === "logit") points.push({ i, x: xy[2 * i], y: xy[2 * i + 1] });
    }
    for (const { i, x, y, ly } of stackTargetLabels(points)) {
      const full = visibleText(g.labels[i]);
      layer.appendChild(
        svg("line", { class: "saew-graph-leader", x1: x + 5, y1: y, x2: gutter + 4, y2: ly }),
      );
      layer.appendChild(
        titled(
          { x: gutter + 8, y: ly + 3.5, class: "saew-graph-logit", "data-target": g.ids[i] },
          truncate(full, TARGET_CHARS),
          full,
        ),
      );
    }
  }

  // Supernode labels: on a background next to the group, where they cover no node and no
  // other label, joined to the group's nearest member.
  function drawSupernodeLabels(supernodes) {
    const { xy, visible, width, height, gutter } = placed;
    const nodes = [];
    for (const [i] of shapes) {
      nodes.push({ x: xy[2 * i], y: xy[2 * i + 1], r: nodeShape(g.types[i], 0).size + 0.5 });
    }
    const bounds = { x: LEFT, y: 0, w: Math.min(width, gutter) - LEFT, h: height - 36 };
    const taken = [];
    supernodes.forEach((sn, k) => {
      const members = sn
        .slice(1)
        .map((id) => g.indexOf.get(id))
        .filter((i) => i !== undefined && visible[i]);
      if (!members.length) return;
      const xs = members.map((i) => xy[2 * i]);
      const ys = members.map((i) => xy[2 * i + 1]);
      const around = {
        x: Math.min(...xs) - 5,
        y: Math.min(...ys) - 5,
        w: Math.max(...xs) - Math.min(...xs) + 10,
        h: Math.max(...ys) - Math.min(...ys) + 10,
      };
      const full = String(sn[0]);
      const label = truncate(full, SUPERNODE_CHARS);
      const w = Array.from(label).length * 7 + 10;
      const h = 13;
      const at = placeLabel(w, h, around, nodes, taken, bounds);
      const box = { x: at.x, y: at.y, w, h };
      taken.push(box);
      const colour = groupColour(k);
      const mid = { x: box.x + w / 2, y: box.y + h / 2 };
      let near = members[0];
      for (const i of members) {
        const d = Math.hypot(xy[2 * i] - mid.x, xy[2 * i + 1] - mid.y);
        if (d < Math.hypot(xy[2 * near] - mid.x, xy[2 * near + 1] - mid.y)) near = i;
      }
      const tag = svg("g", {
        class: "saew-graph-supernode-tag",
        "data-supernode": String(k),
        "data-free": String(at.free),
      });
      const nx = xy[2 * near];
      const ny = xy[2 * near + 1];
      tag.appendChild(
        svg("line", {
          class: "saew-graph-supernode-leader",
          x1: Math.min(Math.max(nx, box.x), box.x + w),
          y1: ny < box.y ? box.y : box.y + h,
          x2: nx,
          y2: ny,
          stroke: colour,
        }),
      );
      tag.appendChild(
        svg("rect", {
          class: "saew-graph-supernode-bg",
          x: box.x,
          y: box.y,
          width: w,
          height: h,
          rx: 3,
          stroke: colour,
        }),
      );
      tag.appendChild(
        titled(
          { x: mid.x, y: box.y + h - 3, class: "saew-graph-supernode", fill: colour },
          label,
          full,
        ),
      );
      layer.appendChild(tag);
    });
  }

  function drawEdges() {
    const { xy, visible, width, height } = placed;
    canvas.width = Math.round(width * dpr);
    canvas.height = Math.round(height * dpr);
    canvas.style.width = `${width}px`;
    canvas.style.height = `${height}px`;
    const ctx = canvas.getContext("2d");
    if (!ctx) return;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, width, height);
    const clicked = g.indexOf.get(model.get("clicked"));
    const focus = hovered >= 0 ? hovered : clicked !== undefined ? clicked : -1;
    let drawn = 0;
    for (let e = 0; e < g.src.length; e++) {
      const s = g.src[e];
      const t = g.tgt[e];
      if (!visible[s] || !visible[t]) continue;
      const style = edgeStyle(g, e, focus);
      ctx.strokeStyle = style.stroke;
      ctx.lineWidth = style.width;
      ctx.beginPath();
      ctx.moveTo(xy[2 * s], xy[2 * s + 1]);
      ctx.lineTo(xy[2 * t], xy[2 * t + 1]);
      ctx.stroke();
      drawn++;
    }
    canvas.dataset.edges = String(drawn);
  }

  function highlight(i) {
    hovered = i;
    root.dataset.hovered = i >= 0 ? g.ids[i] : "";
    const near = i >= 0 ? neighbours(g, placed.visible, i) : null;
    for (const [k, shape] of shapes)
      shape.classList.toggle("saew-dim", near !== null && !near.has(k));
    drawEdges();
  }

  layer.addEventListener("mouseover", (event) => {
    const i = event.target.saewIndex;
    if (i === undefined) return;
    highlight(i);
    tooltip.show(event.target, describe(i));
  });
  layer.addEventListener("mouseout", (event) => {
    if (event.target.saewIndex === undefined) return;
    highlight(-1);
    tooltip.hide();
  });
  keyboardItems(layer, "[data-node]", {
    label: "graph nodes: arrow keys move, Enter opens a node's card, Shift+Enter pins it",
    keyOf: (el) => el.getAttribute("data-node"),
  });
  layer.addEventListener("click", (event) => {
    const i = event.target.saewIndex;
    if (i === undefined) return;
    if (event.shiftKey || event.ctrlKey || event.metaKey) togglePin(g.ids[i]);
    else {
      model.set("clicked", g.ids[i]);
      model.save_changes();
    }
  });

  return { node, layout };
}
