// FeatureDashboard's own decisions (pure: no DOM). Card logic it shares with the browser is in
// lib/featurestate.js.

/** The picker's text as a feature id: {feature} or {error}. */
export function parseFeatureId(text, dSae) {
  const match = text.trim().match(/^#?(\d+)$/);
  if (match) return { feature: Number(match[1]) };
  return { error: `"${text}" is not a feature id (0..${dSae - 1})` };
}

/** The line saying where the statistics come from. */
export function metaLine(meta = {}) {
  const tokens = (meta.n_tokens || 0).toLocaleString();
  return `${meta.model || ""} · ${tokens} tokens of ${meta.corpus || "?"}`;
}
