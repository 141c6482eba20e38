// How a search match is shown: the matched words marked inside their text, and a short note
// naming the field when the match is not in the label. Labels and tokens are untrusted: every
// piece goes in as a text node (through h), never as markup.
import { h } from "./dom.js";
import { visibleText } from "./format.js";
import { FIELD_NAMES, highlightPieces } from "./search.js";

/** `text` as nodes, the spans of `matches` (those in `field`) wrapped in <mark>. */
export function highlighted(text, matches, field = "label") {
  const spans = matches.filter((m) => m.field === field && m.text === text);
  return highlightPieces(text, spans).map((p) =>
    p.hit ? h("mark", { class: "saew-match" }, p.text) : document.createTextNode(p.text),
  );
}

/** "fires on ·food" with the word marked, for a match in a token field (null otherwise). */
export function matchNote(match) {
  if (!match || match.field === "label" || match.field === "id") return null;
  const pieces = highlightPieces(match.text, [match]).map((p) => {
    const shown = visibleText(p.text);
    return p.hit ? h("mark", { class: "saew-match" }, shown) : shown;
  });
  return h(
    "span",
    { class: "saew-match-note", dataset: { field: match.field } },
    `${FIELD_NAMES[match.field]} `,
    h("span", { class: "saew-match-token" }, ...pieces),
  );
}
