// GraphView: an attribution graph, layer rows × token columns. Nodes are SVG (hover, click, pin);
// edges are drawn on a canvas underneath, so thousands of them stay cheap.
import { clear, h } from "../lib/dom.js";
import { ownKeys } from "../lib/keys.js";
import { taskStatus } from "../lib/task.js";
import { createTooltip } from "../lib/tooltip.js";
import { describeNode, nodeCard } from "./card.js";
import { controls } from "./controls.js";
import { intervenePanel } from "./intervene.js";
import { pinPanel } from "./pins.js";
import { stage } from "./stage.js";
import { decodeGraph, togglePin as toggled } from "./state.js";

export function render({ model, el }) {
  const g = decodeGraph(model.get("_graph"));
  const root = ownKeys(h("div", { class: "saew-root saew-graph" }));
  el.appendChild(root);
  const tooltip = createTooltip(root);
  const error = h("div", { class: "saew-graph-error", role: "alert" });
  const task = taskStatus(model, { className: "saew-graph-status", errorNode: error });
  const bar = controls(model, g, { status: task.node });
  root.append(bar.node, error);

  const togglePin = (id) => {
    model.set("pinned", toggled(model.get("pinned") || [], id));
    model.save_changes();
  };
  const open = (id) => {
    model.set("clicked", id);
    model.save_changes();
  };
  const describe = (i) => describeNode(model, g, i);
  const graph = stage(model, g, { el, root, count: bar.count, tooltip, describe, togglePin });
  const card = nodeCard(model, g, { tooltip, togglePin, open });
  const pins = pinPanel(model, g, { error, togglePin, open });
  const intervene = intervenePanel(model, g, { error });
  const side = h("div", { class: "saew-graph-side" }, card.node, pins.node, intervene.node);
  root.append(h("div", { class: "saew-graph-main" }, graph.node, side));

  const paintControls = () => {
    bar.paint();
    intervene.paintControls();
  };
  const handlers = [
    [
      "change:node_threshold",
      () => {
        paintControls();
        graph.layout();
      },
    ],
    [
      "change:target",
      () => {
        paintControls();
        graph.layout();
      },
    ],
    [
      "change:pinned",
      () => {
        pins.paint();
        card.paint();
        graph.layout();
      },
    ],
    [
      "change:supernodes",
      () => {
        pins.paint();
        graph.layout();
      },
    ],
    ["change:_pinned_scores", pins.paint],
    ["change:_suggestions", pins.paint],
    [
      "change:clicked",
      () => {
        card.reset();
        card.paint();
        graph.layout();
      },
    ],
    ["change:_card", card.paint],
    ["change:_intervention", intervene.paint],
  ];
  for (const [name, fn] of handlers) model.on(name, fn);
  paintControls();
  graph.layout();
  card.paint();
  pins.paint();
  intervene.paint();
  root.dataset.ready = "true";
  return () => {
    task.dispose();
    tooltip.dispose();
    graph.dispose();
    for (const [name, fn] of handlers) model.off(name, fn);
    clear(root);
  };
}
