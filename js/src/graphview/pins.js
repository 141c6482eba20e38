// The side panel's pins: the pinned nodes, their subgraph's scores, and supernodes (labelled
// groups of pinned nodes).
import { clear, h } from "../lib/dom.js";
import { applyOnEnter } from "../lib/keys.js";
import {
  groupColour,
  groupOf,
  groupPinned,
  nodeTitle,
  pinScores,
  removeSupernode,
  renameSupernode,
} from "./state.js";

const SCORES_TITLE =
  "the pinned features as a subgraph, every other feature counted as an error node: the share of the targets' influence that reaches the tokens (replacement) and of the nodes' inputs that is explained (completeness)";

export function pinPanel(model, g, { error, togglePin, open }) {
  const node = h("div", { class: "saew-graph-pins" });
  const groupLabel = h("input", {
    type: "text",
    class: "saew-graph-group-label",
    placeholder: "supernode label",
  });
  const saveSupernodes = (next) => {
    model.set("supernodes", next);
    model.save_changes();
  };

  function pinItem(id, groups, supernodes) {
    const i = g.indexOf.get(id);
    return h(
      "li",
      { dataset: { node: id } },
      h(
        "button",
        { class: "saew-link", onclick: () => open(id) },
        i !== undefined ? nodeTitle(g, i) : id,
      ),
      groups.has(id)
        ? h("span", { class: "saew-muted" }, ` [${supernodes[groups.get(id)][0]}]`)
        : "",
      h("button", { class: "saew-x", title: "unpin", onclick: () => togglePin(id) }, "×"),
    );
  }

  function supernodeItem(sn, k, supernodes) {
    const name = h("input", {
      type: "text",
      value: sn[0],
      class: "saew-graph-supernode-label",
      "aria-label": "supernode label",
    });
    name.addEventListener("change", () =>
      saveSupernodes(renameSupernode(supernodes, k, name.value)),
    );
    applyOnEnter(name);
    return h(
      "li",
      { style: { borderLeft: `4px solid ${groupColour(k)}` } },
      name,
      ` ${sn.length - 1} nodes `,
      h(
        "button",
        {
          class: "saew-x",
          title: "ungroup",
          onclick: () => saveSupernodes(removeSupernode(supernodes, k)),
        },
        "×",
      ),
    );
  }

  function groupButton() {
    const group = () => {
      const result = groupPinned(
        model.get("pinned") || [],
        model.get("supernodes") || [],
        groupLabel.value,
      );
      error.textContent = result.error || "";
      if (result.error) return;
      saveSupernodes(result.supernodes);
      groupLabel.value = "";
    };
    return h("button", { class: "saew-graph-group", onclick: group }, "group pinned");
  }

  // A suggested group: accept makes it a supernode, reject drops it for good (the kernel
  // decides both, so they need one; an exported page lists what was suggested when saved).
  function suggestionItem(sg, k, live) {
    const names = sg.slice(1).map((id) => {
      const i = g.indexOf.get(id);
      return i !== undefined ? nodeTitle(g, i) : id;
    });
    const ask = (type) => model.send({ type, index: k });
    return h(
      "li",
      { class: "saew-graph-suggestion", dataset: { members: sg.slice(1).join(" ") } },
      h("span", { class: "saew-graph-suggestion-label", title: names.join("\n") }, sg[0]),
      ` ${sg.length - 1} nodes `,
      h(
        "button",
        {
          class: "saew-graph-accept",
          disabled: !live,
          title: live ? "make it a supernode" : "needs a running kernel",
          onclick: () => ask("accept_suggestion"),
        },
        "accept",
      ),
      h(
        "button",
        {
          class: "saew-graph-reject",
          disabled: !live,
          title: live ? "do not suggest it again" : "needs a running kernel",
          onclick: () => ask("reject_suggestion"),
        },
        "reject",
      ),
    );
  }

  function paint() {
    clear(node);
    const pins = model.get("pinned") || [];
    const supernodes = model.get("supernodes") || [];
    const groups = groupOf(supernodes);
    node.append(h("h4", {}, `pinned (${pins.length})`));
    if (pins.length) {
      // Scores of the pinned features as a subgraph (the others count as errors); the kernel
      // computes them, so a page without one shows them only for the pins it was saved with.
      const sc = pinScores(model.get("_pinned_scores"), pins, model.get("_live"));
      node.append(
        h(
          "div",
          {
            class: "saew-graph-pin-scores saew-muted",
            dataset: { current: String(sc.current), replacement: sc.replacement },
            title: SCORES_TITLE,
          },
          sc.text,
        ),
      );
    }
    node.append(
      h(
        "ul",
        { class: "saew-graph-pin-list" },
        ...pins.map((id) => pinItem(id, groups, supernodes)),
      ),
      h("div", { class: "saew-row" }, groupLabel, groupButton()),
      h(
        "ul",
        { class: "saew-graph-supernodes" },
        ...supernodes.map((sn, k) => supernodeItem(sn, k, supernodes)),
      ),
    );
    const suggestions = model.get("_suggestions") || [];
    if (suggestions.length) {
      const live = Boolean(model.get("_live"));
      node.append(
        h("h4", {}, `suggested supernodes (${suggestions.length})`),
        h(
          "ul",
          { class: "saew-graph-suggestions" },
          ...suggestions.map((sg, k) => suggestionItem(sg, k, live)),
        ),
      );
    }
  }

  return { node, paint };
}
