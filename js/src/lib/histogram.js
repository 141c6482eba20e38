// Small bar charts drawn as SVG (no charting library: pages stay offline and light).
const NS = "http://www.w3.org/2000/svg";

export function svg(tag, attrs = {}) {
  const node = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  return node;
}

/**
 * counts: bar heights; describe(i) → hover text of bar i; colour(i) → fill;
 * ticks: [[fraction 0..1 along the axis, text], ...].
 */
export function barChart({
  counts,
  describe,
  colour,
  ticks = [],
  width = 320,
  height = 90,
  label,
}) {
  const pad = { top: 4, bottom: 16, left: 2, right: 2 };
  const root = svg("svg", {
    class: "saew-chart",
    width,
    height,
    viewBox: `0 0 ${width} ${height}`,
    role: "img",
    "aria-label": label,
  });
  const peak = Math.max(1, ...counts);
  const inner = width - pad.left - pad.right;
  const step = inner / Math.max(1, counts.length);
  const plotH = height - pad.top - pad.bottom;
  counts.forEach((c, i) => {
    const h = c > 0 ? Math.max(1, (c / peak) * plotH) : 0;
    const bar = svg("rect", {
      x: pad.left + i * step + 0.5,
      y: pad.top + plotH - h,
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
    svg("line", {
      x1: pad.left,
      x2: width - pad.right,
      y1: pad.top + plotH,
      y2: pad.top + plotH,
      class: "saew-axis",
    }),
  );
  for (const [at, text] of ticks) {
    const x = pad.left + at * inner;
    const anchor = at <= 0.02 ? "start" : at >= 0.98 ? "end" : "middle";
    const t = svg("text", { x, y: height - 3, "text-anchor": anchor, class: "saew-tick" });
    t.textContent = text;
    root.appendChild(t);
  }
  return root;
}
