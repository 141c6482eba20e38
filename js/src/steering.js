// SteeringPanel: a slider per feature, baseline and steered continuations side by side.
// The kernel runs generations; this view edits `rows` and the settings, and shows the newest
// run only (each streamed update carries its run id), so texts from two runs never mix.
import { clear, h } from "./lib/dom.js";
import { fmt } from "./lib/format.js";
import { sweepChart } from "./lib/sweepchart.js";

const COMMIT_DELAY_MS = 150; // a released slider waits this long for another move

function shortSite(site) {
  const m = /^blocks\.(\d+)\.(.*)$/.exec(site || "");
  return m ? `L${m[1]} ${m[2].replace(/^hook_/, "")}` : site;
}

function strengthText(row, value) {
  if (row.mode === "ablate") return "ablated";
  const verb = row.mode === "clamp" ? "set to" : "";
  if (row.unit === null || row.unit === undefined) return `${verb} ${fmt(value)} × ‖x‖`.trim();
  return `${verb} ${fmt(value)} × max (${fmt(value * row.unit)})`.trim();
}

function render({ model, el }) {
  const live = model.get("_live");
  const root = h("div", { class: "saew-root saew-steering" });
  el.appendChild(root);
  const off = live ? undefined : true;
  const offTitle = live ? undefined : "needs a running Python kernel";

  // -- settings -------------------------------------------------------------------------
  const prompt = h("textarea", {
    class: "saew-steer-prompt",
    rows: 2,
    "aria-label": "prompt",
    placeholder: "prompt (Enter to run, Shift+Enter for a new line)",
    disabled: off,
    title: offTitle,
  });
  prompt.value = model.get("prompt");
  const number = (cls, trait, attrs) => {
    const input = h("input", { class: cls, type: "number", disabled: off, title: offTitle, ...attrs });
    input.value = model.get(trait);
    input.addEventListener("change", () => {
      const value = Number(input.value);
      if (!Number.isFinite(value)) return;
      model.set(trait, value);
      model.save_changes();
    });
    return input;
  };
  const maxTokens = number("saew-steer-max", "max_new_tokens", { min: 1, max: 512, step: 1, "aria-label": "max new tokens" });
  const temperature = number("saew-steer-temp", "temperature", { min: 0, max: 5, step: 0.1, "aria-label": "temperature" });
  const seed = number("saew-steer-seed", "seed", { min: 0, step: 1, "aria-label": "seed" });
  const chat = h("input", { class: "saew-steer-chat", type: "checkbox", disabled: off, checked: model.get("chat") || undefined });
  const applyTo = h(
    "select",
    { class: "saew-steer-apply", "aria-label": "apply edits to", disabled: off },
    ["both", "prompt", "generated"].map((v) => h("option", { value: v }, v === "both" ? "prompt + generated" : `${v} only`)),
  );
  applyTo.value = model.get("apply_to");
  const status = h("span", { class: "saew-steer-status", role: "status" });
  const error = h("div", { class: "saew-steer-error", role: "alert" });

  prompt.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey) {
      event.preventDefault();
      prompt.blur();
    }
  });
  prompt.addEventListener("change", () => {
    model.set("prompt", prompt.value);
    model.save_changes();
  });
  chat.addEventListener("change", () => {
    model.set("chat", chat.checked);
    model.save_changes();
  });
  applyTo.addEventListener("change", () => {
    model.set("apply_to", applyTo.value);
    model.save_changes();
  });

  const settings = h(
    "div",
    { class: "saew-controls saew-steer-settings" },
    h("label", {}, "max tokens ", maxTokens),
    h("label", {}, "temperature ", temperature),
    h("label", {}, "seed ", seed),
    h("label", {}, chat, " chat template"),
    h("label", {}, "edit ", applyTo),
    status,
  );

  // -- feature rows ---------------------------------------------------------------------
  const rowsNode = h("div", { class: "saew-steer-rows" });
  let commitTimer = null;
  let cancelSent = false;
  let rowViews = [];

  const commit = () => {
    clearTimeout(commitTimer);
    commitTimer = setTimeout(() => {
      const rows = model.get("rows").map((row, i) => ({ ...row, strength: rowViews[i] ? rowViews[i].value() : row.strength, mode: rowViews[i] ? rowViews[i].mode() : row.mode }));
      cancelSent = false;
      model.set("rows", rows);
      model.save_changes();
    }, COMMIT_DELAY_MS);
  };

  function rowView(row, index) {
    const slider = h("input", {
      class: "saew-steer-slider",
      type: "range",
      min: -row.limit,
      max: row.limit,
      step: row.limit / 100,
      "aria-label": `strength of feature ${row.feature}`,
      disabled: off || row.mode === "ablate" || undefined,
      title: offTitle,
    });
    slider.value = row.strength;
    const value = h("span", { class: "saew-steer-value" }, strengthText(row, row.strength));
    const mode = h(
      "select",
      { class: "saew-steer-mode", "aria-label": "mode", disabled: off },
      ["add", "clamp", "ablate"].map((m) => h("option", { value: m }, m)),
    );
    mode.value = row.mode;
    const sweep = h("button", { class: "saew-steer-sweep", type: "button", disabled: off, title: "concept and fluency across strengths" }, "sweep");
    const remove = h("button", { class: "saew-steer-remove", type: "button", disabled: off, "aria-label": "remove feature" }, "✕");
    slider.addEventListener("input", () => {
      value.textContent = strengthText({ ...row, mode: mode.value }, Number(slider.value));
      // a slider moving again makes the run in flight pointless: stop it now
      if (!cancelSent && model.get("_status").startsWith("generating")) {
        model.send({ type: "cancel" });
        cancelSent = true;
      }
    });
    slider.addEventListener("change", commit);
    mode.addEventListener("change", () => {
      slider.disabled = mode.value === "ablate";
      value.textContent = strengthText({ ...row, mode: mode.value }, Number(slider.value));
      commit();
    });
    sweep.addEventListener("click", () => model.send({ type: "sweep", row: index }));
    remove.addEventListener("click", () => {
      model.set("rows", model.get("rows").filter((_, i) => i !== index));
      model.save_changes();
    });
    const node = h(
      "div",
      { class: "saew-steer-row", dataset: { feature: row.feature, site: row.site } },
      h("span", { class: "saew-steer-name" }, h("b", {}, `#${row.feature}`), " ", h("span", { class: "saew-steer-label" }, row.label || "(no label)"), " ", h("span", { class: "saew-muted" }, shortSite(row.site))),
      mode,
      slider,
      value,
      sweep,
      remove,
    );
    return {
      node,
      key: `${row.site}|${row.feature}|${row.limit}`,
      value: () => Number(slider.value),
      mode: () => mode.value,
      update(next) {
        if (document.activeElement !== slider) slider.value = next.strength;
        mode.value = next.mode;
        slider.disabled = off || next.mode === "ablate";
        value.textContent = strengthText(next, next.strength);
        row = next;
      },
    };
  }

  function paintRows() {
    const rows = model.get("rows") || [];
    const keys = rows.map((r) => `${r.site}|${r.feature}|${r.limit}`);
    if (keys.length === rowViews.length && keys.every((k, i) => k === rowViews[i].key)) {
      rows.forEach((r, i) => rowViews[i].update(r)); // in place: keeps keyboard focus
      return;
    }
    rowViews = rows.map(rowView);
    clear(rowsNode);
    if (!rows.length) rowsNode.append(h("div", { class: "saew-empty" }, "no features yet: search below to add one"));
    rowsNode.append(...rowViews.map((v) => v.node));
  }

  // -- search to add ----------------------------------------------------------------------
  const search = h("input", {
    class: "saew-steer-search",
    type: "search",
    placeholder: live ? "add a feature: id, label or token" : "adding features needs a running Python kernel",
    "aria-label": "search features to add",
    disabled: off,
  });
  const hits = h("div", { class: "saew-steer-results" });
  search.addEventListener("change", () => {
    model.set("_search", search.value);
    model.save_changes();
  });
  function paintHits() {
    clear(hits);
    for (const hit of model.get("_search_results") || []) {
      const button = h(
        "button",
        { class: "saew-chip saew-steer-hit", type: "button", dataset: { feature: hit.feature, site: hit.site } },
        `#${hit.feature} `,
        h("span", { class: "saew-chip-label" }, hit.label || shortSite(hit.site)),
      );
      button.addEventListener("click", () => {
        model.send({ type: "add", site: hit.site, feature: hit.feature });
      });
      hits.append(button);
    }
  }

  // -- outputs ------------------------------------------------------------------------------
  const column = (role, title) => {
    const text = h("span", { class: "saew-steer-text" });
    const node = h(
      "section",
      { class: "saew-panel saew-steer-out", dataset: { role, done: "false", run: "-1" } },
      h("h4", { class: "saew-panel-title" }, title),
      h("div", { class: "saew-steer-body" }, h("span", { class: "saew-steer-prompt-echo" }), text),
      h("div", { class: "saew-steer-measures" }),
    );
    return { node, text, echo: node.querySelector(".saew-steer-prompt-echo"), measures: node.querySelector(".saew-steer-measures") };
  };
  const baseline = column("baseline", "Baseline (no edits)");
  const steered = column("steered", "Steered");
  const outputs = h("div", { class: "saew-steer-outputs" }, baseline.node, steered.node);
  const sweepNode = h("div", { class: "saew-steer-sweepchart" });

  function paintOutput(view, trait) {
    const data = model.get(trait) || {};
    const current = model.get("_run");
    view.echo.textContent = model.get("prompt");
    if (data.run !== current && live) {
      view.node.dataset.done = "false";
      view.node.classList.add("saew-stale");
      return; // an older run: keep the last text dimmed until the new run streams
    }
    view.node.classList.remove("saew-stale");
    view.node.dataset.run = String(data.run ?? -1);
    view.node.dataset.done = data.done ? "true" : "false";
    // which strengths this text was generated with (what the kernel ran, not the sliders)
    view.node.dataset.strengths = (data.measures || []).map((m) => m.strength).join(",");
    view.text.textContent = data.text || "";
    clear(view.measures);
    if (!data.done) return;
    const parts = [];
    if (data.perplexity !== null && data.perplexity !== undefined) parts.push(`perplexity ${fmt(data.perplexity)}`);
    parts.push(`${data.n_tokens} tokens in ${fmt(data.seconds)} s`);
    view.measures.append(h("div", {}, parts.join(" · ")));
    for (const m of data.measures || []) {
      const shift = m.vocab_shift === null ? "–" : `${m.vocab_shift >= 0 ? "+" : ""}${(100 * m.vocab_shift).toFixed(2)} pp`;
      const act = m.activation === null ? "–" : fmt(m.activation);
      view.measures.append(
        h("div", { class: "saew-steer-measure", dataset: { feature: m.feature } }, `#${m.feature}: activation ${act} on the new tokens · VocabProj tokens ${shift}`),
      );
    }
  }

  function paintStatus() {
    const state = model.get("_status") || "";
    status.textContent = state;
    status.dataset.state = state;
    error.textContent = model.get("_error") || "";
  }

  function paintSweep() {
    clear(sweepNode);
    const sweep = model.get("_sweep") || {};
    if (!sweep.points || !sweep.points.length) return;
    sweepNode.append(sweepChart(sweep.points, { title: `#${sweep.feature} ${sweep.label || ""} (${sweep.mode})` }));
  }

  const onRun = () => {
    paintOutput(baseline, "_baseline");
    paintOutput(steered, "_steered");
  };
  const handlers = {
    "change:rows": paintRows,
    "change:_baseline": () => paintOutput(baseline, "_baseline"),
    "change:_steered": () => paintOutput(steered, "_steered"),
    "change:_run": onRun,
    "change:_status": paintStatus,
    "change:_error": paintStatus,
    "change:_search_results": paintHits,
    "change:_sweep": paintSweep,
    "change:prompt": () => {
      if (document.activeElement !== prompt) prompt.value = model.get("prompt");
    },
  };
  for (const [event, fn] of Object.entries(handlers)) model.on(event, fn);

  root.append(
    h("div", { class: "saew-steer-head" }, prompt),
    settings,
    error,
    rowsNode,
    h("div", { class: "saew-steer-add" }, search, hits),
    outputs,
    sweepNode,
  );
  paintRows();
  paintHits();
  paintStatus();
  onRun();
  paintSweep();
  root.dataset.ready = "true";
  return () => {
    clearTimeout(commitTimer);
    for (const [event, fn] of Object.entries(handlers)) model.off(event, fn);
    clear(root);
  };
}

export default { render };
