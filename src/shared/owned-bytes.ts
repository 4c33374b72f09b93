// Bytes kept for a long time (a cache entry) must not be a view: a Buffer from the driver is a
// slice of a whole socket read, and a small Buffer from Buffer.from is a slice of an 8 KB slab
// shared with whatever was allocated next to it. Either would stay alive as long as the entry.

/** A copy of `bytes` in memory of its own, exactly as large as they are. */
export function ownedCopy(bytes: Uint8Array): Buffer {
  const copy = Buffer.allocUnsafeSlow(bytes.byteLength);
  copy.set(bytes);
  return copy;
}
