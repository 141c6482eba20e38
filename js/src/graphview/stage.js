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
  nodeName,
  nodeShape,
  placeLabel,
  ranksFor,
  stackTargetLabels,
  TARGET_CHARS,
  truncate,
} from "./state.js";

const SUPERNODE_CHARS = 28;
const NODE_LABEL_CHARS = 22;
const NODE_LABELS = 14; // the strongest shown features get their name drawn beside them
const ZOOMS = [0.5, 0.67, 0.8, 1, 1.25, 1.5, 2, 2.5, 3, 4];

export function stage(model, g, { el, root, count, tooltip, describe, togglePin }) {
  const n = g.ids.length;
  const canvas = h("canvas", { class: "saew-graph-edges" });
  const layer = svg("svg", { class: "saew-graph-nodes" });
  const scroller = h("div", { class: "saew-graph-stage" }, canvas, layer);
  const dpr = window.devicePixelRatio || 1;
  let placed = { xy: new Float32Array(2 * n), visible: new Uint8Array(n), width: 0, height: 0 };
  let hovered = -1;
  let shapes = new Map();
  let zoom = 1;

  // Zoom scales the drawing (the SVG through its viewBox, the canvas by its transform); the
  // stage scrolls, and dragging its background pans it. Ctrl+wheel (and a trackpad's pinch)
  // zooms around the pointer; a plain wheel keeps scrolling the notebook.
  const zoomLabel = h("span", { class: "saew-graph-zoom-value" }, "100%");
  const zoomButton = (text, title, step) =>
    h(
      "button",
      { class: "saew-graph-zoom-step", title, "aria-label": title, onclick: () => zoomBy(step) },
      text,
    );
  const zoomBar = h(
    "div",
    { class: "saew-graph-zoom", role: "group", "aria-label": "zoom" },
    zoomButton("−", "zoom out", -1),
    zoomLabel,
    zoomButton("+", "zoom in", 1),
    h(
      "button",
      { class: "saew-graph-zoom-reset", title: "back to 100%", onclick: () => setZoom(1) },
      "reset",
    ),
  );
  const node = h("div", { class: "saew-graph-view" }, zoomBar, scroller);

  function setZoom(next, anchor = null) {
    const k = Math.min(ZOOMS[ZOOMS.length - 1], Math.max(ZOOMS[0], next));
    if (k === zoom) return;
    const box = scroller.getBoundingClientRect();
    const ax = anchor ? anchor.x - box.left : scroller.clientWidth / 2;
    const ay = anchor ? anchor.y - box.top : scroller.clientHeight / 2;
    const gx = (scroller.scrollLeft + ax) / zoom;
    const gy = (scroller.scrollTop + ay) / zoom;
    zoom = k;
    scroller.dataset.zoom = String(k);
    zoomLabel.textContent = `${Math.round(k * 100)}%`;
    sizeDrawing();
    drawEdges();
    scroller.scrollLeft = gx * k - ax; // the point under the pointer stays put
    scroller.scrollTop = gy * k - ay;
  }

  function zoomBy(step, anchor = null) {
    const at = ZOOMS.findIndex((z) => z >= zoom - 1e-9);
    const i = Math.min(ZOOMS.length - 1, Math.max(0, (at < 0 ? ZOOMS.length - 1 : at) + step));
    setZoom(ZOOMS[i], anchor);
  }

  scroller.addEventListener(
    "wheel",
    (event) => {
      if (!event.ctrlKey && !event.metaKey) return;
      event.preventDefault();
      zoomBy(event.deltaY < 0 ? 1 : -1, { x: event.clientX, y: event.clientY });
    },
    { passive: false },
  );
  let drag = null;
  scroller.addEventListener("mousedown", (event) => {
    if (event.button !== 0 || event.target.saewIndex !== undefined) return;
    drag = {
      x: event.clientX,
      y: event.clientY,
      left: scroller.scrollLeft,
      top: scroller.scrollTop,
    };
    scroller.classList.add("saew-panning");
  });
  const onMove = (event) => {
    if (!drag) return;
    scroller.scrollLeft = drag.left - (event.clientX - drag.x);
    scroller.scrollTop = drag.top - (event.clientY - drag.y);
  };
  const onUp = () => {
    drag = null;
    scroller.classList.remove("saew-panning");
  };
  window.addEventListener("mousemove", onMove);
  window.addEventListener("mouseup", onUp);

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
    const { xy, visible, streams, top, colW, height } = placed;
    clear(layer);
    sizeDrawing();
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
    const taken = drawSupernodeLabels(supernodes);
    drawNodeLabels(ranks, groups, taken);
  }

  function sizeDrawing() {
    const { width, height } = placed;
    layer.setAttribute("width", String(width * zoom));
    layer.setAttribute("height", String(height * zoom));
    layer.setAttribute("viewBox", `0 0 ${width} ${height}`);
  }

  function nodeBoxes() {
    const { xy } = placed;
    const boxes = [];
    for (const [i] of shapes) {
      boxes.push({ x: xy[2 * i], y: xy[2 * i + 1], r: nodeShape(g.types[i], 0).size + 0.5 });
    }
    return boxes;
  }

  // The names of the strongest shown features (not in a supernode), each beside its node where
  // it covers no node and no other label; a name with no free place is left out, not overlapped.
  function drawNodeLabels(ranks, groups, taken) {
    const { xy, visible, width, height, gutter } = placed;
    const strongest = [];
    for (let i = 0; i < n; i++) {
      if (visible[i] && g.types[i] === "feature" && !groups.has(g.ids[i])) strongest.push(i);
    }
    strongest.sort((a, b) => ranks[a] - ranks[b]);
    const nodes = nodeBoxes();
    const bounds = { x: LEFT, y: 0, w: Math.min(width, gutter) - LEFT, h: height - 36 };
    for (const i of strongest.slice(0, NODE_LABELS)) {
      const full = nodeName(g, i) || `#${g.feature[i]}`;
      const label = truncate(full, NODE_LABEL_CHARS);
      const w = Array.from(label).length * 6 + 4;
      const hh = 11;
      const x = xy[2 * i];
      const y = xy[2 * i + 1];
      const at = placeLabel(w, hh, { x: x - 3, y: y - 3, w: 6, h: 6 }, nodes, taken, bounds);
      if (!at.free) continue;
      taken.push({ x: at.x, y: at.y, w, h: hh });
      layer.appendChild(
        titled(
          {
            x: at.x + 2,
            y: at.y + hh - 2,
            class: "saew-graph-node-label",
            "data-node-label": g.ids[i],
          },
          label,
          `${full} · ${g.places?.[i] || g.sites[i]}`,
        ),
      );
    }
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
    const nodes = nodeBoxes();
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
    return taken;
  }

  function drawEdges() {
    const { xy, visible, width, height } = placed;
    canvas.width = Math.round(width * zoom * dpr);
    canvas.height = Math.round(height * zoom * dpr);
    canvas.style.width = `${width * zoom}px`;
    canvas.style.height = `${height * zoom}px`;
    const ctx = canvas.getContext("2d");
    if (!ctx) return;
    ctx.setTransform(dpr * zoom, 0, 0, dpr * zoom, 0, 0);
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

  return {
    node,
    layout,
    dispose() {
      window.removeEventListener("mousemove", onMove);
      window.removeEventListener("mouseup", onUp);
    },
  };
}
