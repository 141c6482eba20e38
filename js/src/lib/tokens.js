import { h } from "./dom.js";

// Tokens are shown as the text they stand for, with what would otherwise be invisible marked:
// a newline shows ↵ and then breaks the line, a tab shows ⇥, a token of only spaces shows ·,
// and byte fragments such as <0xE2> are boxed.

const BYTE = /^(<0x[0-9A-Fa-f]{2}>)+$/;
const PLAIN = /^[^\n\t\r<]*\S[^\n\t\r<]*$/; // no whitespace markers or byte boxes needed

/**
 * A token span. The common case (ordinary text) takes a fast path: one element, one text
 * node, no attribute parsing, which matters when a page holds tens of thousands of tokens.
 */
export function tokenSpan(text) {
  if (PLAIN.test(text)) {
    const span = document.createElement("span");
    span.className = "saew-tok";
    span.textContent = text;
    return span;
  }
  return tokenNode(text);
}

export function tokenNode(text, attrs = {}) {
  const classes = ["saew-tok"];
  let shown = text;
  if (BYTE.test(text)) classes.push("saew-tok-byte");
  else if (text.length > 0 && text.trim() === "" && !text.includes("\n")) {
    classes.push("saew-tok-space");
    shown = text.replace(/ /g, "·").replace(/\t/g, "⇥");
  } else {
    shown = text.replace(/\t/g, "⇥").replace(/\r/g, "␍");
  }
  if (text === "") {
    classes.push("saew-tok-empty");
    shown = "∅";
  }
  const parts = shown.split("\n");
  const children = [];
  parts.forEach((part, i) => {
    if (i > 0) children.push(h("span", { class: "saew-nl" }, "↵"), h("br"));
    if (part) children.push(part);
  });
  return h("span", { ...attrs, class: classes.join(" ") }, ...children);
}
