// Keyboard use of a large set of small items (tokens, graph nodes) that answer the mouse: the
// container is one tab stop (a text of 500 tokens must not be 500 stops), the arrow keys move
// a visible "active" item, and the item receives the same events the mouse would send it:
// `mouseover` when it becomes active (its tooltip shows), `click` on Enter or Space (Shift
// kept, so Shift+Enter pins a graph node like a shift-click). The views' own mouse handlers do
// the rest, so mouse and keyboard cannot drift apart.

const STEPS = { ArrowRight: 1, ArrowDown: 1, ArrowLeft: -1, ArrowUp: -1 };
const ACTIVE = "saew-kbd-active";

/**
 * @param {HTMLElement|SVGElement} container the element that takes the focus
 * @param {string} selector the items inside it
 * @param {{label?: string, keyOf?: (el: Element, i: number) => string,
 *          onActivate?: (el: Element) => void}} options
 *   keyOf: identity of an item across redraws (default: its position); onActivate: after the
 *   click an Enter or Space sent (for example, move the focus into a pinned tooltip).
 */
export function keyboardItems(container, selector, options = {}) {
  const { label = "", keyOf = (_el, i) => String(i), onActivate } = options;
  container.setAttribute("tabindex", "0");
  if (label) container.setAttribute("aria-label", label);
  let activeKey = null;

  const items = () => [...container.querySelectorAll(selector)];
  const current = (list) => list.findIndex((el, k) => keyOf(el, k) === activeKey);
  function leave(el) {
    if (!el?.classList.contains(ACTIVE)) return; // only what the keyboard made active
    el.classList.remove(ACTIVE);
    el.dispatchEvent(new MouseEvent("mouseout", { bubbles: true }));
    el.dispatchEvent(new MouseEvent("mouseleave", { bubbles: false }));
  }
  function activate(list, i) {
    const old = list[current(list)];
    if (old && old !== list[i]) leave(old);
    const el = list[i];
    activeKey = keyOf(el, i);
    el.classList.add(ACTIVE);
    el.scrollIntoView?.({ block: "nearest", inline: "nearest" });
    el.dispatchEvent(new MouseEvent("mouseover", { bubbles: true }));
  }

  // A click focuses the container too: then the clicked item is the current one (arrows go
  // on from there), and nothing else is made active or hovered.
  let pointerDown = false;
  container.addEventListener("mousedown", () => {
    pointerDown = true;
  });
  container.addEventListener("click", (event) => {
    const list = items();
    const i = list.findIndex((el) => el === event.target || el.contains(event.target));
    if (i >= 0 && event.isTrusted) activeKey = keyOf(list[i], i);
  });
  container.addEventListener("focus", (event) => {
    if (event.target !== container) return;
    if (pointerDown) {
      pointerDown = false;
      return;
    }
    const list = items();
    if (!list.length) return;
    if (container.dataset.quietFocus) {
      // back from a tooltip that Escape closed: mark the item, do not reopen its tooltip
      delete container.dataset.quietFocus;
      list[Math.max(0, current(list))].classList.add(ACTIVE);
      return;
    }
    activate(list, Math.max(0, current(list)));
  });
  container.addEventListener("blur", (event) => {
    if (event.target !== container) return;
    pointerDown = false;
    const list = items();
    leave(list[current(list)]);
  });
  container.addEventListener("keydown", (event) => {
    if (event.target !== container) return;
    const list = items();
    if (!list.length) return;
    const at = current(list);
    let next = null;
    if (event.key in STEPS) next = Math.min(list.length - 1, Math.max(0, at + STEPS[event.key]));
    else if (event.key === "Home") next = 0;
    else if (event.key === "End") next = list.length - 1;
    if (next !== null) {
      event.preventDefault();
      activate(list, at < 0 ? 0 : next);
      return;
    }
    if ((event.key === "Enter" || event.key === " ") && at >= 0) {
      event.preventDefault();
      const el = list[at];
      el.dispatchEvent(new MouseEvent("click", { bubbles: true, shiftKey: event.shiftKey }));
      onActivate?.(el);
    }
  });
  return container;
}

/**
 * Move the focus into a pinned tooltip (its first button), so Tab and Enter work inside it;
 * Escape there closes it (the tooltip's own handler) and gives the focus back to `back`.
 */
export function focusTooltip(root, back) {
  const tip = root.querySelector(".saew-tooltip:not([hidden])");
  const button = tip?.querySelector("button");
  if (!button) return;
  button.focus();
  tip.onkeydown = (event) => {
    if (event.key !== "Escape") return;
    back.dataset.quietFocus = "true";
    back.focus();
  };
}
