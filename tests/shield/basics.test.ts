import { afterEach, describe, expect, it } from "vitest";
import { startOrigin, type TestOrigin } from "../helpers/origin.ts";
import { type TestShield, testShield } from "../helpers/shield.ts";

let origin: TestOrigin;
let t: TestShield;

afterEach(async () => {
  await t?.close();
  await origin?.close();
});

describe("shield basics through the app factory", () => {
  it("stores a cacheable response and answers the next request from memory with Age", async () => {
    origin = await startOrigin();
    t = testShield(origin.url);
    const first = await t.request("/a");
    expect(first.status).toBe(200);
    expect(await first.text()).toBe("ok");
    expect(first.headers.get("cache-status")).toBe("shield; fwd=uri-miss; fwd-status=200; stored");
    t.advance(5_000);
    const second = await t.request("/a");
    expect(await second.text()).toBe("ok");
    expect(second.headers.get("cache-status")).toBe("shield; hit; ttl=55");
    expect(second.headers.get("age")).toBe("5");
    expect(origin.count()).toBe(1);
  });

  it("answers 421 for a host no origin serves, without any fetch", async () => {
    origin = await startOrigin();
    t = testShield(origin.url);
    const res = await t.request("/a", { host: "attacker.example" });
    expect(res.status).toBe(421);
    expect(await res.json()).toMatchObject({ error: "unknown_host" });
    // The refusal says which cache refused and why, like every other answer.
    expect(res.headers.get("cache-status")).toBe("shield; detail=unknown_host");
    expect(origin.count()).toBe(0);
  });
});
