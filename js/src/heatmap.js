// TokenHeatmap: documents as flowing text, each token shaded by the selected feature.
import { numbers, unpack } from "./lib/buffers.js";
import { sequential } from "./lib/colors.js";
import { clear, h } from "./lib/dom.js";
import { fmt } from "./lib/format.js";
import { tokenSpan, visibleText } from "./lib/tokens.js";
import { createTooltip } from "./lib/tooltip.js";

const TOP_IN_TOOLTIP = 8;

/** Views over one site's arrays (no copies; values are read one at a time). */
function decodeSite(raw) {
  return {
    d_sae: raw.d_sae,
    indptr: unpack(raw.indptr),
    indices: unpack(raw.indices),
    values: numbers(raw.values),
    featureMax: unpack(raw.feature_max),
  };
}

function column(site, feature, nTokens) {
  const out = new Float32Array(nTokens);
  const { indptr, indices, values } = site;
  for (let row = 0; row < nTokens; row++) {
    for (let k = indptr[row]; k < indptr[row + 1]; k++) {
      if (indices[k] === feature) {
        out[row] = values.get(k);
        break;
      }
    }
  }
  return out;
}

function rowFeatures(site, row) {
  const out = [];
  for (let k = site.indptr[row]; k < site.indptr[row + 1]; k++) {
    out.push([site.indices[k], site.values.get(k)]);
  }
  return out.sort((a, b) => b[1] - a[1]);
}

function labelOf(model, site, feature) {
  const labels = (model.get("labels") || {})[site] || {};
  return labels[String(feature)] || "";
}

function render({ model, el }) {
  const root = h("div", { class: "saew-root saew-heatmap" });
  el.appendChild(root);
  const message = model.get("_message");
  const tokens = model.get("tokens") || [];
  const offsets = unpack(model.get("_doc_offsets"));
  const nTokens = offsets[offsets.length - 1] || 0;
  const decoded = new Map();
  const site = () => {
    const name = model.get("site");
    if (!decoded.has(name)) decoded.set(name, decodeSite(model.get("_sites")[name]));
    return decoded.get(name);
  };

  // -- controls ---------------------------------------------------------------------------
  const siteNames = Object.keys(model.get("_sites") || {});
  const siteSelect = h(
    "select",
    { class: "saew-site", "aria-label": "site" },
    siteNames.map((s) => h("option", { value: s }, s)),
  );
  siteSelect.value = model.get("site");
  siteSelect.addEventListener("change", () => {
    model.set("site", siteSelect.value);
    model.save_changes();
  });
  const listId = `saew-features-${Math.random().toString(36).slice(2)}`;
  const datalist = h("datalist", { id: listId });
  const picker = h("input", {
    class: "saew-picker",
    type: "text",
    list: listId,
    placeholder: "feature id or label",
    "aria-label": "feature",
  });
  const notice = h("span", { class: "saew-notice", role: "status" });
  const legend = h("span", { class: "saew-legend" });
  const controls = h(
    "div",
    { class: "saew-controls" },
    siteNames.length > 1 ? siteSelect : h("span", { class: "saew-site-name" }, model.get("site")),
    picker,
    datalist,
    legend,
    notice,
  );
  const strip = h("div", { class: "saew-strip", "aria-label": "most active features" });
  const docs = h("div", { class: "saew-docs" });
  const banner = message ? h("div", { class: "saew-banner" }, message) : null;
  root.append(controls, ...(banner ? [banner] : []), strip, docs);
  const tooltip = createTooltip(root);

  // -- tokens (one span each; listeners are delegated) -------------------------------------
  // Tokens are built in slices: the first slice is attached at once (first render), the rest
  // follow in later tasks so a long page never blocks the browser. The token index rides on
  // the element (no attributes to parse), and listeners are delegated.
  const spans = new Array(nTokens);
  let built = 0;
  let line = null;
  let lineDoc = -1;
  function buildUpTo(limit) {
    const fragment = document.createDocumentFragment();
    const end = Math.min(limit, nTokens);
    while (built < end) {
      const d = docOf(built);
      if (d !== lineDoc) {
        line = document.createElement("div");
        line.className = "saew-doc";
        fragment.appendChild(line);
        lineDoc = d;
      }
      const span = tokenSpan(tokens[d][built - offsets[d]]);
      span.saewToken = built;
      if (shaded && shaded[built]) span.style.background = shaded[built];
      spans[built] = span;
      line.appendChild(span);
      built += 1;
    }
    docs.appendChild(fragment);
  }
  let docCursor = 0;
  function docOf(t) {
    while (offsets[docCursor + 1] <= t) docCursor += 1;
    return docCursor;
  }
  function docIndex(t) {
    let lo = 0;
    let hi = offsets.length - 2;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (offsets[mid] <= t) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  function selectFeature(feature) {
    const s = site();
    if (!Number.isInteger(feature) || feature < 0 || feature >= s.d_sae) {
      notice.textContent = `feature must be an integer in 0..${s.d_sae - 1}`;
      return;
    }
    notice.textContent = "";
    model.set("selected_feature", feature);
    model.save_changes();
  }

  function fillStrip() {
    clear(strip);
    clear(datalist);
    const name = model.get("site");
    const summary = (model.get("_summary") || {})[name] || [];
    if (summary.length === 0) {
      strip.append(h("span", { class: "saew-empty" }, "no feature fires on these documents"));
    }
    for (const [feature, max, count] of summary) {
      const label = labelOf(model, name, feature);
      strip.append(
        h(
          "button",
          {
            class: "saew-chip",
            dataset: { feature },
            title: `max ${fmt(max)} · active on ${count} tokens`,
            onclick: () => selectFeature(feature),
          },
          `#${feature}`,
          label ? h("span", { class: "saew-chip-label" }, ` ${label}`) : null,
        ),
      );
    }
    const labels = (model.get("labels") || {})[name] || {};
    for (const [feature, label] of Object.entries(labels)) {
      datalist.append(h("option", { value: `${feature} ${label}` }));
    }
  }

  let shaded = null; // the colour each token has now
  function paint() {
    const feature = model.get("selected_feature");
    const s = site();
    for (const chip of strip.querySelectorAll(".saew-chip")) {
      chip.classList.toggle("saew-active", Number(chip.dataset.feature) === feature);
    }
    if (feature < 0 || feature >= s.d_sae) {
      for (let t = 0; t < built; t++) spans[t].style.background = "";
      shaded = null;
      clear(legend);
      return;
    }
    const values = column(s, feature, nTokens);
    const max = s.featureMax[feature];
    const next = Array.from(values, (v) => (max > 0 ? sequential(v / max) : ""));
    for (let t = 0; t < built; t++) {
      // Only touch tokens whose colour changes: most tokens stay unshaded.
      if (next[t] !== (shaded ? shaded[t] : "")) spans[t].style.background = next[t];
    }
    shaded = next;
    const label = labelOf(model, model.get("site"), feature);
    clear(legend).append(
      h("span", { class: "saew-legend-name" }, `#${feature}${label ? ` ${label}` : ""}`),
      h("span", { class: "saew-legend-bar" }),
      max > 0 ? `0 – ${fmt(max)}` : "never active here",
    );
    if (document.activeElement !== picker) picker.value = String(feature);
  }

  picker.addEventListener("change", () => {
    const text = picker.value.trim();
    if (!text) return;
    const leading = text.match(/^#?(\d+)/);
    if (leading) return selectFeature(Number(leading[1]));
    const name = model.get("site");
    const labels = (model.get("labels") || {})[name] || {};
    const hit = Object.entries(labels).find(([, l]) => l.toLowerCase().includes(text.toLowerCase()));
    if (hit) selectFeature(Number(hit[0]));
    else notice.textContent = `no feature id or label matches "${text}"`;
  });

  // -- hover and click -----------------------------------------------------------------------
  let pinned = false;
  function tokenAt(target) {
    const span = target.closest ? target.closest(".saew-tok") : null;
    return span && span.saewToken !== undefined ? span : null;
  }
  function showToken(span) {
    const t = span.saewToken;
    const d = docIndex(t);
    const s = site();
    const features = rowFeatures(s, t).slice(0, TOP_IN_TOOLTIP);
    const name = model.get("site");
    const list = features.length
      ? h(
          "ul",
          { class: "saew-tip-list" },
          features.map(([f, v]) =>
            h(
              "li",
              {},
              h(
                "button",
                { class: "saew-tip-feature", dataset: { feature: f }, onclick: () => selectFeature(f) },
                h("span", { class: "saew-tip-id" }, `#${f}`),
                h("span", { class: "saew-tip-label" }, labelOf(model, name, f)),
                h("span", { class: "saew-tip-value" }, fmt(v)),
              ),
            ),
          ),
        )
      : h("div", { class: "saew-empty" }, "no active features");
    tooltip.show(
      span,
      h(
        "div",
        {},
        h("div", { class: "saew-tip-token" }, visibleText(tokens[d][t - offsets[d]])),
        h("div", { class: "saew-tip-where" }, `doc ${d} · token ${t - offsets[d]}`),
        list,
      ),
    );
  }
  docs.addEventListener("mouseover", (event) => {
    const span = tokenAt(event.target);
    if (span && !pinned) showToken(span);
  });
  docs.addEventListener("mouseleave", () => {
    if (!pinned) tooltip.hide();
  });
  docs.addEventListener("click", (event) => {
    const span = tokenAt(event.target);
    if (!span) return;
    const t = span.saewToken;
    const d = docIndex(t);
    pinned = true;
    showToken(span);
    for (const old of docs.querySelectorAll(".saew-tok-selected")) old.classList.remove("saew-tok-selected");
    span.classList.add("saew-tok-selected");
    model.set("selected_token", [d, t - offsets[d]]);
    model.save_changes();
  });
  root.addEventListener("keydown", (event) => {
    if (event.key === "Escape") {
      pinned = false;
      tooltip.hide();
    }
  });
  const unpin = (event) => {
    if (pinned && !root.contains(event.target)) {
      pinned = false;
      tooltip.hide();
    }
  };
  document.addEventListener("mousedown", unpin);

  const FIRST_SLICE = 600; // about what the 480px viewport shows
  const SLICE = 2500;
  fillStrip();
  paint();
  buildUpTo(FIRST_SLICE);
  root.dataset.firstRender = "true";
  // Each further slice waits for the next frame, so the first one is painted before any more
  // work (a hidden page gets no frames, so it falls back to plain tasks).
  let timer = null;
  const later = (fn) => {
    if (document.hidden) timer = setTimeout(fn, 0);
    else requestAnimationFrame(() => (timer = setTimeout(fn, 0)));
  };
  const more = () => {
    buildUpTo(built + SLICE);
    if (built < nTokens) later(more);
    else root.dataset.ready = "true";
  };
  if (built < nTokens) later(more);
  else root.dataset.ready = "true";
  model.on("change:selected_feature", paint);
  model.on("change:site", () => {
    siteSelect.value = model.get("site");
    fillStrip();
    paint();
  });
  model.on("change:labels", () => {
    fillStrip();
    paint();
  });
  return () => {
    clearTimeout(timer);
    document.removeEventListener("mousedown", unpin);
  };
}

export default { render };
