// SteeringPanel's decisions (pure: no DOM): how rows and strengths read, which rows a slider
// edit produces, what each output column shows for the newest run.
import { exact } from "../lib/axes.js";
import { fmt } from "../lib/format.js";

export const MODES = ["add", "clamp", "ablate"];
export const APPLY_TO = [
  ["both", "prompt + generated"],
  ["prompt", "prompt only"],
  ["generated", "generated only"],
];

/** "blocks.3.hook_resid_post" → "L3 resid_post" (other names unchanged). */
export function shortSite(site) {
  const m = /^blocks\.(\d+)\.(.*)$/.exec(site || "");
  return m ? `L${m[1]} ${m[2].replace(/^hook_/, "")}` : site;
}

/** A row's strength in its unit: × the feature's max (with statistics) or × ‖x‖. */
export function strengthText(row, value) {
  if (row.mode === "ablate") return "ablated";
  const verb = row.mode === "clamp" ? "set to" : "";
  if (row.unit === null || row.unit === undefined) return `${verb} ${fmt(value)} × ‖x‖`.trim();
  return `${verb} ${fmt(value)} × max (${fmt(value * row.unit)})`.trim();
}

/** What identifies a row's view: rows with the same keys are updated in place. */
export function rowKey(row) {
  return `${row.site}|${row.feature}|${row.limit}`;
}

export function sameKeys(rows, keys) {
  return rows.length === keys.length && rows.every((r, i) => rowKey(r) === keys[i]);
}

/** The rows with the strengths and modes the sliders show now (`edits[i]`: {strength, mode}). */
export function editedRows(rows, edits) {
  return rows.map((row, i) =>
    edits[i] ? { ...row, strength: edits[i].strength, mode: edits[i].mode } : { ...row },
  );
}

export function withoutRow(rows, index) {
  return rows.filter((_, i) => i !== index);
}

/** "+1.25 pp" / "–" for a measure's VocabProj probability shift. */
export function shiftText(shift) {
  if (shift === null || shift === undefined) return "–";
  return `${shift >= 0 ? "+" : ""}${(100 * shift).toFixed(2)} pp`;
}

export function measureText(m) {
  const shift = `VocabProj tokens ${shiftText(m.vocab_shift)}`;
  // An ablated feature is zero where it was edited: no activation to report.
  if (m.mode === "ablate") return `#${m.feature}: ablated (set to 0 where edited) · ${shift}`;
  const act = m.activation === null || m.activation === undefined ? "–" : fmt(m.activation);
  return `#${m.feature}: activation ${act} on the new tokens · ${shift}`;
}

/** "perplexity 12.3 · 8 tokens in 0.52 s". */
export function summaryText(data) {
  const parts = [];
  if (data.perplexity !== null && data.perplexity !== undefined) {
    parts.push(`perplexity ${fmt(data.perplexity)}`);
  }
  parts.push(`${data.n_tokens} tokens in ${fmt(data.seconds)} s`);
  return parts.join(" · ");
}

/**
 * What an output column (`_baseline` / `_steered`) shows. A text from an older run than
 * `current` is stale while a kernel runs the new one (its last text stays, dimmed); exported
 * pages show what they carry.
 */
export function outputState(data = {}, current, live) {
  if (data.run !== current && live) return { stale: true };
  const done = Boolean(data.done);
  return {
    stale: false,
    run: String(data.run ?? -1),
    done,
    // which strengths this text was generated with (what the kernel ran, not the sliders)
    strengths: (data.measures || []).map((m) => m.strength).join(","),
    text: data.text || "",
    summary: done ? summaryText(data) : null,
    measures: done
      ? (data.measures || []).map((m) => ({ feature: m.feature, text: measureText(m) }))
      : [],
  };
}

/**
 * The unit of a sweep's strengths (activation per strength step; null: × ‖x‖): the payload's
 * `unit` when it has one, else that of the panel row with the same site and feature; undefined
 * when neither says.
 */
export function sweepUnit(sweep, rows = []) {
  if (Object.hasOwn(sweep, "unit")) return sweep.unit ?? null;
  const row = rows.find((r) => r.site === sweep.site && r.feature === sweep.feature);
  return row ? (row.unit ?? null) : undefined;
}

/** The sweep's strength axis: its label with the unit, and a strength as a hover text. */
export function sweepStrength(unit) {
  if (unit === undefined) return { label: "strength", text: (s) => `strength ${exact(s)}` };
  if (unit === null) {
    return { label: "strength (× ‖x‖)", text: (s) => `strength ${exact(s)} × ‖x‖` };
  }
  return {
    label: "strength (× feature's max activation)",
    text: (s) => `strength ${exact(s)} × max (activation ${exact(s * unit)})`,
  };
}

/** The sweep chart's title. */
export function sweepTitle(sweep) {
  return `#${sweep.feature} ${sweep.label || ""} (${sweep.mode})`;
}

/**
 * The texts an exported page carries for row `index` (`_precomputed`, see
 * `SteeringPanel.precompute`): `{ stops, texts }`, or null when it has none.
 */
export function rowStops(precomputed, index) {
  const row = precomputed?.rows?.[index];
  return row?.stops?.length && row.texts?.length === row.stops.length ? row : null;
}

/** Index of the stop nearest to `value` (the first of two equally near). */
export function nearestStop(stops, value) {
  let best = 0;
  for (let i = 1; i < stops.length; i++) {
    if (Math.abs(stops[i] - value) < Math.abs(stops[best] - value)) best = i;
  }
  return best;
}

/**
 * The rows after row `index` moved to `strength` in an exported page: the others go back to
 * the strengths the page was exported with (the only combinations it has texts for).
 */
export function rowsAtStop(exported, index, strength) {
  return exported.map((r, i) => (i === index ? { ...r, strength } : { ...r }));
}
