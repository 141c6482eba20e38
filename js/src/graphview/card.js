// The side panel's card of the clicked node: what it is, its feature card (compact, or the
// whole dashboard), its strongest inputs and outputs.
import { renderCard } from "../lib/card.js";
import { clear, h } from "../lib/dom.js";
import { exampleRow, valueTooltips } from "../lib/examples.js";
import { fmt, percent, visibleText } from "../lib/format.js";
import { cardForNode, nodeFacts, nodeTitle, ranksFor, strongestEdges } from "./state.js";

const HINT = "Hover a node to see its neighbourhood; click it for its card; shift-click to pin.";

/** A node's description (tooltip and card head). */
export function describeNode(model, g, i) {
  const facts = nodeFacts(g, i, ranksFor(g, model.get("target")));
  return h(
    "div",
    { class: "saew-graph-tip" },
    h("strong", {}, facts.title),
    h("div", { class: "saew-muted" }, facts.where),
    facts.numbers ? h("div", {}, facts.numbers) : null,
  );
}

export function nodeCard(model, g, { tooltip, togglePin, open }) {
  const node = h("div", { class: "saew-graph-card" });
  let fullCard = false;

  function edgeList(i, incoming) {
    return h(
      "ul",
      { class: "saew-graph-edge-list" },
      ...strongestEdges(g, i, incoming).map(({ other, weight }) =>
        h(
          "li",
          {},
          h(
            "button",
            {
              class: "saew-link",
              dataset: { node: g.ids[other] },
              onclick: () => open(g.ids[other]),
            },
            nodeTitle(g, other),
          ),
          " ",
          h("span", { class: weight >= 0 ? "saew-pos" : "saew-neg" }, fmt(weight)),
        ),
      ),
    );
  }

  function compact(card, box) {
    box.append(
      h("div", { class: "saew-muted" }, `density ${percent(card.density)} · max ${fmt(card.max)}`),
    );
    box.append(tokenList("promotes: ", card.logits.top));
    for (const ex of card.top.slice(0, 3)) box.append(exampleRow(ex, card.max));
    valueTooltips(box, tooltip);
  }

  function tokenList(title, pairs) {
    return h(
      "div",
      {},
      title,
      ...pairs
        .slice(0, 6)
        .map(([t]) => h("code", { class: "saew-graph-logit-token" }, visibleText(t))),
    );
  }

  // A site without statistics: what the decoder writes, and this prompt's activation.
  function lightCard(card) {
    return h(
      "div",
      { class: "saew-graph-feature-card", dataset: { feature: card.feature, light: "true" } },
      card.label ? h("div", { class: "saew-card-label" }, card.label) : null,
      h("div", { class: "saew-muted" }, `activation here ${fmt(card.activation)}`),
      tokenList("promotes: ", card.logits.top),
      tokenList("suppresses: ", card.logits.bottom),
      h(
        "p",
        { class: "saew-muted saew-graph-light-note" },
        "No corpus statistics for this site, so no examples: pass stats= for full cards.",
      ),
    );
  }

  function featureCard(card) {
    if (card.light) return lightCard(card);
    const box = h("div", { class: "saew-graph-feature-card", dataset: { feature: card.feature } });
    if (fullCard) box.append(renderCard(card, { onSelect: () => {}, tooltip }));
    else compact(card, box);
    const toggle = () => {
      fullCard = !fullCard;
      paint();
    };
    box.append(
      h(
        "button",
        { class: "saew-graph-dashboard", onclick: toggle },
        fullCard ? "compact card" : "open dashboard",
      ),
    );
    return box;
  }

  function paint() {
    clear(node);
    const id = model.get("clicked");
    const i = g.indexOf.get(id);
    if (i === undefined) {
      node.append(h("p", { class: "saew-muted" }, HINT));
      return;
    }
    const pinned = (model.get("pinned") || []).includes(id);
    node.append(
      describeNode(model, g, i),
      h(
        "div",
        { class: "saew-row" },
        h(
          "button",
          { class: "saew-graph-pin", onclick: () => togglePin(id) },
          pinned ? "unpin" : "pin",
        ),
      ),
    );
    const card = cardForNode(model.get("_card"), model.get("_cards"), id);
    if (card && card.feature !== undefined) {
      node.append(featureCard(card));
    } else if (g.types[i] === "feature") {
      const why = g.has_stats.length
        ? "No card for this feature in this page."
        : "Pass stats= to GraphView for feature cards.";
      node.append(h("p", { class: "saew-muted" }, why));
    }
    node.append(
      h("h4", {}, "strongest inputs"),
      edgeList(i, true),
      h("h4", {}, "strongest outputs"),
      edgeList(i, false),
    );
  }

  return {
    node,
    paint,
    /** Another node was clicked: it opens compact. */
    reset() {
      fullCard = false;
    },
  };
}
