// Small bar charts drawn as SVG (no charting library: pages stay offline and light).
import { countTicks } from "./axes.js";

const NS = "http://www.w3.org/2000/svg";

export function svg(tag, attrs = {}) {
  const node = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  return node;
}

function text(root, content, attrs) {
  const node = svg("text", attrs);
  node.textContent = content;
  root.appendChild(node);
  return node;
}

/**
 * counts: bar heights; describe(i) → hover text of bar i; colour(i) → fill;
 * ticks: [[fraction 0..1 along the x axis, text], ...]; xLabel / yLabel: the axes' names with
 * their units. The y axis (counts from 0) gets round ticks of its own.
 */
export function barChart({
  counts,
  describe,
  colour,
  ticks = [],
  width = 320,
  height = 124,
  label,
  xLabel = "",
  yLabel = "count",
}) {
  const pad = { top: 9, bottom: 30, left: 42, right: 8 };
  const root = svg("svg", {
    class: "saew-chart",
    width,
    height,
    viewBox: `0 0 ${width} ${height}`,
    role: "img",
    "aria-label": label,
  });
  const yTicks = countTicks(Math.max(0, ...counts));
  const peak = yTicks.hi;
  const inner = width - pad.left - pad.right;
  const step = inner / Math.max(1, counts.length);
  const plotH = height - pad.top - pad.bottom;
  const base = pad.top + plotH;
  yTicks.values.forEach((v, i) => {
    const y = base - (v / peak) * plotH;
    if (v > 0) {
      root.appendChild(
        svg("line", { x1: pad.left, x2: width - pad.right, y1: y, y2: y, class: "saew-grid" }),
      );
    }
    text(root, yTicks.labels[i], {
      x: pad.left - 4,
      y: y + 3,
      "text-anchor": "end",
      class: "saew-tick saew-tick-y",
    });
  });
  counts.forEach((c, i) => {
    const h = c > 0 ? Math.max(1, (c / peak) * plotH) : 0;
    const bar = svg("rect", {
      x: pad.left + i * step + 0.5,
      y: base - h,
      width: Math.max(1, step - 1),
      height: h,
      fill: colour(i),
      class: "saew-bar",
    });
    const title = svg("title");
    title.textContent = describe(i);
    bar.appendChild(title);
    root.appendChild(bar);
  });
  root.appendChild(
    svg("line", { x1: pad.left, x2: width - pad.right, y1: base, y2: base, class: "saew-axis" }),
  );
  root.appendChild(
    svg("line", { x1: pad.left, x2: pad.left, y1: pad.top, y2: base, class: "saew-axis" }),
  );
  for (const [at, content] of ticks) {
    const x = pad.left + at * inner;
    root.appendChild(svg("line", { x1: x, x2: x, y1: base, y2: base + 3, class: "saew-axis" }));
    const anchor = at <= 0.02 ? "start" : at >= 0.98 ? "end" : "middle";
    text(root, content, { x, y: base + 13, "text-anchor": anchor, class: "saew-tick saew-tick-x" });
  }
  if (xLabel) {
    text(root, xLabel, {
      x: pad.left + inner / 2,
      y: height - 3,
      "text-anchor": "middle",
      class: "saew-axis-label saew-x-label",
    });
  }
  if (yLabel) {
    const y = pad.top + plotH / 2;
    text(root, yLabel, {
      x: 9,
      y,
      transform: `rotate(-90 9 ${y})`,
      "text-anchor": "middle",
      class: "saew-axis-label saew-y-label",
    });
  }
  return root;
}
