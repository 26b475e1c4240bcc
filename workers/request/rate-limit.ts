/**
 * Cloudflare's Workers rate-limiting binding, at the edge: when the Worker is bound to
 * one (wrangler.toml `[[ratelimits]]` named EDGE_RATE_LIMITER), every request, hits
 * included, first asks it whether this client may go on. This is the first line, and the
 * cheapest place to turn a flood away: a refused request costs no cache read and no
 * shield. The shield's own limits (shield.rateLimits) then bound what reaches the origin.
 *
 * The binding's limit is a count per period of 10 or 60 seconds in a single Cloudflare
 * location (Cloudflare's documentation for the binding), set in wrangler.toml and not
 * visible to the Worker; a refusal's Retry-After is therefore the shorter period, the
 * earliest the count can have restarted. A client reaching two locations has two counts:
 * it is a flood guard, not exact accounting. A binding that fails lets the request
 * through: an outage of the limiter must not become one of the CDN.
 */
import { EdgeError } from "../errors.ts";
import { clientAddress } from "./forward-headers.ts";

/** Seconds a refused client is told to wait (see above). */
const RETRY_AFTER_SECONDS = 10;

/** A 429 when `limiter` refuses this client, else null (no binding: always null). */
export async function overEdgeLimit(
  limiter: RateLimit | undefined,
  client: Request,
  cacheName: string,
): Promise<Response | null> {
  if (limiter === undefined) return null;
  // CF-Connecting-IP is Cloudflare's, never the client's (forward-headers.ts).
  const key = clientAddress(client.headers) ?? "unknown";
  let allowed: boolean;
  try {
    allowed = (await limiter.limit({ key })).success;
  } catch (error) {
    console.warn(`edge: the rate limiter failed, request let through: ${String(error)}`);
    return null;
  }
  if (allowed) return null;
  const message = "too many requests from this client; retry after Retry-After seconds";
  const response = new EdgeError("rate_limited", message).toResponse({ cache: cacheName });
  response.headers.set("retry-after", String(RETRY_AFTER_SECONDS));
  return response;
}
