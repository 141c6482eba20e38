// Payloads shaped as the kernel sends them: {dtype, shape, data: DataView}.

/** Pack a typed array (or plain numbers with a dtype) like serialization.pack. */
export function pack(values, dtype) {
  const Types = {
    int16: Int16Array,
    int32: Int32Array,
    uint16: Uint16Array,
    float32: Float32Array,
    float64: Float64Array,
    uint8: Uint8Array,
    int8: Int8Array,
  };
  if (dtype === "float16") {
    const bits = Uint16Array.from(values, toHalf);
    return { dtype, shape: [bits.length], data: new DataView(bits.buffer) };
  }
  const array = Types[dtype].from(values);
  return { dtype, shape: [array.length], data: new DataView(array.buffer) };
}

/** The same bytes at an odd offset inside a larger buffer (a DataView that is a slice). */
export function shifted(packed, by = 1) {
  const view = packed.data;
  const bytes = new Uint8Array(view.byteLength + by);
  bytes.set(new Uint8Array(view.buffer, view.byteOffset, view.byteLength), by);
  return { ...packed, data: new DataView(bytes.buffer, by, view.byteLength) };
}

/** float16 bits of a number that float16 holds exactly (tests use such values only). */
export function toHalf(x) {
  if (Number.isNaN(x)) return 0x7e00;
  const sign = x < 0 || Object.is(x, -0) ? 0x8000 : 0;
  const a = Math.abs(x);
  if (a === Number.POSITIVE_INFINITY) return sign | 0x7c00;
  if (a === 0) return sign;
  if (a < 2 ** -14) return sign | Math.round(a / 2 ** -24); // subnormal
  const exp = Math.floor(Math.log2(a));
  const frac = Math.round((a / 2 ** exp - 1) * 1024);
  return sign | ((exp + 15) << 10) | frac;
}

/** A CSR payload (pack_csr's layout) from rows of [feature, value] pairs. */
export function csrPayload(rows, dSae, { withMax = true } = {}) {
  const indptr = [0];
  const indices = [];
  const values = [];
  for (const row of rows) {
    for (const [f, v] of row) {
      indices.push(f);
      values.push(v);
    }
    indptr.push(indices.length);
  }
  const max = new Float32Array(dSae);
  indices.forEach((f, k) => {
    max[f] = Math.max(max[f], values[k]);
  });
  const payload = {
    d_sae: dSae,
    n_rows: rows.length,
    indptr: pack(indptr, "int32"),
    indices: pack(indices, dSae <= 65536 ? "uint16" : "int32"),
    values: pack(values, "float16"),
  };
  if (withMax) payload.feature_max = pack(max, "float32");
  return payload;
}
