/**
 * Crop geometry for fit=cover and fit=crop, pure. Cloudflare's meanings: cover scales
 * (up or down) until the box is filled, then crops to the box; crop does the same but
 * never enlarges, so a source smaller than the box on one side keeps that side and is
 * only cropped on the other.
 */

export interface CoverBox {
  /** The source scaled, before cropping. */
  readonly scaledWidth: number;
  readonly scaledHeight: number;
  /** The crop, which is the output size. */
  readonly width: number;
  readonly height: number;
}

export function coverBox(
  sourceWidth: number,
  sourceHeight: number,
  boxWidth: number,
  boxHeight: number,
  enlarge: boolean,
): CoverBox {
  let scale = Math.max(boxWidth / sourceWidth, boxHeight / sourceHeight);
  if (!enlarge) scale = Math.min(1, scale);
  const scaledWidth = Math.max(1, Math.round(sourceWidth * scale));
  const scaledHeight = Math.max(1, Math.round(sourceHeight * scale));
  return {
    scaledWidth,
    scaledHeight,
    width: Math.min(boxWidth, scaledWidth),
    height: Math.min(boxHeight, scaledHeight),
  };
}
