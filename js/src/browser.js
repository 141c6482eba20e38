// FeatureBrowser: find features by typed text, label or promoted token; open their dashboards.
import { unpack } from "./lib/buffers.js";
import { percent } from "./lib/card.js";
import { sequential } from "./lib/colors.js";
import { clear, h } from "./lib/dom.js";
import { cardFor, featurePane, selectFeature } from "./lib/featurepane.js";
import { fmt } from "./lib/format.js";
import { decodeProbe, probeColumn, probeRow } from "./lib/probe.js";
import { liveTextBox } from "./lib/textbox.js";
import { tokenSpan, visibleText } from "./lib/tokens.js";
import { createTooltip } from "./lib/tooltip.js";

const LIST_LIMIT = 100;
const TOP_PER_TOKEN = 8;

function render({ model, el }) {
  const root = h("div", { class: "saew-root saew-browser", dataset: { view: "search" } });
  el.appendChild(root);
  const tooltip = createTooltip(root);
  const notice = h("span", { class: "saew-notice", role: "status" });
  const catalog = model.get("_catalog");
  const density = unpack(catalog.density);
  const maxAct = unpack(catalog.max);
  const labels = catalog.labels;
  const promoted = catalog.promoted;
  const live = model.get("_live");
  const open = (f) => {
    // Also when f is already selected (no change event): the list still opens its dashboard.
    if (selectFeature(model, notice, f)) show("feature");
  };

  // -- search by inference ---------------------------------------------------------------------
  const probeArea = h("div", { class: "saew-probe" });
  const box = liveTextBox(model, {
    placeholder: "type text to see which features fire on it, then Enter",
    onResult: () => paintProbe(),
  });
  function featureButton(f, value, extraClass = "") {
    return h(
      "button",
      { class: `saew-tip-feature ${extraClass}`, dataset: { feature: f }, onclick: () => open(f) },
      h("span", { class: "saew-tip-id" }, `#${f}`),
      h("span", { class: "saew-tip-label" }, labels[f] || ""),
      h("span", { class: "saew-tip-value" }, fmt(value)),
    );
  }
  function paintProbe() {
    clear(probeArea);
    const probe = decodeProbe(model.get("_probe"));
    if (!probe) return;
    const tokens = h("div", { class: "saew-example saew-probe-tokens" });
    const spans = probe.tokens.map((text, t) => {
      const span = tokenSpan(text);
      span.saewToken = t;
      if (probe.skipped.has(t)) span.classList.add("saew-skipped");
      tokens.appendChild(span);
      return span;
    });
    const shade = (f) => {
      const values = f >= 0 ? probeColumn(probe, f) : null;
      const peak = f >= 0 ? Math.max(...values, maxAct[f] || 0) : 0;
      spans.forEach((s, t) => {
        s.style.background = values && values[t] > 0 ? sequential(values[t] / peak) : "";
      });
    };
    tokens.addEventListener("mouseover", (event) => {
      const span = event.target.closest ? event.target.closest(".saew-tok") : null;
      if (!span || span.saewToken === undefined) return;
      const t = span.saewToken;
      const rows = probeRow(probe, t).slice(0, TOP_PER_TOKEN);
      tooltip.show(
        span,
        h(
          "div",
          {},
          h("div", { class: "saew-tip-token" }, visibleText(probe.tokens[t])),
          rows.length
            ? h("ul", { class: "saew-tip-list" }, rows.map(([f, v]) => h("li", {}, featureButton(f, v))))
            : h("div", { class: "saew-empty" }, probe.skipped.has(t) ? "first / special token: not analysed" : "no active features"),
        ),
      );
    });
    const chips = h(
      "div",
      { class: "saew-strip" },
      probe.top.length
        ? probe.top.map(([f, v, n]) => {
            const chip = h(
              "button",
              { class: "saew-chip", dataset: { feature: f }, title: `max ${fmt(v)} on ${n} tokens`, onclick: () => open(f) },
              `#${f}`,
              labels[f] ? h("span", { class: "saew-chip-label" }, ` ${labels[f]}`) : null,
            );
            chip.addEventListener("mouseenter", () => shade(f));
            return chip;
          })
        : h("span", { class: "saew-empty" }, "no feature fires on this text"),
    );
    probeArea.append(
      h("div", { class: "saew-muted" }, "Strongest features on this text (hover to shade, click to open):"),
      chips,
      tokens,
    );
    shade(probe.top.length ? probe.top[0][0] : -1);
  }

  // -- catalog: filter by label or promoted token, sort ----------------------------------------
  const filter = h("input", { class: "saew-filter", type: "search", placeholder: "filter by label or token", "aria-label": "filter" });
  const sort = h(
    "select",
    { class: "saew-sort", "aria-label": "sort by" },
    h("option", { value: "density" }, "most frequent"),
    h("option", { value: "max" }, "strongest"),
    h("option", { value: "id" }, "id"),
  );
  const count = h("span", { class: "saew-muted saew-count" });
  const list = h("div", { class: "saew-list", role: "list" });
  const available = [];
  for (let f = 0; f < labels.length; f++) if (live || cardFor(model, f)) available.push(f);
  function paintList() {
    const q = filter.value.trim().toLowerCase();
    const idQuery = q.match(/^#?(\d+)$/);
    let hits = available.filter(
      (f) => !q || (idQuery && String(f) === idQuery[1]) || labels[f].toLowerCase().includes(q) || promoted[f].toLowerCase().includes(q),
    );
    const key = sort.value;
    if (key === "density") hits.sort((a, b) => density[b] - density[a] || a - b);
    else if (key === "max") hits.sort((a, b) => maxAct[b] - maxAct[a] || a - b);
    count.textContent = `${hits.length.toLocaleString()} of ${available.length.toLocaleString()} features${hits.length > LIST_LIMIT ? ` (first ${LIST_LIMIT} shown)` : ""}`;
    hits = hits.slice(0, LIST_LIMIT);
    clear(list).append(
      ...hits.map((f) =>
        h(
          "button",
          { class: "saew-row", role: "listitem", dataset: { feature: f }, onclick: () => open(f) },
          h("span", { class: "saew-tip-id" }, `#${f}`),
          h("span", { class: "saew-row-label" }, labels[f] || (density[f] === 0 ? "(never fires)" : "")),
          h("span", { class: "saew-row-tokens", title: "tokens it promotes" }, promoted[f]),
          h("span", { class: "saew-num" }, percent(density[f])),
          h("span", { class: "saew-num" }, fmt(maxAct[f])),
        ),
      ),
    );
  }
  let timer = null;
  filter.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(paintList, 120); // re-filter once typing pauses, not per key
  });
  sort.addEventListener("change", paintList);

  // -- views -----------------------------------------------------------------------------------
  const back = h("button", { class: "saew-back" }, "← all features");
  const pane = featurePane(model, { tooltip, notice });
  const search = h(
    "div",
    { class: "saew-search" },
    box.node,
    probeArea,
    h("div", { class: "saew-controls" }, filter, sort, count),
    h("div", { class: "saew-row saew-row-head" }, h("span", {}, "id"), h("span", {}, "label"), h("span", {}, "promotes"), h("span", {}, "density"), h("span", {}, "max")),
    list,
  );
  const featureView = h("div", { class: "saew-feature-view" }, back, pane.node);
  root.append(h("div", { class: "saew-controls" }, notice), search, featureView);
  const show = (view) => {
    root.dataset.view = view;
    search.hidden = view !== "search";
    featureView.hidden = view !== "feature";
    tooltip.hide();
  };
  back.addEventListener("click", () => show("search"));
  const onFeature = () => show("feature");
  model.on("change:selected_feature", onFeature);
  show("search");
  paintList();
  paintProbe();
  root.dataset.ready = "true";
  return () => {
    clearTimeout(timer);
    box.dispose();
    pane.dispose();
    model.off("change:selected_feature", onFeature);
  };
}

export default { render };
