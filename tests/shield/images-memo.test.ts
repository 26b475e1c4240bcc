/**
 * The transform route's memo of resolved URLs (image/route.ts): a hit skips parsing and
 * resolution, and the memo is keyed by what the answer depends on. A URL with no auto
 * option depends on nothing in the request, so every Accept value shares one entry;
 * format=auto depends on Accept; width=auto on the Client Hints. Each answer is the one
 * resolving the request from scratch would give.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { photoJpeg } from "../helpers/images.ts";
import { decoded, get, imageOrigin } from "./images-support.ts";
import { harness } from "./support.ts";

const h = harness();
const CHROMIUM = "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8";
const ACCEPTS = [CHROMIUM, "image/webp,*/*", "*/*"];

let photo: Buffer;

beforeAll(async () => {
  photo = await photoJpeg({ width: 400, height: 300 });
});

async function start() {
  const files = { "/p/a.jpg": { body: photo }, "/p/leaf=auto.jpg": { body: photo } };
  const { t } = await h.start(imageOrigin(files));
  return { t, memo: t.shield.context.images.resolved };
}

describe("the memo of resolved transform URLs", () => {
  it("keeps one entry for a URL with no auto option, whatever the Accept", async () => {
    const { t, memo } = await start();
    const answers = [];
    for (const accept of [...ACCEPTS, ...ACCEPTS]) {
      answers.push(await get(t, "/img/width=200,format=webp/p/a.jpg", { headers: { accept } }));
    }
    expect(memo.size).toBe(1);
    for (const answer of answers) {
      expect(answer.status).toBe(200);
      expect(answer.res.headers.get("vary")).toBeNull();
      expect(answer.body.equals((answers[0] as (typeof answers)[0]).body)).toBe(true);
    }
    expect(answers.slice(1).every((answer) => answer.cs.includes("hit"))).toBe(true);
  });

  it("keeps one entry per Accept value for format=auto, each answer that Accept's", async () => {
    const { t, memo } = await start();
    const formats = [];
    for (const accept of [...ACCEPTS, ...ACCEPTS]) {
      const answer = await get(t, "/img/width=200,format=auto/p/a.jpg", { headers: { accept } });
      expect(answer.res.headers.get("vary")).toBe("accept");
      formats.push((await decoded(answer.body)).format);
    }
    expect(formats).toEqual(["heif", "webp", "jpeg", "heif", "webp", "jpeg"]);
    expect(memo.size).toBe(3);
    // The alias is auto too.
    const alias = await get(t, "/img/w=200,f=auto/p/a.jpg", { headers: { accept: "image/webp" } });
    expect((await decoded(alias.body)).format).toBe("webp");
  });

  it("keys width=auto by the hints, and not by the Accept", async () => {
    const { t, memo } = await start();
    const widths = [];
    for (const hint of ["300", "128", "300"]) {
      for (const accept of ACCEPTS) {
        const headers = { accept, "sec-ch-width": hint };
        const answer = await get(t, "/img/width=auto,format=webp/p/a.jpg", { headers });
        widths.push((await decoded(answer.body)).width);
      }
    }
    expect(widths).toEqual([300, 300, 300, 128, 128, 128, 300, 300, 300]);
    expect(memo.size).toBe(2);
  });

  it("a source path that merely contains an auto option's text resolves as written", async () => {
    const { t } = await start();
    for (const accept of ACCEPTS) {
      const answer = await get(t, "/img/width=100/p/leaf=auto.jpg", { headers: { accept } });
      expect(answer.status).toBe(200);
      expect(await decoded(answer.body)).toEqual({ format: "jpeg", width: 100, height: 75 });
      expect(answer.res.headers.get("vary")).toBeNull();
    }
  });
});
