// Concept against fluency over steering strengths: two lines on one small SVG chart.
import { fmt } from "./format.js";
import { svg } from "./histogram.js";

// points: [[strength, concept (probability gain), perplexity, activation], ...]
export function sweepChart(points, { width = 360, height = 150, title = "" } = {}) {
  const pad = { top: 18, bottom: 22, left: 44, right: 44 };
  const root = svg("svg", {
    class: "saew-chart saew-sweep-chart",
    width,
    height,
    viewBox: `0 0 ${width} ${height}`,
    role: "img",
    "aria-label": `strength sweep ${title}`,
  });
  const xs = points.map((p) => p[0]);
  const lo = Math.min(...xs);
  const hi = Math.max(...xs);
  const x = (v) => pad.left + ((v - lo) / (hi - lo || 1)) * (width - pad.left - pad.right);
  const plotH = height - pad.top - pad.bottom;
  const axis = (values, log) => {
    const finite = values.filter((v) => v !== null && Number.isFinite(v) && (!log || v > 0));
    const f = log ? Math.log10 : (v) => v;
    const a = finite.length ? Math.min(...finite.map(f)) : 0;
    const b = finite.length ? Math.max(...finite.map(f)) : 1;
    return {
      a,
      b,
      y: (v) => pad.top + plotH - ((f(v) - a) / (b - a || 1)) * plotH,
      ok: (v) => v !== null && Number.isFinite(v) && (!log || v > 0),
    };
  };
  const series = [
    {
      index: 1,
      cls: "saew-sweep-concept",
      name: "concept (VocabProj Δp)",
      scale: axis(
        points.map((p) => p[1]),
        false,
      ),
    },
    {
      index: 2,
      cls: "saew-sweep-ppl",
      name: "perplexity (log)",
      scale: axis(
        points.map((p) => p[2]),
        true,
      ),
    },
  ];
  for (const s of series) {
    const kept = points.filter((p) => s.scale.ok(p[s.index]));
    const line = svg("polyline", {
      class: s.cls,
      fill: "none",
      points: kept
        .map((p) => `${x(p[0]).toFixed(1)},${s.scale.y(p[s.index]).toFixed(1)}`)
        .join(" "),
    });
    root.appendChild(line);
    for (const p of kept) {
      const dot = svg("circle", { class: s.cls, cx: x(p[0]), cy: s.scale.y(p[s.index]), r: 3 });
      const tip = svg("title");
      tip.textContent = `strength ${fmt(p[0])}: ${s.name} ${fmt(p[s.index])}`;
      dot.appendChild(tip);
      root.appendChild(dot);
    }
  }
  const label = (text, attrs) => {
    const node = svg("text", { class: "saew-axis-label", ...attrs });
    node.textContent = text;
    root.appendChild(node);
  };
  const [concept, ppl] = series;
  label(`Δp ${fmt(concept.scale.b)}`, { x: 2, y: pad.top + 4 });
  label(`${fmt(concept.scale.a)}`, { x: 2, y: pad.top + plotH });
  label(`ppl ${fmt(10 ** ppl.scale.b)}`, { x: width - pad.right + 2, y: pad.top + 4 });
  label(`${fmt(10 ** ppl.scale.a)}`, { x: width - pad.right + 2, y: pad.top + plotH });
  label(`${fmt(lo)}`, { x: pad.left, y: height - 6 });
  label(`strength`, { x: width / 2 - 20, y: height - 6 });
  label(`${fmt(hi)}`, { x: width - pad.right - 14, y: height - 6 });
  label(title, { x: pad.left, y: 12 });
  return root;
}
