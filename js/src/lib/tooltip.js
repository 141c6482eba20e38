// One tooltip per widget. It is a manual popover: shown in the browser's top layer, so no
// output area, scroll box or notebook panel clips it or grows a scroll bar for it, and placed
// against the viewport, kept on screen (lib/placement.js). It stays a child of the widget's root
// in the DOM, so it inherits the widget's theme variables.
//
// A hover tooltip (`show`) lets the pointer through: it never blocks a click. A pinned one
// (`pin`, after a click) is interactive until Escape or a click outside the widget. Either hides
// when the pointer leaves its anchor (hover only), when the anchor leaves the page (the content
// under it was replaced) or stops being rendered, when a scroll moves the anchor, and on resize;
// it follows an anchor that moves for any other reason (output above it grew).
import { clear } from "./dom.js";
import { placeTip } from "./placement.js";

const POPOVER = typeof HTMLElement !== "undefined" && "popover" in HTMLElement.prototype;

export function createTooltip(root) {
  const tip = document.createElement("div");
  tip.className = "saew-tooltip";
  tip.setAttribute("role", "tooltip");
  tip.hidden = true;
  if (POPOVER) tip.setAttribute("popover", "manual");
  root.appendChild(tip);
  let anchor = null;
  let pinned = false;
  let placedAt = null; // the anchor's box when the tooltip was placed
  let frame = 0; // the animation frame that follows the anchor

  const watcher = new MutationObserver(() => {
    if (anchor && !anchor.isConnected) hide();
  });
  const onLeave = () => {
    if (!pinned) hide();
  };
  const moved = () => {
    const box = anchor.getBoundingClientRect();
    const was = placedAt;
    return !was || Math.abs(box.left - was.left) > 1 || Math.abs(box.top - was.top) > 1;
  };
  // A scroll that moved the anchor hides the tooltip (the content under it changed); scroll
  // events that leave it in place (another scroll box, the browser's scroll anchoring) do not.
  const onScroll = (event) => {
    if (event.target instanceof Node && tip.contains(event.target)) return;
    if (anchor && moved()) hide();
  };
  const onKey = (event) => {
    if (event.key === "Escape") hide();
  };
  const onDown = (event) => {
    if (!root.contains(event.target)) hide();
  };

  function listen(on) {
    const method = on ? "addEventListener" : "removeEventListener";
    document[method]("scroll", onScroll, { capture: true, passive: true });
    window[method]("resize", hide);
    document[method]("keydown", onKey, true);
    document[method]("mousedown", onDown, true);
  }

  function place() {
    // measured at the top left, where nothing narrows it
    tip.style.left = "0px";
    tip.style.top = "0px";
    tip.style.maxHeight = "";
    const box = anchor.getBoundingClientRect();
    placedAt = box;
    const view = {
      width: document.documentElement.clientWidth || window.innerWidth,
      height: document.documentElement.clientHeight || window.innerHeight,
    };
    const size = { width: tip.offsetWidth, height: tip.offsetHeight };
    const spot = placeTip(box, size, view);
    tip.style.left = `${spot.left}px`;
    tip.style.top = `${spot.top}px`;
    tip.style.maxHeight = spot.maxHeight === null ? "" : `${spot.maxHeight}px`;
  }

  // The anchor can move without a scroll (output above it grew, a panel resized): follow it.
  function follow() {
    frame = 0;
    if (!anchor) return;
    const box = anchor.getBoundingClientRect();
    if (box.width === 0 && box.height === 0) {
      hide(); // no longer rendered
      return;
    }
    if (moved()) place();
    frame = requestAnimationFrame(follow);
  }

  function open(target, content, pin) {
    if (!target.isConnected) return;
    if (anchor !== target) {
      anchor?.removeEventListener("mouseleave", onLeave);
      target.addEventListener("mouseleave", onLeave);
    }
    if (anchor === null) {
      listen(true);
      watcher.observe(root, { childList: true, subtree: true });
    }
    anchor = target;
    pinned = pin;
    tip.dataset.pinned = pin ? "true" : "false";
    clear(tip).append(content);
    tip.hidden = false;
    if (POPOVER && !tip.matches(":popover-open")) tip.showPopover();
    place();
    if (!frame) frame = requestAnimationFrame(follow);
  }

  function hide() {
    if (anchor) {
      anchor.removeEventListener("mouseleave", onLeave);
      listen(false);
      watcher.disconnect();
    }
    anchor = null;
    pinned = false;
    cancelAnimationFrame(frame);
    frame = 0;
    if (POPOVER && tip.matches(":popover-open")) tip.hidePopover();
    tip.hidden = true;
  }

  return {
    node: tip,
    /** Hover: show `content` at `target`, letting the pointer through (ignored while pinned). */
    show(target, content) {
      if (!pinned) open(target, content, false);
    },
    /** Click: show `content` at `target` and keep it (interactive) until dismissed. */
    pin(target, content) {
      open(target, content, true);
    },
    hide,
    get pinned() {
      return pinned;
    },
    dispose() {
      hide();
      tip.remove();
    },
  };
}
