/** The `background` option's colours, as Cloudflare takes them (CSS syntax): pure parsing. */
import { ImageError } from "./image-error.ts";

export interface Rgba {
  readonly r: number;
  readonly g: number;
  readonly b: number;
  /** 0..1 */
  readonly alpha: number;
}

export const WHITE: Rgba = { r: 255, g: 255, b: 255, alpha: 1 };

const NAMED: Readonly<Record<string, Rgba>> = {
  transparent: { r: 0, g: 0, b: 0, alpha: 0 },
  white: WHITE,
  black: { r: 0, g: 0, b: 0, alpha: 1 },
  silver: { r: 192, g: 192, b: 192, alpha: 1 },
  gray: { r: 128, g: 128, b: 128, alpha: 1 },
  grey: { r: 128, g: 128, b: 128, alpha: 1 },
  red: { r: 255, g: 0, b: 0, alpha: 1 },
  maroon: { r: 128, g: 0, b: 0, alpha: 1 },
  yellow: { r: 255, g: 255, b: 0, alpha: 1 },
  olive: { r: 128, g: 128, b: 0, alpha: 1 },
  lime: { r: 0, g: 255, b: 0, alpha: 1 },
  green: { r: 0, g: 128, b: 0, alpha: 1 },
  aqua: { r: 0, g: 255, b: 255, alpha: 1 },
  teal: { r: 0, g: 128, b: 128, alpha: 1 },
  blue: { r: 0, g: 0, b: 255, alpha: 1 },
  navy: { r: 0, g: 0, b: 128, alpha: 1 },
  fuchsia: { r: 255, g: 0, b: 255, alpha: 1 },
  purple: { r: 128, g: 0, b: 128, alpha: 1 },
};

/**
 * A CSS colour: #rgb, #rgba, #rrggbb, #rrggbbaa ("#" may arrive as %23), rgb()/rgba()
 * with 0..255 channels, or one of CSS's basic names. Anything else is refused by name.
 */
export function parseColour(text: string): Rgba {
  const v = text.toLowerCase();
  // Own names only: "constructor" and the like are inherited, not colours.
  if (Object.hasOwn(NAMED, v)) return NAMED[v] as Rgba;
  const hex = /^(?:#|%23)([0-9a-f]{3,8})$/.exec(v)?.[1];
  if (hex !== undefined && hex.length !== 5 && hex.length !== 7) {
    const short = hex.length <= 4;
    const digits = short ? [...hex].map((c) => c + c) : (hex.match(/../g) as string[]);
    const [r, g, b, a] = digits.map((d) => Number.parseInt(d, 16)) as number[];
    return {
      r: r as number,
      g: g as number,
      b: b as number,
      alpha: a === undefined ? 1 : round3(a / 255),
    };
  }
  const fn = /^rgba?\(([0-9.]+),([0-9.]+),([0-9.]+)(?:,([0-9.]+))?\)$/.exec(v);
  if (fn !== null) {
    const [r, g, b] = [fn[1], fn[2], fn[3]].map(Number) as [number, number, number];
    const alpha = fn[4] === undefined ? 1 : Number(fn[4]);
    if ([r, g, b].every((c) => Number.isInteger(c) && c <= 255) && alpha >= 0 && alpha <= 1) {
      return { r, g, b, alpha: round3(alpha) };
    }
  }
  throw new ImageError(
    "invalid_option",
    `background=${text.slice(0, 40)}: must be #rgb, #rrggbb, #rrggbbaa, rgb(r,g,b), rgba(r,g,b,a) or a basic CSS colour name`,
    { option: "background" },
  );
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}
