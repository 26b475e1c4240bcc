import { describe, expect, it } from "vitest";
import { parseConfig } from "../../../core/config/index.ts";
import { DEFAULT_POLICY_OPTIONS, planStorage, policyOptions } from "../../../core/policy/index.ts";
import { HTTP_T0, request, response, T0 } from "../../helpers/http.ts";

const origins = [{ name: "o", url: "http://127.0.0.1:9000", hosts: ["a.example"] }];

describe("policy options come from the validated config", () => {
  it("the config's defaults are the policy's defaults", () => {
    expect(policyOptions(parseConfig({ origins }))).toEqual(DEFAULT_POLICY_OPTIONS);
  });

  it("a targeted field configured in any case is obeyed (RFC 9213)", () => {
    const options = policyOptions(
      parseConfig({ origins, cache: { targetedCacheControl: ["Shield-Cache-Control"] } }),
    );
    const plan = planStorage({
      request: request(),
      response: response(200, {
        date: HTTP_T0,
        "shield-cache-control": "max-age=900",
        "cdn-cache-control": "max-age=5",
        "cache-control": "max-age=1",
      }),
      requestTime: T0,
      responseTime: T0,
      options,
    });
    expect(plan.store && plan.meta.freshnessLifetime).toBe(900);
  });
});
