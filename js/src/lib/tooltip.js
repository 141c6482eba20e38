import { clear } from "./dom.js";

/** One tooltip per widget, positioned inside the widget's root (which is position: relative). */
export function createTooltip(root) {
  const tip = document.createElement("div");
  tip.className = "saew-tooltip";
  tip.setAttribute("role", "tooltip");
  tip.hidden = true;
  root.appendChild(tip);
  return {
    node: tip,
    show(anchor, content) {
      clear(tip).append(content);
      tip.hidden = false;
      const box = root.getBoundingClientRect();
      const at = anchor.getBoundingClientRect();
      let left = at.left - box.left;
      const maxLeft = Math.max(0, root.clientWidth - tip.offsetWidth - 4);
      left = Math.min(Math.max(0, left), maxLeft);
      tip.style.left = `${left}px`;
      tip.style.top = `${at.bottom - box.top + 4}px`;
    },
    hide() {
      tip.hidden = true;
    },
  };
}
