/** The cache key specification: which parts of a request select a stored response. */

import {
  cookieName,
  DEFAULT_TRACKING_PARAMS,
  headerName,
  paramPattern,
  patternsOverlap,
  unique,
} from "./fields.ts";
import { z } from "./zod.ts";

const QuerySchema = z
  .strictObject({
    mode: z
      .enum(["all", "allow", "deny", "none"])
      .default("all")
      .describe('Which query parameters enter the key (and reach the origin). Default "all".'),
    params: z
      .array(paramPattern)
      .default([])
      .superRefine(unique("param"))
      .describe('Parameter names for mode allow/deny, case-sensitive; "prefix*" matches a prefix.'),
    dropTracking: z
      .boolean()
      .default(true)
      .describe("Remove tracking parameters from the key and the forwarded URL. Default true."),
    trackingParams: z
      .array(paramPattern)
      .default([...DEFAULT_TRACKING_PARAMS])
      .superRefine(unique("param", (s) => s.toLowerCase()))
      .describe(
        'Tracking parameter names, matched case-insensitively; "prefix*" matches a prefix.',
      ),
    sort: z
      .boolean()
      .default(true)
      .describe("Sort parameters by name (stable: repeated names keep their order). Default true."),
  })
  .superRefine((q, ctx) => {
    const needsParams = q.mode === "allow" || q.mode === "deny";
    if (needsParams && q.params.length === 0) {
      ctx.addIssue({
        code: "custom",
        path: ["params"],
        message: `mode "${q.mode}" needs at least one param`,
      });
    }
    if (!needsParams && q.params.length > 0) {
      ctx.addIssue({
        code: "custom",
        path: ["params"],
        message: `is only used with mode "allow" or "deny"`,
      });
    }
    // An allowed param that tracking removal would drop anyway is a contradiction: say so
    // rather than pick a silent winner.
    if (q.mode === "allow" && q.dropTracking) {
      q.params.forEach((p, i) => {
        const t = q.trackingParams.find((tp) => patternsOverlap(p, tp));
        if (t !== undefined) {
          ctx.addIssue({
            code: "custom",
            path: ["params", i],
            message: `"${p}" is also dropped as tracking param "${t}"; remove it from trackingParams or set dropTracking: false`,
          });
        }
      });
    }
  })
  .describe("Query string normalisation.");

export const KeySchema = z
  .strictObject({
    // Default true: http and https responses can differ (redirects to https, mixed-content
    // rewrites, HSTS), and serving one for the other is a wrong response.
    // Sharing would only save a duplicate entry on sites that serve both schemes.
    scheme: z
      .boolean()
      .default(true)
      .describe("Include the scheme, so http and https never share an entry. Default true."),
    host: z.boolean().default(true).describe("Include the host. Default true."),
    query: QuerySchema.prefault({}),
    headers: z
      .array(headerName.transform((s) => s.toLowerCase()))
      .default([])
      .superRefine(unique("header"))
      .superRefine((names, ctx) => {
        names.forEach((n, i) => {
          if (n === "cookie") {
            ctx.addIssue({
              code: "custom",
              path: [i],
              message: "use key.cookies to key on cookies",
            });
          }
        });
      })
      .describe("Request header names (lowercased) whose values enter the key. Default []."),
    cookies: z
      .array(cookieName)
      .default([])
      .superRefine(unique("cookie"))
      .describe("Cookie names whose values enter the key. Default []."),
  })
  .describe("Cache key specification.");
