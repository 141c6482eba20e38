// The one wire format of every token × feature matrix (saewidgets/widgets/serialization.py,
// `pack_csr`): rows are tokens, and
//   {d_sae, n_rows, indptr: int32 [n_rows+1], indices: uint16 | int32 [nnz],
//    values: float16 [nnz], feature_max: float32 [d_sae]}
// each array packed as {dtype, shape, data} (see buffers.js). Values are decoded one at a time
// when read, never all at once: a page may hold millions of them. Pure: no DOM.
import { numbers, unpack } from "./buffers.js";

/**
 * Decode a CSR payload (null when there is none). The result keeps the arrays and reads them:
 * `row(t)` the active features at row t, strongest first, as [feature, value] pairs;
 * `column(f)` feature f over all rows (Float32Array, 0 where inactive); `max(f)` its largest
 * value (from `feature_max`, or computed once when a payload lacks it).
 */
export function decodeCSR(raw) {
  if (!raw?.indptr) return null;
  const indptr = unpack(raw.indptr);
  const nRows = Number.isInteger(raw.n_rows) ? raw.n_rows : Math.max(0, indptr.length - 1);
  if (indptr.length !== nRows + 1) {
    throw new Error(`CSR payload: indptr has ${indptr.length} entries for ${nRows} rows`);
  }
  const indices = unpack(raw.indices);
  const values = numbers(raw.values);
  const nnz = indptr[nRows];
  if (indices.length !== values.length || nnz > indices.length) {
    throw new Error(
      `CSR payload: ${indices.length} indices and ${values.length} values for ${nnz} entries`,
    );
  }
  const dSae = raw.d_sae;
  let maxima = raw.feature_max ? unpack(raw.feature_max) : null;
  const inRange = (f) => Number.isInteger(f) && f >= 0 && f < dSae;

  function allMaxima() {
    if (!maxima) {
      maxima = new Float32Array(dSae);
      for (let k = 0; k < nnz; k++) {
        const v = values.get(k);
        if (v > maxima[indices[k]]) maxima[indices[k]] = v;
      }
    }
    return maxima;
  }

  return {
    dSae,
    nRows,
    nnz,
    indptr,
    indices,
    values,
    /** Active features at row t, strongest first (ties: lower id first); at most `limit`. */
    row(t, limit = Number.POSITIVE_INFINITY) {
      if (!(Number.isInteger(t) && t >= 0 && t < nRows)) return [];
      const out = [];
      for (let k = indptr[t]; k < indptr[t + 1]; k++) out.push([indices[k], values.get(k)]);
      out.sort((a, b) => b[1] - a[1] || a[0] - b[0]);
      return out.length > limit ? out.slice(0, limit) : out;
    },
    /** Feature f at every row (ids appear at most once per row). */
    column(f) {
      const out = new Float32Array(nRows);
      if (!inRange(f)) return out;
      for (let r = 0; r < nRows; r++) {
        for (let k = indptr[r]; k < indptr[r + 1]; k++) {
          if (indices[k] === f) {
            out[r] = values.get(k);
            break;
          }
        }
      }
      return out;
    },
    /** The largest value of feature f over all rows (0 when it never fires). */
    max(f) {
      return inRange(f) ? allMaxima()[f] : 0;
    },
    /** Every feature's largest value (Float32Array [d_sae]). */
    maxima: allMaxima,
  };
}
