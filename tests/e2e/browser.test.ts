/**
 * A real browser through the whole local stack: headless Chromium, the system's own
 * (Debian's `chromium` package; nothing is downloaded), driven by playwright-core, loads
 * the demo origin's page through `npm start -- --jpeg-only`, the edge Worker under
 * `wrangler dev` in front of a shield in front of an origin that has only JPEG and PNG.
 * Every image must arrive as AVIF, which only the shield's conversion can have made, and
 * decode in the page; a client that takes WebP but not AVIF (Chromium's own Accept
 * without image/avif) gets WebP. Each source is fetched from the origin once.
 *
 * Without Chromium (CHROMIUM_PATH, else /usr/bin/chromium) the file is skipped with the
 * reason printed, except under CI (process.env.CI set), where it fails: there a missing
 * browser is a broken machine set-up, not a reason to pass.
 */
import type { ChildProcess } from "node:child_process";
import { accessSync, constants } from "node:fs";
import { type Browser, chromium, type Page } from "playwright-core";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { IMAGES } from "../../examples/demo-origin.ts";
import { freePort, HOST, processGroup } from "../helpers/processes.ts";

const CHROMIUM = process.env.CHROMIUM_PATH || "/usr/bin/chromium";
const MISSING = `Chromium not found at ${CHROMIUM} (apt-get install chromium, or set CHROMIUM_PATH)`;

function chromiumInstalled(): boolean {
  try {
    accessSync(CHROMIUM, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

const NAME = "a real browser through npm start --jpeg-only";

/** The suite, or in its place a failing test under CI and a printed reason elsewhere. */
function describeWithChromium(body: () => void): void {
  if (chromiumInstalled()) describe(NAME, body);
  else if (process.env.CI) {
    describe(NAME, () => {
      it("needs Chromium", () => {
        throw new Error(MISSING);
      });
    });
  } else {
    console.warn(`skipping "${NAME}": ${MISSING}`);
    describe.skip(NAME, body);
  }
}

/** What the page's image requests were sent with and answered. */
interface Loaded {
  readonly path: string;
  readonly accept: string;
  readonly type: string | null;
  readonly cacheStatus: string | null;
  readonly body: Buffer;
}

/** Each image as the page holds it once loaded: its size as decoded by the browser. */
interface InPage {
  readonly src: string;
  readonly complete: boolean;
  readonly naturalWidth: number;
  readonly naturalHeight: number;
}

describeWithChromium(() => {
  const group = processGroup();
  let start: ChildProcess | undefined;
  let browser: Browser | undefined;
  let edge = "";
  let originStats = "";
  let chromiumAccept = "";

  beforeAll(async () => {
    const [origin, shield, port] = [await freePort(), await freePort(), await freePort()];
    start = group.launch("npm start", process.execPath, [
      "scripts/start.mjs",
      "--jpeg-only",
      "--origin-port",
      String(origin),
      "--shield-port",
      String(shield),
      "--edge-port",
      String(port),
    ]);
    edge = `http://${HOST}:${port}`;
    originStats = `http://${HOST}:${origin}/__origin/stats`;
    // The banner comes once all three answer their health URLs; the first `wrangler dev`
    // on a machine bundles the Worker and starts workerd, which takes a while.
    const deadline = Date.now() + 100_000;
    while (!group.output.some((line) => line.includes("stack is up"))) {
      if (start.exitCode !== null || Date.now() > deadline) {
        throw new Error(`npm start did not come up:\n${group.output.slice(-40).join("\n")}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    // Root in a container has no user namespace for Chromium's sandbox.
    browser = await chromium.launch({ executablePath: CHROMIUM, chromiumSandbox: false });
  }, 150_000);

  afterAll(async () => {
    await browser?.close();
    await group.stop(start);
  }, 20_000);

  /** Load the demo page in a fresh context, recording every image response. */
  async function loadPage(
    acceptFor?: (accept: string) => string,
  ): Promise<{ loaded: Loaded[]; inPage: InPage[] }> {
    const context = await (browser as Browser).newContext();
    try {
      const page: Page = await context.newPage();
      if (acceptFor !== undefined) {
        await page.route("**/images/*", (route) => {
          const headers = route.request().headers();
          route.continue({ headers: { ...headers, accept: acceptFor(headers.accept ?? "") } });
        });
      }
      const pending: Promise<Loaded>[] = [];
      page.on("response", (response) => {
        const request = response.request();
        if (request.resourceType() !== "image") return;
        pending.push(
          (async () => ({
            path: new URL(response.url()).pathname,
            accept: (await request.allHeaders()).accept ?? "",
            type: await response.headerValue("content-type"),
            cacheStatus: await response.headerValue("cache-status"),
            body: await response.body(),
          }))(),
        );
      });
      await page.goto(`${edge}/`, { waitUntil: "load" });
      const inPage = await page.$$eval("img", (images) =>
        images.map((image) => ({
          src: new URL(image.currentSrc).pathname,
          complete: image.complete,
          naturalWidth: image.naturalWidth,
          naturalHeight: image.naturalHeight,
        })),
      );
      return { loaded: await Promise.all(pending), inPage };
    } finally {
      await context.close();
    }
  }

  it("loads every image of the page as AVIF converted by the shield, and each decodes", async () => {
    const { loaded, inPage } = await loadPage();
    const paths = IMAGES.map((image) => `/images/${image.name}`);
    expect(loaded.map((image) => image.path).sort()).toEqual([...paths].sort());
    for (const image of loaded) {
      chromiumAccept = image.accept;
      expect(image.accept).toContain("image/avif");
      expect(image.type, image.path).toBe("image/avif");
      // Made by the shield on this request, then stored at the edge.
      expect(image.cacheStatus).toMatch(/^shield; fwd=uri-miss; fwd-status=200; stored, edge; /);
      expect(image.body.toString("latin1", 4, 12)).toBe("ftypavif");
      expect((await sharp(image.body).metadata()).format).toBe("heif");
    }
    expect(inPage.map((image) => image.src).sort()).toEqual([...paths].sort());
    for (const image of inPage) {
      const spec = IMAGES.find((one) => image.src === `/images/${one.name}`);
      expect(image.complete, image.src).toBe(true);
      expect(image.naturalWidth, image.src).toBeGreaterThan(0);
      expect([image.naturalWidth, image.naturalHeight]).toEqual([spec?.width, spec?.height]);
    }
  });

  it("a WebP-only client (Chromium's Accept without image/avif) gets WebP, which decodes", async () => {
    expect(chromiumAccept).toContain("image/webp");
    const withoutAvif = (accept: string): string =>
      accept
        .split(",")
        .filter((range) => !/^\s*image\/avif\b/i.test(range))
        .join(",");
    const { loaded, inPage } = await loadPage(withoutAvif);
    expect(loaded).toHaveLength(IMAGES.length);
    for (const image of loaded) {
      expect(image.accept).not.toContain("image/avif");
      expect(image.type, image.path).toBe("image/webp");
      expect((await sharp(image.body).metadata()).format).toBe("webp");
    }
    for (const image of inPage) expect(image.naturalWidth, image.src).toBeGreaterThan(0);
    // Both formats were made from one copy of each source the shield fetched.
    const stats = (await (await fetch(originStats)).json()) as { paths: Record<string, number> };
    for (const image of IMAGES) expect(stats.paths[`/images/${image.name}`]).toBe(1);
  });
});
