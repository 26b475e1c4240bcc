/**
 * Purging the edge through Cloudflare's API (POST /zones/{zone_id}/purge_cache,
 * https://developers.cloudflare.com/api/resources/cache/methods/purge/).
 *
 * The Worker keeps its entries in the Cache API under synthetic URLs, which Cloudflare's
 * purge by URL and by prefix never match; it tags each entry instead (core/purge), and
 * purge by tag reaches Cache API entries in every data center. So:
 *
 * - a URL is purged as its URL tag, which every variant stored for it carries;
 * - a tag is purged as itself (one Cloudflare cannot hold, with a comma, a space,
 *   non-ASCII or over 1,024 characters, was never written to an entry and is skipped);
 * - a prefix is purged as the tag of the directory it names, or, when it does not end at
 *   a "/" within the tagged depth, of the nearest directory that holds it (more is
 *   purged at the edge, never less; the shield's own purge stays exact), and also as a
 *   Cloudflare prefix, for anything Cloudflare caches outside the Worker.
 *
 * Each request names at most 30 tags or 30 prefixes, never both: the API reference above
 * allows 30 tags, hosts or prefixes per call, as does
 * https://developers.cloudflare.com/cache/how-to/purge-cache/purge_by_prefix/; the purge
 * limits table (https://developers.cloudflare.com/cache/how-to/purge-cache/#purge-limits)
 * now gives every plan 100 operations per request, so 30 fits every plan. Requests
 * go one after another, each within `timeoutMs`, which is gentlest on the per-account
 * rate limits; a failure that would fail every request (authentication, rate limit, the
 * API down or silent) stops the rest.
 *
 * Soft purge: purge_cache has no soft mode for any selector. Cloudflare's invalidate_cache
 * marks content stale so that it is revalidated with the origin, but an entry the Worker
 * put in the Cache API has no origin to revalidate with, and its freshness lives in the
 * edge's own metadata, not in what Cloudflare sees. So a soft purge is sent here as a hard
 * one: the edge's copy goes, and the next request there is a miss that the shield answers,
 * where the soft purge kept the object as stale, so the shield revalidates it with the
 * origin (conditionally), with stale-while-revalidate and stale-if-error still in force.
 * The origin sees what a soft purge promises; only the edge refills from the shield.
 */
import {
  cloudflarePrefix,
  coveringPrefixTag,
  isCloudflareTag,
  urlPurgeTag,
} from "../../core/purge/index.ts";

export const DEFAULT_CLOUDFLARE_API = "https://api.cloudflare.com/client/v4";
/** Tags or prefixes named in one API request (see above). */
export const MAX_PURGE_ITEMS_PER_REQUEST = 30;
const DEFAULT_TIMEOUT_MS = 10_000;
/** Longest error text returned: enough for the API's codes and messages, no more. */
const MAX_ERROR_CHARS = 300;

export interface CloudflarePurgerOptions {
  /** The zone whose cache to purge; empty: purging the edge is off. */
  readonly zoneId: string;
  /** Default DEFAULT_CLOUDFLARE_API. */
  readonly apiBase?: string;
  /** An API token with the zone's Cache Purge permission; undefined or empty: off. */
  readonly token: string | undefined;
  /** Longest wait for one API request, answer body included, ms. Default 10000. */
  readonly timeoutMs?: number;
  /** The fetch to use (tests). Default the global fetch. */
  readonly fetch?: typeof fetch;
}

export interface EdgePurgeRequest {
  /** Normalised URLs (core/key normaliseUrl `.url`). */
  readonly urls?: readonly string[];
  /** Tags as origins send them (Surrogate-Key / Cache-Tag). */
  readonly tags?: readonly string[];
  /** Normalised URL prefixes. */
  readonly prefixes?: readonly string[];
}

export type EdgePurgeOutcome = "ok" | "off" | `error: ${string}`;

/** What the API is asked in one request. */
type PurgeBody = { readonly tags: readonly string[] } | { readonly prefixes: readonly string[] };

/** One request's failure, and whether the requests after it would fail the same way. */
interface Failure {
  readonly text: string;
  readonly stopsTheRest: boolean;
}

export class CloudflarePurger {
  readonly #zoneId: string;
  readonly #endpoint: string;
  readonly #token: string;
  readonly #timeoutMs: number;
  readonly #fetch: typeof fetch;
  #calls = 0;
  #failures = 0;

  constructor(options: CloudflarePurgerOptions) {
    this.#zoneId = options.zoneId;
    this.#token = options.token ?? "";
    this.#timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.#fetch = options.fetch ?? fetch;
    const base = (options.apiBase ?? DEFAULT_CLOUDFLARE_API).replace(/\/+$/, "");
    this.#endpoint = `${base}/zones/${encodeURIComponent(options.zoneId)}/purge_cache`;
  }

  /** Whether purges reach Cloudflare: a zone and a token are configured. */
  get enabled(): boolean {
    return this.#zoneId !== "" && this.#token !== "";
  }

  /** API requests sent so far. */
  get calls(): number {
    return this.#calls;
  }

  /** API requests that failed so far (an error answer, no answer, or none in time). */
  get failures(): number {
    return this.#failures;
  }

  /**
   * Purge these URLs, tags and prefixes at the edge. "ok" when every request succeeded
   * (or there was nothing to send), "off" without a zone or token, otherwise the first
   * failure as a short text, never containing the token.
   */
  async purge(request: EdgePurgeRequest): Promise<EdgePurgeOutcome> {
    if (!this.enabled) return "off";
    const bodies = purgeBodies(request);
    let first: string | null = null;
    let failed = 0;
    let sent = 0;
    for (const body of bodies) {
      sent++;
      const failure = await this.#send(body);
      if (failure === null) continue;
      failed++;
      first ??= failure.text;
      if (failure.stopsTheRest) break;
    }
    if (first === null) return "ok";
    if (bodies.length === 1) return `error: ${first}`;
    const skipped = bodies.length - sent;
    const tail = skipped > 0 ? `, ${skipped} not sent` : "";
    return `error: ${first} (${failed} of ${bodies.length} requests failed${tail})`;
  }

  async #send(body: PurgeBody): Promise<Failure | null> {
    this.#calls++;
    const failure = await this.#attempt(body);
    if (failure === null) return null;
    this.#failures++;
    return { ...failure, text: this.#clean(failure.text) };
  }

  async #attempt(body: PurgeBody): Promise<Failure | null> {
    const signal = AbortSignal.timeout(this.#timeoutMs);
    let status: number;
    let text: string;
    try {
      const response = await this.#fetch(this.#endpoint, {
        method: "POST",
        headers: {
          authorization: `Bearer ${this.#token}`,
          "content-type": "application/json",
          accept: "application/json",
        },
        body: JSON.stringify(body),
        signal,
      });
      status = response.status;
      text = await response.text();
    } catch (error) {
      if (signal.aborted) {
        return { text: `no answer within ${this.#timeoutMs} ms`, stopsTheRest: true };
      }
      return { text: `request failed: ${messageOf(error)}`, stopsTheRest: true };
    }
    const answer = parseAnswer(text);
    const ok = status >= 200 && status < 300;
    if (ok && answer?.success === true) return null;
    const detail = answer === null ? "" : describeErrors(answer.errors);
    // Only a refusal of this request's own content leaves the next ones a chance.
    const stopsTheRest = !(status === 400 || (ok && answer !== null));
    if (!ok) {
      return { text: `HTTP ${status}${detail === "" ? "" : `: ${detail}`}`, stopsTheRest };
    }
    if (answer === null) return { text: `unreadable answer (HTTP ${status})`, stopsTheRest };
    return { text: detail === "" ? "the API did not report success" : detail, stopsTheRest };
  }

  /** One line, bounded, and without the token, whatever the API or the network said. */
  #clean(text: string): string {
    let out = text.replace(/\p{Cc}+/gu, " ");
    if (this.#token !== "") out = out.split(this.#token).join("[token]");
    return out.length > MAX_ERROR_CHARS ? `${out.slice(0, MAX_ERROR_CHARS - 1)}…` : out;
  }
}

/**
 * The request bodies a purge takes: its URLs' tags, its tags and its prefixes' tags,
 * de-duplicated ignoring case (as Cloudflare compares tags), then its prefixes in
 * Cloudflare's form, each list cut into requests of MAX_PURGE_ITEMS_PER_REQUEST.
 */
function purgeBodies(request: EdgePurgeRequest): PurgeBody[] {
  const tags = new Map<string, string>();
  const addTag = (tag: string | null): void => {
    if (tag === null || !isCloudflareTag(tag)) return;
    const folded = tag.toLowerCase();
    if (!tags.has(folded)) tags.set(folded, tag);
  };
  for (const url of request.urls ?? []) addTag(urlPurgeTag(url));
  for (const tag of request.tags ?? []) addTag(tag);
  const prefixes = new Set<string>();
  for (const prefix of request.prefixes ?? []) {
    addTag(coveringPrefixTag(prefix));
    const text = cloudflarePrefix(prefix);
    if (text !== null) prefixes.add(text);
  }
  return [
    ...batches([...tags.values()]).map((batch): PurgeBody => ({ tags: batch })),
    ...batches([...prefixes]).map((batch): PurgeBody => ({ prefixes: batch })),
  ];
}

function batches(items: readonly string[]): string[][] {
  const out: string[][] = [];
  for (let at = 0; at < items.length; at += MAX_PURGE_ITEMS_PER_REQUEST) {
    out.push(items.slice(at, at + MAX_PURGE_ITEMS_PER_REQUEST));
  }
  return out;
}

/** The API's envelope: `{success, errors: [{code, message}], …}`. */
interface Answer {
  readonly success: unknown;
  readonly errors: unknown;
}

function parseAnswer(text: string): Answer | null {
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) return null;
    const envelope = parsed as { success?: unknown; errors?: unknown };
    return { success: envelope.success, errors: envelope.errors };
  } catch {
    return null;
  }
}

/** "10000 Authentication error; 1134 …" from the API's errors, "" when it gave none. */
function describeErrors(errors: unknown): string {
  if (!Array.isArray(errors)) return "";
  const parts: string[] = [];
  for (const error of errors) {
    if (typeof error !== "object" || error === null) continue;
    const { code, message } = error as { code?: unknown; message?: unknown };
    const words = [code, message].filter(
      (part) => typeof part === "string" || typeof part === "number",
    );
    if (words.length > 0) parts.push(words.join(" "));
  }
  return parts.join("; ");
}

function messageOf(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  // Node's fetch says only "fetch failed"; the reason is the cause.
  const cause = (error as { cause?: unknown }).cause;
  return cause instanceof Error ? `${error.message} (${cause.message})` : error.message;
}
