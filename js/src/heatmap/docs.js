// The documents as flowing text, one span per token. Spans are built in slices: the first is
// attached at once (first render), the rest follow in later tasks, so a long page never blocks
// the browser. The token index rides on the element (no attributes to parse); listeners are
// delegated.
import { tokenSpan } from "../lib/tokens.js";
import { FIRST_SLICE, SLICE } from "./state.js";

export function tokenDocs({ tokens, offsets, sinks, container, onFirstSlice, onComplete }) {
  const nTokens = offsets[offsets.length - 1] || 0;
  const spans = new Array(nTokens);
  let built = 0;
  let line = null;
  let lineDoc = -1;
  let docCursor = 0;
  let shaded = null; // the colour each token has now

  function docOf(t) {
    while (offsets[docCursor + 1] <= t) docCursor += 1;
    return docCursor;
  }

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
      if (sinks?.has(built)) span.classList.add("saew-sink"); // explained in its tooltip
      if (shaded?.[built]) span.style.background = shaded[built];
      spans[built] = span;
      line.appendChild(span);
      built += 1;
    }
    container.appendChild(fragment);
  }

  /** Colour every token (`next`: one background per token; null: none). */
  function shade(next) {
    for (let t = 0; t < built; t++) {
      // Only touch tokens whose colour changes: most tokens stay unshaded.
      const now = shaded ? shaded[t] : "";
      const want = next ? next[t] : "";
      if (want !== now) spans[t].style.background = want;
    }
    shaded = next;
  }

  // Each further slice waits for the next frame, so the first one is painted before any more
  // work (a hidden page gets no frames, so it falls back to plain tasks).
  let timer = null;
  const later = (fn) => {
    if (document.hidden) timer = setTimeout(fn, 0);
    else
      requestAnimationFrame(() => {
        timer = setTimeout(fn, 0);
      });
  };
  const more = () => {
    buildUpTo(built + SLICE);
    if (built < nTokens) later(more);
    else onComplete();
  };

  return {
    nTokens,
    shade,
    /** Build the first slice now and the rest in later tasks. */
    start() {
      buildUpTo(FIRST_SLICE);
      onFirstSlice();
      if (built < nTokens) later(more);
      else onComplete();
    },
    dispose() {
      clearTimeout(timer);
    },
  };
}
