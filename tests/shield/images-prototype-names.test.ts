/**
 * A transform with format=auto whose source's extension is a name every plain object
 * answers to (`.constructor`, `.__proto__`) is a source of unknown format like `.bin`: it
 * is transformed in its own format, or in the modern format the client names. Such an
 * extension was once taken for a format (a function), and the transform failed with a
 * 422 that quoted an internal TypeError.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { photoJpeg } from "../helpers/images.ts";
import { decoded, get, imageOrigin } from "./images-support.ts";
import { harness } from "./support.ts";

const h = harness();

let jpeg: Buffer;

beforeAll(async () => {
  jpeg = await photoJpeg({ width: 400, height: 300 });
});

describe("format=auto on a source named like a prototype member", () => {
  const cases: [source: string, accept: string, format: string][] = [
    ["/photos/a.constructor", "*/*", "jpeg"],
    ["/photos/a.__proto__", "*/*", "jpeg"],
    ["/photos/a.CONSTRUCTOR", "image/png,*/*;q=0.8", "jpeg"],
    ["/photos/a.constructor", "image/webp,*/*", "webp"],
    ["/photos/a.bin", "*/*", "jpeg"],
  ];
  it.each(cases)("%s with Accept %s is a %s", async (source, accept, format) => {
    const { t } = await h.start(imageOrigin({ [source]: { body: jpeg } }));
    const r = await get(t, `/img/format=auto,width=200${source}`, { headers: { accept } });
    expect(r.status, r.body.toString().slice(0, 200)).toBe(200);
    expect(r.res.headers.get("content-type")).toBe(`image/${format}`);
    expect(await decoded(r.body)).toEqual({ format, width: 200, height: 150 });
  });
});
