// Where a tooltip goes (pure: plain numbers in, plain numbers out). Everything is in viewport
// pixels: the tooltip is positioned against the viewport, so no scroll box clips it.

export const GAP = 4; // between the anchor and the tooltip
export const MARGIN = 4; // between the tooltip and the viewport's edges

/**
 * `anchor`: the hovered element's box ({left, top, right, bottom}); `size`: the tooltip's
 * natural {width, height}; `view`: the viewport's {width, height}. Returns {left, top,
 * maxHeight}: below the anchor when it fits there, else above, else on the roomier side with
 * its height capped to that room (maxHeight, null when not capped); never past an edge.
 */
export function placeTip(anchor, size, view, gap = GAP, margin = MARGIN) {
  const below = view.height - margin - (anchor.bottom + gap);
  const above = anchor.top - gap - margin;
  let top;
  let height = size.height;
  if (height <= below) top = anchor.bottom + gap;
  else if (height <= above) top = anchor.top - gap - height;
  else if (below >= above) {
    height = Math.max(below, 0);
    top = anchor.bottom + gap;
  } else {
    height = Math.max(above, 0);
    top = anchor.top - gap - height;
  }
  // an anchor (partly) outside the viewport still gets a tooltip inside it
  const room = Math.max(view.height - 2 * margin, 0);
  const fits = Math.min(size.height, room);
  height = height < fits && height < 40 ? fits : Math.min(height, fits);
  top = clamp(top, margin, view.height - margin - height);
  const left = clamp(anchor.left, margin, view.width - margin - size.width);
  return { left, top, maxHeight: height < size.height ? height : null };
}

function clamp(x, lo, hi) {
  return Math.max(lo, Math.min(x, hi));
}
