// The panels of one feature's dashboard, drawn from a card (see saewidgets/widgets/cards.py).

import { exact, linearTicks, logTicksWithin } from "./axes.js";
import { h } from "./dom.js";
import { exampleRow, valueTooltips } from "./examples.js";
import { fmt, percent, visibleText } from "./format.js";
import { barChart } from "./histogram.js";

const ORANGE = "rgb(230,97,1)";
const PURPLE = "rgb(94,60,153)";

function panel(title, ...children) {
  return h(
    "section",
    { class: "saew-panel" },
    h("h4", { class: "saew-panel-title" }, title),
    ...children,
  );
}

function header(card) {
  const facts = card.dead
    ? [h("span", { class: "saew-dead" }, `never fired on ${card.n_tokens.toLocaleString()} tokens`)]
    : [
        h("span", {}, `density ${percent(card.density)}`),
        h("span", {}, `max ${fmt(card.max)}`),
        h("span", {}, `mean when active ${fmt(card.mean)}`),
      ];
  return h(
    "header",
    { class: "saew-card-head" },
    h(
      "div",
      { class: "saew-card-title" },
      h("span", { class: "saew-card-id" }, `#${card.feature}`),
      " ",
      h("span", { class: "saew-card-label" }, card.label || "(no label)"),
    ),
    h(
      "div",
      { class: "saew-card-facts" },
      ...facts,
      ...labelScores(card),
      h("span", { class: "saew-muted" }, card.site),
    ),
    twinsNote(card),
  );
}

const SCORE_HELP = {
  detection:
    "Detection: balanced accuracy of the label telling held-out contexts where the feature fires " +
    "(drawn across its activation range) from contexts where it does not. 0.5 is chance.",
  fuzzing:
    "Fuzzing: balanced accuracy of the label telling the tokens where the feature fires from " +
    "other tokens of the same contexts. 0.5 is chance.",
};

// A label never shows without its scores: measured ones, or why there are none.
function labelScores(card) {
  if (!card.label || card.dead) return [];
  const scores = card.label_scores;
  if (!scores) {
    return [
      h(
        "span",
        {
          class: "saew-label-score saew-muted",
          title: "Score it with sw.score_labels(full_stats, labels) (full statistics are needed)",
        },
        "label not scored",
      ),
    ];
  }
  const out = [];
  for (const key of ["detection", "fuzzing"]) {
    const value = scores[key];
    if (value === null || value === undefined) continue;
    const level = value >= 0.8 ? "good" : value >= 0.65 ? "fair" : "poor";
    out.push(
      h(
        "span",
        {
          class: `saew-label-score saew-score-${level}`,
          title: SCORE_HELP[key],
          "data-score": key,
        },
        `${key} ${value.toFixed(2)}`,
      ),
    );
  }
  if (!out.length) {
    out.push(
      h("span", { class: "saew-label-score saew-muted" }, scores.note || "label not scorable"),
    );
  }
  if (scores.of === "user") out.push(h("span", { class: "saew-muted" }, "(your label)"));
  return out;
}

function twinsNote(card) {
  const twins = card.label_twins || [];
  if (!twins.length) return null;
  return h(
    "div",
    {
      class: "saew-label-twins",
      title: "Labels that read the same do not tell these features apart",
    },
    `same label as ${twins.map((f) => `#${f}`).join(", ")}`,
  );
}

function activationPanel(card) {
  const { edges, counts } = card.hist;
  const n = counts.length;
  const total = counts.reduce((a, b) => a + b, 0);
  const a = Math.log(edges[0]);
  const span = Math.log(edges[n]) - a || 1;
  const xTicks = logTicksWithin(edges[0], edges[n]);
  return panel(
    "Activation histogram (log-spaced bins)",
    barChart({
      counts,
      colour: () => ORANGE,
      describe: (i) =>
        `activation ${exact(edges[i])} – ${exact(edges[i + 1])}: ${counts[i].toLocaleString("en-US")} tokens` +
        ` (${percent(total ? counts[i] / total : 0)} of active)`,
      ticks: xTicks.values.map((v, i) => [(Math.log(v) - a) / span, xTicks.labels[i]]),
      xLabel: "activation (log scale)",
      yLabel: "tokens",
      label: "activation histogram",
    }),
  );
}

function logitTable(rows, cls) {
  return h(
    "table",
    { class: `saew-logits ${cls}` },
    h(
      "tbody",
      {},
      rows.map(([tok, v]) =>
        h(
          "tr",
          {},
          h("td", { class: "saew-logit-tok" }, visibleText(tok)),
          h("td", { class: "saew-num" }, fmt(v)),
        ),
      ),
    ),
  );
}

function logitPanel(card) {
  const { counts, range } = card.logits.hist;
  const [lo, hi] = range;
  const n = counts.length;
  const edge = (i) => lo + ((hi - lo) * i) / n;
  const xTicks = linearTicks(lo, hi);
  const inside = xTicks.values
    .map((v, i) => [hi > lo ? (v - lo) / (hi - lo) : 0.5, xTicks.labels[i]])
    .filter(([at]) => at >= -1e-9 && at <= 1 + 1e-9);
  return panel(
    "Logit effects (decoder direction through the unembedding)",
    h(
      "div",
      { class: "saew-logit-grid" },
      h(
        "div",
        {},
        h("div", { class: "saew-muted" }, "suppressed"),
        logitTable(card.logits.bottom, "saew-neg"),
      ),
      h(
        "div",
        {},
        h("div", { class: "saew-muted" }, "promoted"),
        logitTable(card.logits.top, "saew-pos"),
      ),
    ),
    barChart({
      counts,
      colour: (i) => (edge(i + 1) <= 0 ? PURPLE : edge(i) >= 0 ? ORANGE : "gray"),
      describe: (i) =>
        `logit effect ${exact(edge(i))} – ${exact(edge(i + 1))}: ${counts[i].toLocaleString("en-US")} vocabulary tokens`,
      ticks: inside,
      xLabel: "logit effect (logits)",
      yLabel: "vocab tokens",
      label: "logit effect histogram",
    }),
  );
}

function relatedPanel(title, rows, what, onSelect) {
  if (!rows.length) return panel(title, h("div", { class: "saew-empty" }, "none"));
  return panel(
    title,
    h(
      "ul",
      { class: "saew-related" },
      rows.map(([f, v, label, density]) =>
        h(
          "li",
          {},
          h(
            "button",
            {
              class: "saew-tip-feature saew-related-item",
              dataset: { feature: f },
              onclick: () => onSelect(f),
              title: `density ${percent(density)}`,
            },
            h("span", { class: "saew-tip-id" }, `#${f}`),
            h("span", { class: "saew-tip-label" }, label || ""),
            h("span", { class: "saew-num" }, `${what} ${v.toFixed(2)}`),
          ),
        ),
      ),
    ),
  );
}

/** Tokens ranked by mutual information with the feature firing (bits), here and next. */
function miPanel(card) {
  const column = (title, rows, cls) =>
    h(
      "div",
      { class: `saew-mi-col ${cls}` },
      h("div", { class: "saew-muted" }, title),
      rows.length
        ? h(
            "table",
            { class: "saew-logits saew-mi" },
            h(
              "tbody",
              {},
              rows.map(([tok, v]) =>
                h(
                  "tr",
                  {},
                  h("td", { class: "saew-logit-tok" }, visibleText(tok)),
                  // bits are tiny for a feature that fires on a few % of tokens: show mbit
                  h("td", { class: "saew-num", title: `${exact(v)} bits` }, fmt(v * 1000)),
                ),
              ),
            ),
          )
        : h("div", { class: "saew-muted" }, "none"),
    );
  return panel(
    "Telling tokens (mutual information, millibits)",
    h(
      "div",
      { class: "saew-mi-cols" },
      column("this token", card.mi, "saew-mi-here"),
      column("next token", card.mi_next, "saew-mi-next"),
    ),
  );
}

function examplesPanel(card) {
  const top = card.top.map((ex) => exampleRow(ex, card.max));
  const groups = card.quantiles.map((g, i) =>
    h(
      "details",
      { class: "saew-quantile", open: i === 0 ? true : undefined },
      h(
        "summary",
        {},
        `${fmt(g.bin[0])} – ${fmt(g.bin[1])}`,
        h("span", { class: "saew-muted" }, ` · ${g.count.toLocaleString()} tokens`),
      ),
      g.examples.map((ex) => exampleRow(ex, card.max)),
    ),
  );
  return [
    panel("Top activations", h("div", { class: "saew-examples saew-top-examples" }, top)),
    panel(
      "Across the activation range",
      h("div", { class: "saew-examples saew-quantiles" }, groups),
    ),
  ];
}

/** The whole dashboard body for one card. `onSelect(feature)` opens another feature. */
export function renderCard(card, { onSelect, tooltip, extra = [] }) {
  const body = h("div", { class: "saew-card", dataset: { feature: card.feature } }, header(card));
  if (card.dead) {
    body.append(
      h(
        "div",
        { class: "saew-banner saew-dead-banner" },
        "This feature never fired on the statistics corpus, so there are no examples or histogram. " +
          "Its decoder direction still has logit effects, shown below.",
      ),
    );
  }
  body.append(...extra);
  const grid = h("div", { class: "saew-card-grid" });
  if (!card.dead) grid.append(activationPanel(card));
  grid.append(logitPanel(card));
  grid.append(relatedPanel("Nearest features (decoder cosine)", card.neighbours, "cos", onSelect));
  if (!card.dead) grid.append(relatedPanel("Fire together (Jaccard)", card.cooccur, "J", onSelect));
  if (!card.dead && (card.mi?.length || card.mi_next?.length)) grid.append(miPanel(card));
  body.append(grid);
  if (!card.dead) body.append(...examplesPanel(card));
  valueTooltips(body, tooltip);
  return body;
}
