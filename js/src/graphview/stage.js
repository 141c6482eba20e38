// The graph itself: nodes as SVG (hover shows a node's neighbourhood, click opens its card,
// shift-click pins) over a canvas with the edges, so thousands of them stay cheap.
import { clear, h } from "../lib/dom.js";
import { visibleText } from "../lib/format.js";
import { svg } from "../lib/histogram.js";
import {
  countText,
  edgeStyle,
  groupColour,
  groupOf,
  LEFT,
  layoutGraph,
  neighbours,
  nodeShape,
  ranksFor,
} from "./state.js";

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
    for (let i = 0; i < n; i++) {
      if (!visible[i] || g.types[i] !== "logit") continue;
      text(
        { x: xy[2 * i] + 6, y: xy[2 * i + 1] - 6, class: "saew-graph-logit" },
        visibleText(g.labels[i]).slice(0, 10),
      );
    }
    supernodes.forEach((sn, k) => {
      const members = sn
        .slice(1)
        .map((id) => g.indexOf.get(id))
        .filter((i) => i !== undefined && visible[i]);
      if (!members.length) return;
      const cx = members.reduce((a, i) => a + xy[2 * i], 0) / members.length;
      const cy = Math.min(...members.map((i) => xy[2 * i + 1])) - 8;
      text({ x: cx, y: cy, class: "saew-graph-supernode", fill: groupColour(k) }, sn[0]);
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
