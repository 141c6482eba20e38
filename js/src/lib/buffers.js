// Arrays arrive from Python as {dtype, shape, data: DataView}; in exported HTML the DataView is
// made by the static host from base64. Views respect byteOffset: a DataView may be a slice.

const HALF_STEP = 2 ** -24; // the smallest float16 subnormal

const TYPES = {
  int8: Int8Array,
  uint8: Uint8Array,
  int16: Int16Array,
  uint16: Uint16Array,
  int32: Int32Array,
  uint32: Uint32Array,
  float32: Float32Array,
  float64: Float64Array,
};

// float16 → float32 by moving bits (no Math.pow per value): rebias the exponent, shift the
// fraction; subnormals, the rare case, are computed.
export function float16ToFloat32(bits) {
  const out = new Float32Array(bits.length);
  const raw = new Uint32Array(out.buffer);
  for (let i = 0; i < bits.length; i++) {
    const b = bits[i];
    const sign = (b & 0x8000) << 16;
    const exp = (b >> 10) & 0x1f;
    const frac = b & 0x3ff;
    if (exp === 0) out[i] = (sign ? -1 : 1) * frac * HALF_STEP;
    else if (exp === 31) raw[i] = sign | 0x7f800000 | (frac << 13);
    else raw[i] = sign | ((exp + 112) << 23) | (frac << 13);
  }
  return out;
}

function asView(data) {
  if (data instanceof DataView) return data;
  if (ArrayBuffer.isView(data)) return new DataView(data.buffer, data.byteOffset, data.byteLength);
  if (data instanceof ArrayBuffer) return new DataView(data);
  throw new Error("expected binary data");
}

// float16 bit patterns of a view (copied when the view starts at an odd byte).
function halfBits(view) {
  if (view.byteOffset % 2 === 0) {
    return new Uint16Array(view.buffer, view.byteOffset, view.byteLength >> 1);
  }
  const copy = new Uint8Array(view.byteLength);
  copy.set(new Uint8Array(view.buffer, view.byteOffset, view.byteLength));
  return new Uint16Array(copy.buffer, 0, view.byteLength >> 1);
}

/** One float16 bit pattern as a number (for reading single values without decoding all). */
export function halfToNumber(b) {
  const exp = (b >> 10) & 0x1f;
  const frac = b & 0x3ff;
  const sign = b & 0x8000 ? -1 : 1;
  if (exp === 0) return sign * frac * HALF_STEP;
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/** A float array's elements as numbers, decoding float16 lazily: `get(k)` per element. */
export function numbers(packed) {
  if (packed.dtype === "float16") {
    const bits = halfBits(asView(packed.data));
    return { length: bits.length, get: (k) => halfToNumber(bits[k]) };
  }
  const array = unpack(packed);
  return { length: array.length, get: (k) => array[k] };
}

/** Decode one packed array into a typed array (float16 becomes Float32Array). */
export function unpack(packed) {
  const view = asView(packed.data);
  if (packed.dtype === "float16") return float16ToFloat32(halfBits(view));
  const Type = TYPES[packed.dtype];
  if (!Type) throw new Error(`unsupported dtype ${packed.dtype}`);
  // Copy when misaligned: typed arrays need an offset that is a multiple of the element size.
  if (view.byteOffset % Type.BYTES_PER_ELEMENT !== 0) {
    const copy = new Uint8Array(view.byteLength);
    copy.set(new Uint8Array(view.buffer, view.byteOffset, view.byteLength));
    return new Type(copy.buffer);
  }
  return new Type(view.buffer, view.byteOffset, view.byteLength / Type.BYTES_PER_ELEMENT);
}
