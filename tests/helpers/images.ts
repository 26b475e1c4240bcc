/**
 * Test and benchmark images, generated with sharp at run time so the repository holds no
 * binary fixtures. `photo()` looks enough like a photograph to make encoders work as they
 * would on one: smooth gradients, soft shapes and fine grain (pure noise or flat colour
 * would make every encoder look either terrible or free).
 */
import sharp from "sharp";

export interface PhotoOptions {
  readonly width: number;
  readonly height: number;
  /** Seed for the shapes' placement, so two photos of one size can differ. */
  readonly seed?: number;
}

function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 0xffffffff;
  };
}

/** An RGB raster (PNG) that resembles a photograph. */
export async function photoRaster(o: PhotoOptions): Promise<Buffer> {
  const { width: w, height: h } = o;
  const rand = rng(o.seed ?? 7);
  let shapes = "";
  for (let i = 0; i < 40; i++) {
    const hue = Math.floor(rand() * 360);
    shapes += `<ellipse cx="${(rand() * w).toFixed(0)}" cy="${(rand() * h).toFixed(0)}" rx="${(
      rand() * w * 0.2 + 8
    ).toFixed(
      0,
    )}" ry="${(rand() * h * 0.2 + 8).toFixed(0)}" fill="hsl(${hue},60%,55%)" fill-opacity="0.45"/>`;
  }
  const svg = Buffer.from(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}">
      <defs><linearGradient id="g" x1="0" y1="0" x2="1" y2="1">
        <stop offset="0" stop-color="#2b4f7a"/><stop offset="0.5" stop-color="#c9a36b"/><stop offset="1" stop-color="#3d6b3a"/>
      </linearGradient><filter id="b"><feGaussianBlur stdDeviation="${Math.max(1, w / 400)}"/></filter></defs>
      <rect width="100%" height="100%" fill="url(#g)"/><g filter="url(#b)">${shapes}</g>
    </svg>`,
  );
  const grain = await sharp({
    create: {
      width: w,
      height: h,
      channels: 3,
      background: "#808080",
      noise: { type: "gaussian", mean: 128, sigma: 18 },
    },
  })
    .png()
    .toBuffer();
  return sharp(svg)
    .composite([{ input: grain, blend: "soft-light" }])
    .removeAlpha()
    .png({ compressionLevel: 1 })
    .toBuffer();
}

/** A photo-like JPEG, as a camera or CMS would serve it. */
export async function photoJpeg(o: PhotoOptions & { quality?: number }): Promise<Buffer> {
  return sharp(await photoRaster(o))
    .jpeg({ quality: o.quality ?? 85 })
    .toBuffer();
}

/** CRC-32 as PNG chunks carry it, to forge a valid header (the decompression-bomb tests). */
const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

export function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) c = (CRC_TABLE[(c ^ b) & 0xff] as number) ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/**
 * A decompression bomb: a valid 1×1 PNG whose header says `side`×`side` pixels (the IHDR's
 * width and height rewritten, its CRC recomputed), so a decoder believes it.
 */
export async function pngBomb(side: number): Promise<Buffer> {
  const png = Buffer.from(
    await sharp({ create: { width: 1, height: 1, channels: 3, background: "#fff" } })
      .png()
      .toBuffer(),
  );
  // Signature (8), IHDR length (4), "IHDR" (12..16), width (16..20), height (20..24), …
  if (png.toString("latin1", 12, 16) !== "IHDR") throw new Error("no IHDR where expected");
  png.writeUInt32BE(side, 16);
  png.writeUInt32BE(side, 20);
  // The CRC covers the chunk type and data (bytes 12..29), and follows them.
  png.writeUInt32BE(crc32(png.subarray(12, 29)), 29);
  return png;
}
