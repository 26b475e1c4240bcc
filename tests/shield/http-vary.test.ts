/**
 * Vary matching with Accept-Language values normalised where no origin that parses the
 * field as RFC 9110 defines it (§12.4.2, §12.5.4) could answer them differently (RFC
 * 9111 §4.1 lets a cache normalise by the field's own semantics). The origin receives
 * the client's value as sent, so anything that might change its answer (the order of
 * the languages, a different weight) still selects another response.
 */
import { describe, expect, it } from "vitest";
import { pairsReader } from "../../core/policy/index.ts";
import { normaliseVaryValue, varyMatches } from "../../core/policy/vary.ts";
import { fill, harness } from "./support.ts";

const h = harness();

const reader = (value: string) => pairsReader([["accept-language", value]]);

function capture(value: string) {
  return {
    fields: ["accept-language"],
    values: [normaliseVaryValue("accept-language", value)],
    raw: [value],
  };
}

const SAME: [string, string, string][] = [
  ["case (§12.5.4: language tags are case-insensitive)", "en-US, en;q=0.8", "EN-us, EN;Q=0.8"],
  ["whitespace around ; and = (§12.4.2: OWS before ;)", "en-US,en;q=0.8", "en-US , en ; q=0.8"],
  ["a weight of 1 spelled out (§12.4.2: the default)", "en, fr;q=0.5", "en;q=1.000, fr;q=0.5"],
  ["q=1.0 and q=1", "de;q=1.0", "de;q=1"],
  ["trailing zeros of a weight", "fr;q=0.5", "fr;q=0.500"],
  ["q=0 spelled q=0.0", "fr;q=0", "fr;q=0.0"],
  ["empty list elements (§5.6.1.2)", "en,fr", "en,,fr,"],
];

const DIFFERENT: [string, string, string][] = [
  ["the order of the languages (ties are ordered by the client)", "en, fr", "fr, en"],
  ["the order even where weights differ", "fr;q=0.5, en", "en, fr;q=0.5"],
  ["another weight", "fr;q=0.5", "fr;q=0.6"],
  ["a weight of 0 (not acceptable) against none", "fr;q=0", "fr"],
  ["another language", "en-GB", "en-US"],
  ["present against absent", "en", ""],
];

describe("Accept-Language normalised before Vary matching (RFC 9111 §4.1)", () => {
  it.each(SAME)("%s: %j selects the response stored for %j", (_why, stored, asked) => {
    expect(varyMatches(capture(stored), reader(asked))).toBe(true);
    expect(normaliseVaryValue("accept-language", asked)).toBe(
      normaliseVaryValue("accept-language", stored),
    );
  });

  it.each(DIFFERENT)("%s: %j does not select the response stored for %j", (_why, stored, asked) => {
    const headers = asked === "" ? pairsReader([]) : reader(asked);
    expect(varyMatches(capture(stored), headers)).toBe(false);
  });

  it("a weight that is not a qvalue is left as sent, and compared as sent", () => {
    expect(normaliseVaryValue("accept-language", "en;q=2")).toBe("en;q=2");
    expect(normaliseVaryValue("accept-language", "en;q=1.0000")).toBe("en;q=1.0000");
    expect(varyMatches(capture("en;q=2"), reader("en"))).toBe(false);
  });

  it("other fields keep their own rules: q=1.0 is not dropped from Accept", () => {
    expect(normaliseVaryValue("accept", "text/html;q=1.0")).toBe("text/html;q=1.0");
  });
});

describe("at the shield", () => {
  const languages = (lang: string): RequestInit => ({ headers: { "accept-language": lang } });

  it("equivalent Accept-Language values are hits on one stored response; the origin sees one request", async () => {
    const { origin, t } = await h.start((req, res) => {
      res.writeHead(200, { "cache-control": "max-age=60", vary: "Accept-Language" });
      res.end(`for ${req.headers["accept-language"]}`);
    });
    await fill(t, "/l", languages("en-US, en;q=0.80"));
    for (const asked of ["EN-us,en ; q=0.8", "en-US;q=1.0, en;q=0.8", "en-us,en;q=0.800"]) {
      const hit = await t.request("/l", languages(asked));
      expect(hit.headers.get("cache-status")).toBe("shield; hit; ttl=60");
      expect(await hit.text()).toBe("for en-US, en;q=0.80");
    }
    expect(origin.count()).toBe(1);
  });

  it("languages in another order are another variant, fetched with the client's own value", async () => {
    const { origin, t } = await h.start((req, res) => {
      res.writeHead(200, { "cache-control": "max-age=60", vary: "Accept-Language" });
      res.end(`for ${req.headers["accept-language"]}`);
    });
    await fill(t, "/l", languages("en, fr"));
    const other = await fill(t, "/l", languages("fr, en"));
    expect(other.body).toBe("for fr, en");
    expect(other.res.headers.get("cache-status")).toMatch(/^shield; fwd=vary-miss/);
    expect(origin.requests.map((r) => r.headers["accept-language"])).toEqual(["en, fr", "fr, en"]);
  });
});
