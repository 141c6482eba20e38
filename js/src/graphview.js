// GraphView: an attribution graph, layer rows × token columns. Nodes are SVG (hover, click, pin);
// edges are drawn on a canvas underneath, so thousands of them stay cheap.
import { unpack } from "./lib/buffers.js";
import { renderCard } from "./lib/card.js";
import { clear, h } from "./lib/dom.js";
import { exampleRow, valueTooltips } from "./lib/examples.js";
import { svg } from "./lib/histogram.js";
import { fmt } from "./lib/format.js";
import { visibleText } from "./lib/tokens.js";
import { createTooltip } from "./lib/tooltip.js";

const LEFT = 150; // stream labels
const DOT = 9; // grid step of nodes inside a cell
const POS = "27,120,55"; // positive edges (green)
const NEG = "118,42,131"; // negative edges (purple)
const GROUP_COLOURS = ["#e66101", "#1b9e77", "#7570b3", "#d95f02", "#e7298a", "#66a61e", "#a6761d"];

function decode(g) {
  return {
    ...g,
    stream: unpack(g.stream),
    pos: unpack(g.pos),
    feature: unpack(g.feature),
    activation: unpack(g.activation),
    prob: unpack(g.prob),
    ranks: g.ranks.map(unpack),
    src: unpack(g.edge_src),
    tgt: unpack(g.edge_tgt),
    weight: unpack(g.edge_w),
    share: unpack(g.edge_share),
  };
}

function render({ model, el }) {
  const g = decode(model.get("_graph"));
  const n = g.ids.length;
  const indexOf = new Map(g.ids.map((id, i) => [id, i]));
  const root = h("div", { class: "saew-root saew-graph" });
  el.appendChild(root);
  const tooltip = createTooltip(root);

  // -- controls ------------------------------------------------------------------------------
  const slider = h("input", { type: "range", min: "0.05", max: "1", step: "0.01", class: "saew-graph-threshold", "aria-label": "pruning threshold" });
  const sliderValue = h("span", { class: "saew-graph-threshold-value" });
  const count = h("span", { class: "saew-graph-count", role: "status" });
  const targetSelect = h("select", { class: "saew-graph-target", "aria-label": "target" },
    h("option", { value: "-1" }, "all targets (by probability)"),
    ...g.targets.map((t, k) => h("option", { value: String(k) }, `${g.types[t] === "logit" ? "logit" : "feature"}: ${visibleText(g.labels[t])}`)),
  );
  const status = h("span", { class: "saew-graph-status", role: "status" });
  const error = h("div", { class: "saew-graph-error", role: "alert" });
  const scores = g.scores || {};
  root.append(
    h("div", { class: "saew-controls" },
      h("label", {}, "show nodes within ", slider, sliderValue, " of influence"),
      count,
      h("label", {}, "rank by ", targetSelect),
      h("span", { class: "saew-muted", title: "replacement: share of the targets' influence reaching input tokens rather than error nodes; completeness: share of node inputs explained without errors" },
        `replacement ${fmt(scores.replacement)} · completeness ${fmt(scores.completeness)} · ${g.n_edges_total.toLocaleString()} edges`),
      status,
    ),
    error,
  );

  // -- canvas + svg -----------------------------------------------------------------------------
  const stage = h("div", { class: "saew-graph-stage" });
  const canvas = h("canvas", { class: "saew-graph-edges" });
  const layer = svg("svg", { class: "saew-graph-nodes" });
  stage.append(canvas, layer);
  const side = h("div", { class: "saew-graph-side" });
  root.append(h("div", { class: "saew-graph-main" }, stage, side));
  const cardArea = h("div", { class: "saew-graph-card" });
  const pinArea = h("div", { class: "saew-graph-pins" });
  const interveneArea = h("div", { class: "saew-graph-intervene" });
  side.append(cardArea, pinArea, interveneArea);

  let xy = new Float32Array(2 * n);
  let visible = new Uint8Array(n);
  let hovered = -1;
  let circles = new Map();
  const dpr = window.devicePixelRatio || 1;
  let width = 0;
  let height = 0;

  function ranks() {
    const t = model.get("target");
    return g.ranks[t < 0 ? 0 : t + 1];
  }

  function layout() {
    const threshold = model.get("node_threshold");
    const r = ranks();
    const cols = g.tokens.length;
    width = Math.max(640, (el.clientWidth || 960) - 300);
    const colW = Math.max(30, (width - LEFT) / cols);
    width = LEFT + colW * cols;
    const perRow = Math.max(1, Math.floor((colW - 4) / DOT));
    const cells = new Map();
    visible = new Uint8Array(n);
    let shown = 0;
    for (let i = 0; i < n; i++) {
      const type = g.types[i];
      const keep = type === "token" || type === "logit" || type === "feature_target" || r[i] <= threshold;
      if (!keep) continue;
      visible[i] = 1;
      shown++;
      const key = `${g.stream[i]}:${g.pos[i]}`;
      if (!cells.has(key)) cells.set(key, []);
      cells.get(key).push(i);
    }
    const streams = g.streams.map((s) => s[0]).sort((a, b) => b - a); // targets on top
    const rowsOf = new Map(streams.map((s) => [s, 1]));
    for (const [key, members] of cells) {
      const s = Number(key.split(":")[0]);
      members.sort((a, b) => r[a] - r[b]);
      rowsOf.set(s, Math.max(rowsOf.get(s), Math.ceil(members.length / perRow)));
    }
    const top = new Map();
    let y = 10;
    for (const s of streams) {
      top.set(s, y);
      y += rowsOf.get(s) * DOT + 18;
    }
    height = y + 40; // token labels below
    for (const [key, members] of cells) {
      const [s, p] = key.split(":").map(Number);
      members.forEach((i, k) => {
        xy[2 * i] = LEFT + p * colW + 6 + (k % perRow) * DOT;
        xy[2 * i + 1] = top.get(s) + 6 + Math.floor(k / perRow) * DOT;
      });
    }
    count.textContent = `${shown.toLocaleString()} of ${n.toLocaleString()} nodes shown`;
    count.dataset.visible = String(shown);
    drawNodes(streams, top, colW);
    drawEdges();
  }

  function groupOf() {
    const out = new Map();
    (model.get("supernodes") || []).forEach((sn, k) => sn.slice(1).forEach((id) => out.set(id, k)));
    return out;
  }

  function drawNodes(streams, top, colW) {
    clear(layer);
    layer.setAttribute("width", String(width));
    layer.setAttribute("height", String(height));
    layer.setAttribute("viewBox", `0 0 ${width} ${height}`);
    const names = new Map(g.streams);
    for (const s of streams) {
      const label = svg("text", { x: 4, y: top.get(s) + 10, class: "saew-graph-stream" });
      label.textContent = names.get(s);
      layer.appendChild(label);
    }
    g.tokens.forEach((tok, p) => {
      const t = svg("text", { x: LEFT + p * colW + 2, y: height - 24, class: "saew-graph-token" });
      t.textContent = visibleText(tok).slice(0, 8);
      layer.appendChild(t);
    });
    const r = ranks();
    const pinned = new Set(model.get("pinned"));
    const groups = groupOf();
    const clicked = model.get("clicked");
    circles = new Map();
    for (let i = 0; i < n; i++) {
      if (!visible[i]) continue;
      const type = g.types[i];
      const size = type === "feature" ? 1.6 + 2.6 * (1 - Math.min(1, r[i])) : 3.6;
      const attrs = { class: `saew-node saew-node-${type}`, "data-node": g.ids[i] };
      let shape;
      if (type === "error" || type === "token") {
        shape = svg("rect", { ...attrs, x: xy[2 * i] - size, y: xy[2 * i + 1] - size, width: 2 * size, height: 2 * size });
      } else {
        shape = svg("circle", { ...attrs, cx: xy[2 * i], cy: xy[2 * i + 1], r: type === "logit" || type === "feature_target" ? 4.5 : size });
      }
      if (pinned.has(g.ids[i])) shape.classList.add("saew-pinned");
      if (g.ids[i] === clicked) shape.classList.add("saew-clicked");
      if (groups.has(g.ids[i])) shape.style.stroke = GROUP_COLOURS[groups.get(g.ids[i]) % GROUP_COLOURS.length];
      shape.saewIndex = i;
      circles.set(i, shape);
      layer.appendChild(shape);
    }
    for (let i = 0; i < n; i++) {
      if (!visible[i] || g.types[i] !== "logit") continue;
      const t = svg("text", { x: xy[2 * i] + 6, y: xy[2 * i + 1] - 6, class: "saew-graph-logit" });
      t.textContent = visibleText(g.labels[i]).slice(0, 10);
      layer.appendChild(t);
    }
    (model.get("supernodes") || []).forEach((sn, k) => {
      const members = sn.slice(1).map((id) => indexOf.get(id)).filter((i) => i !== undefined && visible[i]);
      if (!members.length) return;
      const cx = members.reduce((a, i) => a + xy[2 * i], 0) / members.length;
      const cy = Math.min(...members.map((i) => xy[2 * i + 1])) - 8;
      const t = svg("text", { x: cx, y: cy, class: "saew-graph-supernode", fill: GROUP_COLOURS[k % GROUP_COLOURS.length] });
      t.textContent = sn[0];
      layer.appendChild(t);
    });
  }

  function neighbours(i) {
    const out = new Set([i]);
    for (let e = 0; e < g.src.length; e++) {
      if (g.src[e] === i && visible[g.tgt[e]]) out.add(g.tgt[e]);
      if (g.tgt[e] === i && visible[g.src[e]]) out.add(g.src[e]);
    }
    return out;
  }

  function drawEdges() {
    canvas.width = Math.round(width * dpr);
    canvas.height = Math.round(height * dpr);
    canvas.style.width = `${width}px`;
    canvas.style.height = `${height}px`;
    const ctx = canvas.getContext("2d");
    if (!ctx) return;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, width, height);
    const focus = hovered >= 0 ? hovered : indexOf.has(model.get("clicked")) ? indexOf.get(model.get("clicked")) : -1;
    let drawn = 0;
    for (let e = 0; e < g.src.length; e++) {
      const s = g.src[e];
      const t = g.tgt[e];
      if (!visible[s] || !visible[t]) continue;
      const touching = focus >= 0 && (s === focus || t === focus);
      const a = Math.min(1, Math.abs(g.share[e]) * 2);
      const alpha = focus >= 0 ? (touching ? 0.25 + 0.75 * a : 0.04) : 0.06 + 0.5 * a;
      ctx.strokeStyle = `rgba(${g.weight[e] >= 0 ? POS : NEG},${alpha.toFixed(3)})`;
      ctx.lineWidth = Math.max(0.3, Math.sqrt(Math.abs(g.share[e])) * (touching ? 4 : 2.5));
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
    const near = i >= 0 ? neighbours(i) : null;
    for (const [k, shape] of circles) shape.classList.toggle("saew-dim", near !== null && !near.has(k));
    drawEdges();
  }

  // Tokens and logits are token text (spaces made visible); feature labels are plain text.
  function nodeName(i) {
    const type = g.types[i];
    return type === "token" || type === "logit" ? visibleText(g.labels[i]) : g.labels[i];
  }

  function describe(i) {
    const type = g.types[i];
    const bits = [h("strong", {}, nodeName(i) || (type === "feature" ? `#${g.feature[i]}` : type))];
    bits.push(h("div", { class: "saew-muted" }, `${g.ids[i]} · ${type}${g.sites[i] ? ` · ${g.sites[i]}` : ""} · token "${visibleText(g.tokens[g.pos[i]] || "")}"`));
    if (type === "feature") bits.push(h("div", {}, `activation ${fmt(g.activation[i])} · influence rank ${fmt(ranks()[i])}`));
    if (type === "logit") bits.push(h("div", {}, `p = ${fmt(g.prob[i])}`));
    return h("div", { class: "saew-graph-tip" }, ...bits);
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

  function togglePin(id) {
    const pins = model.get("pinned") || [];
    model.set("pinned", pins.includes(id) ? pins.filter((p) => p !== id) : [...pins, id]);
    model.save_changes();
  }

  // -- side panel: card ----------------------------------------------------------------------
  let fullCard = false;
  function edgeList(i, incoming) {
    const rows = [];
    for (let e = 0; e < g.src.length; e++) {
      if (incoming ? g.tgt[e] === i : g.src[e] === i) rows.push(e);
    }
    rows.sort((a, b) => Math.abs(g.weight[b]) - Math.abs(g.weight[a]));
    return h("ul", { class: "saew-graph-edge-list" }, ...rows.slice(0, 8).map((e) => {
      const other = incoming ? g.src[e] : g.tgt[e];
      return h("li", {},
        h("button", { class: "saew-link", dataset: { node: g.ids[other] }, onclick: () => { model.set("clicked", g.ids[other]); model.save_changes(); } },
          nodeName(other) || g.ids[other]),
        " ", h("span", { class: g.weight[e] >= 0 ? "saew-pos" : "saew-neg" }, fmt(g.weight[e])));
    }));
  }

  function paintCard() {
    clear(cardArea);
    const id = model.get("clicked");
    const i = indexOf.get(id);
    if (i === undefined) {
      cardArea.append(h("p", { class: "saew-muted" }, "Hover a node to see its neighbourhood; click it for its card; shift-click to pin."));
      return;
    }
    const pinned = (model.get("pinned") || []).includes(id);
    cardArea.append(
      describe(i),
      h("div", { class: "saew-row" },
        h("button", { class: "saew-graph-pin", onclick: () => togglePin(id) }, pinned ? "unpin" : "pin"),
      ),
    );
    const card = (model.get("_card") || {}).node_id === id ? model.get("_card") : (model.get("_cards") || {})[id];
    if (card && card.feature !== undefined) {
      const box = h("div", { class: "saew-graph-feature-card", dataset: { feature: card.feature } });
      if (fullCard) {
        box.append(renderCard(card, { onSelect: () => {}, tooltip }));
      } else {
        box.append(h("div", { class: "saew-muted" }, `density ${fmt(card.density)} · max ${fmt(card.max)}`));
        box.append(h("div", {}, "promotes: ", ...card.logits.top.slice(0, 6).map(([t]) => h("code", { class: "saew-graph-logit-token" }, visibleText(t)))));
        for (const ex of card.top.slice(0, 3)) box.append(exampleRow(ex, card.max));
        valueTooltips(box, tooltip);
      }
      box.append(h("button", { class: "saew-graph-dashboard", onclick: () => { fullCard = !fullCard; paintCard(); } }, fullCard ? "compact card" : "open dashboard"));
      cardArea.append(box);
    } else if (g.types[i] === "feature") {
      cardArea.append(h("p", { class: "saew-muted" }, g.has_stats.length ? "No card for this feature in this page." : "Pass stats= to GraphView for feature cards."));
    }
    cardArea.append(h("h4", {}, "strongest inputs"), edgeList(i, true), h("h4", {}, "strongest outputs"), edgeList(i, false));
  }

  // -- side panel: pins and supernodes -------------------------------------------------------
  const groupLabel = h("input", { type: "text", class: "saew-graph-group-label", placeholder: "supernode label" });
  function paintPins() {
    clear(pinArea);
    const pins = model.get("pinned") || [];
    const groups = groupOf();
    pinArea.append(h("h4", {}, `pinned (${pins.length})`));
    if (pins.length) {
      // Scores of the pinned features as a subgraph (the others count as errors); the kernel
      // computes them, so a page without one shows them only for the pins it was saved with.
      const sc = model.get("_pinned_scores") || {};
      const current = Array.isArray(sc.pinned) && sc.pinned.length === pins.length && sc.pinned.every((p, i) => p === pins[i]);
      pinArea.append(h("div", {
        class: "saew-graph-pin-scores saew-muted",
        dataset: { current: String(current), replacement: current ? String(sc.replacement) : "" },
        title: "the pinned features as a subgraph, every other feature counted as an error node: the share of the targets' influence that reaches the tokens (replacement) and of the nodes' inputs that is explained (completeness)",
      }, current
        ? `as a subgraph: replacement ${fmt(sc.replacement)} · completeness ${fmt(sc.completeness)}`
        : model.get("_live") ? "scoring the pinned subgraph…" : "scores of a changed pin set need a kernel"));
    }
    pinArea.append(h("ul", { class: "saew-graph-pin-list" }, ...pins.map((id) => {
      const i = indexOf.get(id);
      return h("li", { dataset: { node: id } },
        h("button", { class: "saew-link", onclick: () => { model.set("clicked", id); model.save_changes(); } }, (i !== undefined && nodeName(i)) || id),
        groups.has(id) ? h("span", { class: "saew-muted" }, ` [${model.get("supernodes")[groups.get(id)][0]}]`) : "",
        h("button", { class: "saew-x", title: "unpin", onclick: () => togglePin(id) }, "×"));
    })));
    const group = h("button", { class: "saew-graph-group", onclick: () => {
      const label = groupLabel.value.trim();
      const members = pins.filter((id) => !groups.has(id));
      if (!label || !members.length) {
        error.textContent = !label ? "type a label for the supernode first" : "pin nodes that are not yet grouped first";
        return;
      }
      error.textContent = "";
      model.set("supernodes", [...(model.get("supernodes") || []), [label, ...members]]);
      model.save_changes();
      groupLabel.value = "";
    } }, "group pinned");
    pinArea.append(h("div", { class: "saew-row" }, groupLabel, group));
    const sns = model.get("supernodes") || [];
    pinArea.append(h("ul", { class: "saew-graph-supernodes" }, ...sns.map((sn, k) => {
      const name = h("input", { type: "text", value: sn[0], class: "saew-graph-supernode-label", "aria-label": "supernode label" });
      name.addEventListener("change", () => {
        const next = sns.map((s, j) => (j === k ? [name.value.trim() || s[0], ...s.slice(1)] : s));
        model.set("supernodes", next);
        model.save_changes();
      });
      return h("li", { style: { borderLeft: `4px solid ${GROUP_COLOURS[k % GROUP_COLOURS.length]}` } }, name, ` ${sn.length - 1} nodes `,
        h("button", { class: "saew-x", title: "ungroup", onclick: () => { model.set("supernodes", sns.filter((_, j) => j !== k)); model.save_changes(); } }, "×"));
    })));
  }

  // -- side panel: intervention ----------------------------------------------------------------
  const multSelect = h("select", { class: "saew-graph-multiplier", "aria-label": "multiplier" }, ...g.multipliers.map((m) => h("option", { value: String(m) }, `× ${m}${m === 0 ? " (ablate)" : ""}`)));
  const modeSelect = h("select", { class: "saew-graph-mode", "aria-label": "where" },
    h("option", { value: "free" }, "real model"), h("option", { value: "frozen" }, "frozen replacement model"));
  const runButton = h("button", { class: "saew-graph-run" }, "intervene on pinned");
  const result = h("div", { class: "saew-graph-result" });
  runButton.addEventListener("click", () => {
    const pins = model.get("pinned") || [];
    if (!pins.length) {
      error.textContent = "pin the nodes to intervene on first";
      return;
    }
    model.set("multiplier", Number(multSelect.value));
    model.set("mode", modeSelect.value);
    model.save_changes();
    model.send({ type: "intervene", nodes: pins, multiplier: Number(multSelect.value), mode: modeSelect.value });
  });
  interveneArea.append(h("h4", {}, "intervene"), h("div", { class: "saew-row" }, multSelect, modeSelect, runButton), result);

  function paintIntervention() {
    clear(result);
    const r = model.get("_intervention") || {};
    if (!r.targets) return;
    result.dataset.run = String(r.run || 0);
    const rows = r.targets.map((t) => h("tr", {},
      h("td", {}, visibleText(t.label)),
      h("td", { class: "saew-num" }, fmt(t.predicted)),
      h("td", { class: "saew-num saew-graph-actual" }, fmt(t.actual)),
      h("td", { class: "saew-num" }, t.prob_before === undefined || t.prob_before === null ? "" : `${fmt(t.prob_before)} → ${fmt(t.prob_after)}`)));
    result.append(
      h("div", { class: "saew-muted" }, `${r.nodes.length} node(s) × ${r.multiplier} in the ${r.mode === "free" ? "real" : r.mode} model; predicted vs actual change, r = ${fmt(r.correlation)}`),
      h("table", { class: "saew-graph-table" }, h("thead", {}, h("tr", {}, h("th", {}, "target"), h("th", {}, "graph"), h("th", {}, "actual"), h("th", {}, "p"))), h("tbody", {}, ...rows)),
    );
  }

  function paintControls() {
    slider.value = String(model.get("node_threshold"));
    sliderValue.textContent = ` ${Math.round(model.get("node_threshold") * 100)}%`;
    targetSelect.value = String(model.get("target"));
    const live = model.get("_live") && model.get("_can_intervene");
    runButton.disabled = !live;
    multSelect.disabled = !live;
    modeSelect.disabled = !live;
    if (!live) runButton.title = model.get("_live") ? "this graph was loaded from a file: no model to intervene with" : "interventions need a running kernel";
    status.textContent = model.get("_status") || "";
    const message = model.get("_error") || "";
    if (message) error.textContent = message;
  }

  slider.addEventListener("input", () => {
    sliderValue.textContent = ` ${Math.round(Number(slider.value) * 100)}%`;
    model.set("node_threshold", Number(slider.value));
    model.save_changes();
  });
  targetSelect.addEventListener("change", () => {
    model.set("target", Number(targetSelect.value));
    model.save_changes();
  });

  const handlers = [
    ["change:node_threshold", () => { paintControls(); layout(); }],
    ["change:target", () => { paintControls(); layout(); }],
    ["change:pinned", () => { paintPins(); paintCard(); layout(); }],
    ["change:supernodes", () => { paintPins(); layout(); }],
    ["change:_pinned_scores", paintPins],
    ["change:clicked", () => { fullCard = false; paintCard(); layout(); }],
    ["change:_card", paintCard],
    ["change:_intervention", paintIntervention],
    ["change:_status", paintControls],
    ["change:_error", paintControls],
  ];
  for (const [name, fn] of handlers) model.on(name, fn);
  paintControls();
  layout();
  paintCard();
  paintPins();
  paintIntervention();
  root.dataset.ready = "true";
  return () => {
    for (const [name, fn] of handlers) model.off(name, fn);
    clear(root);
  };
}

export default { render };
