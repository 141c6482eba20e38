// Concept against fluency over steering strengths: two lines on one small SVG chart, each with
// its own labelled axis (Δp on the left, perplexity on the right, on a log scale when wide).
import { exact, linearTicks, positiveTicks } from "./axes.js";
import { svg } from "./histogram.js";

const ok = (v) => v !== null && v !== undefined && Number.isFinite(v);

/**
 * points: [[strength, concept (probability gain), perplexity, activation], ...];
 * strengthLabel: the x axis's name with its unit; strengthText(s): a strength as hover text.
 */
export function sweepChart(
  points,
  {
    width = 420,
    height = 200,
    title = "",
    strengthLabel = "strength",
    strengthText = (s) => `strength ${exact(s)}`,
  } = {},
) {
  const pad = { top: 22, bottom: 34, left: 52, right: 52 };
  const root = svg("svg", {
    class: "saew-chart saew-sweep-chart",
    width,
    height,
    viewBox: `0 0 ${width} ${height}`,
    role: "img",
    "aria-label": `strength sweep ${title}`,
  });
  const text = (content, attrs) => {
    const node = svg("text", attrs);
    node.textContent = content;
    root.appendChild(node);
    return node;
  };
  const line = (x1, y1, x2, y2, cls) =>
    root.appendChild(svg("line", { x1, y1, x2, y2, class: cls }));
  const xs = points.map((p) => p[0]).filter(ok);
  const xt = linearTicks(Math.min(...xs), Math.max(...xs), 4);
  const innerW = width - pad.left - pad.right;
  const plotH = height - pad.top - pad.bottom;
  const base = pad.top + plotH;
  const right = pad.left + innerW;
  const x = (v) => pad.left + ((v - xt.lo) / (xt.hi - xt.lo)) * innerW;

  const concepts = points.map((p) => p[1]).filter(ok);
  const ct = linearTicks(Math.min(...concepts), Math.max(...concepts), 4);
  const ppls = points.map((p) => p[2]).filter((v) => ok(v) && v > 0);
  const pt = positiveTicks(Math.min(...ppls), Math.max(...ppls));
  const f = pt.log ? Math.log10 : (v) => v;
  const yConcept = (v) => base - ((v - ct.lo) / (ct.hi - ct.lo)) * plotH;
  const yPpl = (v) => base - ((f(v) - f(pt.lo)) / (f(pt.hi) - f(pt.lo))) * plotH;

  // grid and ticks: Δp on the left (its grid lines), perplexity on the right, strength below
  ct.values.forEach((v, i) => {
    const y = yConcept(v);
    line(pad.left, y, right, y, v === 0 ? "saew-axis" : "saew-grid");
    line(pad.left - 3, y, pad.left, y, "saew-axis");
    text(ct.labels[i], { x: pad.left - 5, y: y + 3, "text-anchor": "end", class: "saew-tick" });
  });
  pt.values.forEach((v, i) => {
    const y = yPpl(v);
    line(right, y, right + 3, y, "saew-axis");
    text(pt.labels[i], { x: right + 5, y: y + 3, class: "saew-tick" });
  });
  xt.values.forEach((v, i) => {
    const at = x(v);
    if (v === 0) line(at, pad.top, at, base, "saew-grid");
    line(at, base, at, base + 3, "saew-axis");
    text(xt.labels[i], { x: at, y: base + 13, "text-anchor": "middle", class: "saew-tick" });
  });
  line(pad.left, pad.top, pad.left, base, "saew-axis");
  line(right, pad.top, right, base, "saew-axis");
  line(pad.left, base, right, base, "saew-axis");

  const series = [
    { index: 1, cls: "saew-sweep-concept", y: yConcept, keep: ok },
    { index: 2, cls: "saew-sweep-ppl", y: yPpl, keep: (v) => ok(v) && v > 0 },
  ];
  const hover = (p) =>
    `${strengthText(p[0])}\nconcept Δp ${exact(p[1])}\nperplexity ${exact(p[2])}` +
    (ok(p[3]) ? `\nfeature activation ${exact(p[3])}` : "");
  for (const s of series) {
    const kept = points.filter((p) => ok(p[0]) && s.keep(p[s.index]));
    root.appendChild(
      svg("polyline", {
        class: s.cls,
        fill: "none",
        points: kept.map((p) => `${x(p[0]).toFixed(1)},${s.y(p[s.index]).toFixed(1)}`).join(" "),
      }),
    );
    for (const p of kept) {
      const dot = svg("circle", { class: s.cls, cx: x(p[0]), cy: s.y(p[s.index]), r: 3 });
      const tip = svg("title");
      tip.textContent = hover(p);
      dot.appendChild(tip);
      root.appendChild(dot);
    }
  }

  // axis names, coloured like their lines
  const mid = pad.top + plotH / 2;
  text("concept Δp (VocabProj)", {
    x: 10,
    y: mid,
    transform: `rotate(-90 10 ${mid})`,
    "text-anchor": "middle",
    class: "saew-axis-label saew-sweep-concept-label",
  });
  text(pt.log ? "perplexity (log scale)" : "perplexity", {
    x: width - 12,
    y: mid,
    transform: `rotate(90 ${width - 12} ${mid})`,
    "text-anchor": "middle",
    class: "saew-axis-label saew-sweep-ppl-label",
  });
  text(strengthLabel, {
    x: pad.left + innerW / 2,
    y: height - 4,
    "text-anchor": "middle",
    class: "saew-axis-label saew-x-label",
  });
  text(title, { x: pad.left, y: 13, class: "saew-axis-label saew-sweep-title" });
  return root;
}
