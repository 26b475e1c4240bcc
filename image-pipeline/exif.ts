/**
 * The two EXIF fields metadata=copyright keeps: Copyright (0x8298) and Artist (0x013B)
 * from IFD0. libvips hands over the raw EXIF block; this reads just those ASCII fields,
 * bounds-checking every offset (the block comes from an untrusted image).
 */

const TAGS: Readonly<Record<number, "Copyright" | "Artist">> = {
  33432: "Copyright",
  315: "Artist",
};

export function copyrightFields(exif: Buffer | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (exif === undefined) return out;
  // libvips' block starts with "Exif\0\0", then a TIFF header.
  const base = exif.subarray(0, 6).toString("latin1") === "Exif\0\0" ? 6 : 0;
  if (exif.length < base + 8) return out;
  const order = exif.toString("latin1", base, base + 2);
  if (order !== "II" && order !== "MM") return out;
  const le = order === "II";
  const u16 = (at: number): number => (le ? exif.readUInt16LE(at) : exif.readUInt16BE(at));
  const u32 = (at: number): number => (le ? exif.readUInt32LE(at) : exif.readUInt32BE(at));
  const ifd = base + u32(base + 4);
  if (ifd + 2 > exif.length) return out;
  const count = u16(ifd);
  for (let i = 0; i < count; i++) {
    const entry = ifd + 2 + i * 12;
    if (entry + 12 > exif.length) break;
    const name = TAGS[u16(entry)];
    // Type 2 is ASCII; values of four bytes or fewer sit in the entry itself.
    if (name === undefined || u16(entry + 2) !== 2) continue;
    const length = u32(entry + 4);
    const at = length <= 4 ? entry + 8 : base + u32(entry + 8);
    if (length === 0 || length > 4096 || at + length > exif.length) continue;
    const text = exif
      .toString("latin1", at, at + length)
      .replace(/\0+$/, "")
      .trim();
    if (text !== "") out[name] = text;
  }
  return out;
}
