// Results of the live text box (`_probe`): the typed text's tokens and every active feature per
// token as a CSR (see csr.js). Skipped positions (the first token, BOS) carry no activations.
// Pure: no DOM.
import { decodeCSR } from "./csr.js";

const decoded = new WeakMap(); // one decode per payload object, however often it is painted

/** {text, tokens, skipped: Set, csr, top: [[feature, max, count], ...]}, or null when empty. */
export function decodeProbe(raw) {
  if (!raw || !Array.isArray(raw.tokens) || !raw.csr) return null;
  if (decoded.has(raw)) return decoded.get(raw);
  const csr = decodeCSR(raw.csr);
  if (csr.nRows !== raw.tokens.length) {
    throw new Error(`probe payload: ${raw.tokens.length} tokens but ${csr.nRows} CSR rows`);
  }
  const probe = {
    text: raw.text,
    tokens: raw.tokens,
    skipped: new Set(raw.skipped || []),
    csr,
    top: raw.top || [],
  };
  decoded.set(raw, probe);
  return probe;
}
