/** Deterministic bodies, so a child and the parent produce the same bytes independently. */
export function patternBody(size: number, seed = 0): Buffer {
  const b = Buffer.allocUnsafe(size);
  let x = (seed * 2654435761 + 12345) >>> 0;
  for (let i = 0; i < size; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    b[i] = 0x21 + ((x >>> 16) % 94); // printable ASCII
  }
  return b;
}
