/**
 * Collapsing and the fill's steps, without sockets or sleeps: a scripted fetcher stands
 * where the origin would, the clock is the test's, and every wait is on a promise the
 * test settles. The same behaviour over real sockets is in tests/shield/collapse.test.ts.
 */
import { describe, expect, it } from "vitest";
import type { FetchedResponse, Fetcher } from "../../../origin-shield/collapse/fill.ts";
import { OriginError } from "../../../origin-shield/origin/origin-error.ts";
import { deferred, harness, readAll, response, ScriptedBody, settle, T0 } from "./fill-harness.ts";

const CACHEABLE = (extra: [string, string][] = []): [string, string][] => [
  ["cache-control", "max-age=60"],
  ["date", new Date(T0).toUTCString()],
  ...extra,
];

/** A fetcher that counts its calls and answers each with the next scripted head. */
function scripted(...heads: Promise<FetchedResponse>[]): Fetcher & { calls: number } {
  const fetcher = Object.assign(
    async () => {
      const head = heads[fetcher.calls];
      fetcher.calls++;
      if (head === undefined) throw new Error("more fetches than the test scripted");
      return head;
    },
    { calls: 0 },
  );
  return fetcher;
}

describe("one fill per key", () => {
  it("three requests for a key while its fetch is pending make one fetch, and all read the same bytes from byte 0", async () => {
    const h = harness();
    const head = deferred<FetchedResponse>();
    const fetch = scripted(head.promise);
    const joins = [1, 2, 3].map(() => h.collapser.join(h.job("/a", fetch)));
    const readers = joins.map((j) => (j === "full" ? null : j.flight.body.reader()));
    expect(joins.map((j) => (j === "full" ? "full" : j.follower))).toEqual([false, true, true]);
    const body = new ScriptedBody();
    head.resolve(response(200, CACHEABLE([["content-length", "10"]]), body));
    body.push("01234");
    await settle();
    body.push("56789");
    body.end();
    const texts = await Promise.all(readers.map((r) => readAll(r!)));
    expect(texts).toEqual([{ text: "0123456789" }, { text: "0123456789" }, { text: "0123456789" }]);
    expect(fetch.calls).toBe(1);
    expect(h.collapsed).toBe(2);
    expect(h.tier.lookup("key:http://example.com/a", new Headers())?.body.toString()).toBe(
      "0123456789",
    );
    // Done: the next request for the key starts a fill of its own.
    await h.collapser.drain();
    expect(h.collapser.flights.size).toBe(0);
  });

  it("a fill takes at most maxWaiters followers; the next request is refused", async () => {
    const h = harness({ maxWaiters: 2 });
    const fetch = scripted(deferred<FetchedResponse>().promise);
    const joins = [1, 2, 3, 4].map(() => h.collapser.join(h.job("/b", fetch)));
    expect(joins.map((j) => (j === "full" ? "full" : j.follower))).toEqual([
      false,
      true,
      true,
      "full",
    ]);
  });

  it("a fetch that fails is every waiter's answer, and the key is free for the next request", async () => {
    const h = harness();
    const head = deferred<FetchedResponse>();
    const fetch = scripted(head.promise, deferred<FetchedResponse>().promise);
    const a = h.collapser.join(h.job("/c", fetch));
    const b = h.collapser.join(h.job("/c", fetch));
    head.reject(new OriginError("connect", "refused"));
    for (const j of [a, b]) {
      if (j === "full") throw new Error("unexpected");
      expect(await j.flight.head).toMatchObject({ kind: "error", error: { kind: "connect" } });
    }
    const c = h.collapser.join(h.job("/c", fetch));
    expect(c !== "full" && c.follower).toBe(false);
    expect(fetch.calls).toBe(2);
  });

  it("a bug inside a fill fails that fill alone: its waiters get an internal error, and it is counted", async () => {
    const h = harness();
    const fetch: Fetcher = async () => {
      throw new TypeError("not an origin's doing");
    };
    const j = h.collapser.join(h.job("/d", fetch));
    if (j === "full") throw new Error("unexpected");
    expect(await j.flight.head).toMatchObject({ kind: "error", error: { kind: "internal" } });
    await j.flight.done;
    expect(h.internalErrors).toBe(1);
  });
});

describe("the body's completeness is the fill's own check", () => {
  it("an origin that declares 10 bytes and sends 3: readers see the transfer fail, nothing is stored", async () => {
    const h = harness();
    const body = new ScriptedBody();
    const fetch = scripted(
      Promise.resolve(response(200, CACHEABLE([["content-length", "10"]]), body)),
    );
    const j = h.collapser.join(h.job("/short", fetch));
    if (j === "full") throw new Error("unexpected");
    const reader = j.flight.body.reader();
    body.push("abc");
    body.end();
    const got = await readAll(reader);
    expect(got).toMatchObject({ error: { kind: "reset" } });
    expect(h.bodyFailures.map((e) => e.kind)).toEqual(["reset"]);
    expect(h.tier.entries).toBe(0);
  });

  it("a body longer than its Content-Length fails the same way", async () => {
    const h = harness();
    const body = new ScriptedBody();
    const fetch = scripted(
      Promise.resolve(response(200, CACHEABLE([["content-length", "2"]]), body)),
    );
    const j = h.collapser.join(h.job("/long", fetch));
    if (j === "full") throw new Error("unexpected");
    const reader = j.flight.body.reader();
    body.push("abc");
    body.end();
    expect(await readAll(reader)).toMatchObject({ error: { kind: "reset" } });
    expect(h.tier.entries).toBe(0);
  });

  it("a body over the tier's object bound is relayed whole but not stored, and closes to new followers", async () => {
    const h = harness({ maxObjectBytes: 4 });
    const body = new ScriptedBody();
    const fetch = scripted(
      Promise.resolve(response(200, CACHEABLE(), body)),
      deferred<FetchedResponse>().promise,
    );
    const j = h.collapser.join(h.job("/big", fetch));
    if (j === "full") throw new Error("unexpected");
    const reader = j.flight.body.reader();
    body.push("abc");
    await settle();
    expect(j.flight.joinable).toBe(true);
    body.push("defgh");
    await settle();
    expect(j.flight.joinable).toBe(false);
    body.end();
    expect(await readAll(reader)).toEqual({ text: "abcdefgh" });
    expect(h.tier.entries).toBe(0);
  });
});

describe("hit-for-miss", () => {
  it("a response that may not be shared marks its key until uncacheableTtl has passed on the clock", async () => {
    const h = harness({ uncacheableTtl: 30 });
    const body = new ScriptedBody();
    body.end();
    const headers: [string, string][] = [
      ["cache-control", "private"],
      ["content-length", "0"],
    ];
    const fetch = scripted(Promise.resolve(response(200, headers, body)));
    const j = h.collapser.join(h.job("/private", fetch));
    if (j === "full") throw new Error("unexpected");
    expect(await j.flight.head).toMatchObject({
      kind: "response",
      storing: false,
      detail: "private",
    });
    await j.flight.done;
    const key = "key:http://example.com/private";
    expect(h.collapser.hitForMiss.holds(key, h.now, false)).toBe(true);
    expect(h.collapser.hitForMiss.holds(key, T0 + 29_999, false)).toBe(true);
    expect(h.collapser.hitForMiss.holds(key, T0 + 30_000, false)).toBe(false);
  });

  it("a 503 is handed to the waiters but never marks the key: the next burst collapses again", async () => {
    const h = harness();
    const body = new ScriptedBody();
    body.end();
    const fetch = scripted(Promise.resolve(response(503, [["content-length", "0"]], body)));
    const j = h.collapser.join(h.job("/down", fetch));
    if (j === "full") throw new Error("unexpected");
    expect(await j.flight.head).toMatchObject({ kind: "response", status: 503 });
    await j.flight.done;
    expect(h.collapser.hitForMiss.holds("key:http://example.com/down", h.now, false)).toBe(false);
  });
});

describe("revalidation", () => {
  async function stored(h: ReturnType<typeof harness>, path: string) {
    const body = new ScriptedBody();
    body.push("v1");
    body.end();
    const headers = CACHEABLE([
      ["etag", '"v1"'],
      ["content-length", "2"],
    ]);
    const j = h.collapser.join(
      h.job(path, scripted(Promise.resolve(response(200, headers, body)))),
    );
    if (j === "full") throw new Error("unexpected");
    await j.flight.done;
    const entry = h.tier.lookup(`key:http://example.com${path}`, new Headers());
    if (entry === undefined) throw new Error("not stored");
    return entry;
  }

  it("a 304 to our validators refreshes the entry's lifetimes from the clock, keeping its body", async () => {
    const h = harness();
    const entry = await stored(h, "/r");
    expect(entry.meta.freshUntil).toBe(T0 + 60_000);
    h.now = T0 + 120_000;
    const notModified = response(
      304,
      [
        ["etag", '"v1"'],
        ["cache-control", "max-age=60"],
        ["date", new Date(h.now).toUTCString()],
      ],
      new ScriptedBody(),
    );
    const fetch = scripted(Promise.resolve(notModified));
    const job = h.job("/r", fetch, {
      revalidating: entry,
      conditional: [["if-none-match", '"v1"']],
    });
    const j = h.collapser.join(job);
    if (j === "full") throw new Error("unexpected");
    expect(await j.flight.head).toMatchObject({ kind: "refreshed", stored: true });
    const after = h.tier.lookup("key:http://example.com/r", new Headers());
    expect(after?.meta.freshUntil).toBe(T0 + 180_000);
    expect(after?.body.toString()).toBe("v1");
  });

  it("background revalidations for one key run once however many stale hits ask", async () => {
    const h = harness();
    const entry = await stored(h, "/bg");
    const head = deferred<FetchedResponse>();
    const fetch = scripted(head.promise);
    for (let i = 0; i < 5; i++) {
      h.collapser.revalidateInBackground(h.job("/bg", fetch, { revalidating: entry }));
    }
    expect(fetch.calls).toBe(1);
    const body = new ScriptedBody();
    body.push("v2");
    body.end();
    head.resolve(response(200, CACHEABLE([["content-length", "2"]]), body));
    await h.collapser.drain();
    expect(h.tier.lookup("key:http://example.com/bg", new Headers())?.body.toString()).toBe("v2");
  });
});
