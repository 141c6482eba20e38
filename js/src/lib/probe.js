// Results of the live text box: every active feature per token, from the kernel.
import { unpack } from "./buffers.js";

export function decodeProbe(raw) {
  if (!raw || !raw.tokens) return null;
  return {
    text: raw.text,
    tokens: raw.tokens,
    skipped: new Set(raw.skipped || []),
    indptr: unpack(raw.indptr),
    indices: unpack(raw.indices),
    values: unpack(raw.values),
    top: raw.top || [],
  };
}

/** Activation of one feature at every token. */
export function probeColumn(p, feature) {
  const out = new Float32Array(p.tokens.length);
  for (let t = 0; t < p.tokens.length; t++) {
    for (let k = p.indptr[t]; k < p.indptr[t + 1]; k++) {
      if (p.indices[k] === feature) out[t] = p.values[k];
    }
  }
  return out;
}

/** Active features at one token, strongest first. */
export function probeRow(p, t) {
  const out = [];
  for (let k = p.indptr[t]; k < p.indptr[t + 1]; k++) out.push([p.indices[k], p.values[k]]);
  return out.sort((a, b) => b[1] - a[1]);
}
