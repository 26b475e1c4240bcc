/**
 * Compression at the shield: a GET or HEAD on the plain cache path, for a client whose
 * Accept-Encoding is reduced to one coding (core/http/accept-encoding.ts preferredCoding,
 * as the edge reduces it):
 *
 *   Accept-Encoding → br | gzip | identity (forwarded to the origin as that one coding,
 *     so an origin's own Vary: Accept-Encoding keys by it) →
 *   the plain response in memory for the URL? →
 *     yes: its treatment (treatment.ts): as it is, or the coding's copy (a key of its
 *       own, coded-fill.ts: a hit serves stored bytes, a miss makes the copy once);
 *     no: the plain path (its lookup reads the tiers below memory; a miss fetches); an
 *       answer to transform is then handed to the copy's fill as its source, so the
 *       client gets the copy of that very answer (unless the copy is stored already).
 *
 * Only memory is asked first: it answers at once, and the tiers below (a disk read, a
 * Redis round trip) are then asked once per request, by the plain path, not twice.
 *
 * Every stored copy keeps the URL of the plain response, so that purging, or an unsafe
 * method's invalidation of, the URL removes each coding with it.
 */
import type { Registry } from "prom-client";
import type { CompressionConfig } from "../../core/config/index.ts";
import { type ContentCoding, preferredCoding } from "../../core/http/accept-encoding.ts";
import { buildCacheKey } from "../../core/key/index.ts";
import type { HeaderReader } from "../../core/policy/index.ts";
import type { CacheDeps } from "../cache/cache-deps.ts";
import { serveFromCache } from "../cache/cache-path.ts";
import type { ShieldResponse } from "../respond.ts";
import type { StoredObject } from "../store/stored-object.ts";
import type { Tier } from "../store/tier.ts";
import type { RoutedRequest } from "../types.ts";
import { type CodedFillDeps, closeBody, codedFetcher, type PlainRoute } from "./coded-fill.ts";
import { compressionMetrics } from "./metrics.ts";
import { peekSmall } from "./peek.ts";
import { ReencodeQueue } from "./reencode.ts";
import { VARIANT } from "./stored-copy.ts";
import { addVary, fieldOf, type Treatment, TypeMatcher, treatmentFor } from "./treatment.ts";

export interface CompressionParts {
  readonly cache: CacheDeps;
  /** The memory tier, asked first (synchronously) for the plain response. */
  readonly memory: Pick<Tier, "lookup">;
  readonly config: CompressionConfig;
  /** The memory tier's object bound: larger bodies are never transformed. */
  readonly maxBytes: number;
  readonly registry: Registry;
  /** The plain path through the cache, filled from the origin. */
  readonly plain: PlainRoute;
  /** A background re-encode failed inside the shield. */
  readonly failed: (err: unknown) => void;
}

/** Distinct Accept-Encoding values remembered; browsers send a handful. */
const MAX_CODINGS = 256;
const MAX_CODING_KEY = 256;

export class Compression {
  readonly #deps: CodedFillDeps;
  readonly #memory: Pick<Tier, "lookup">;
  readonly #enabled: boolean;
  readonly #codings = new Map<string, ContentCoding>();
  /** Treatments of stored plain responses, by their field list and the client's coding. */
  readonly #treated = new WeakMap<readonly string[], Partial<Record<ContentCoding, Treatment>>>();

  constructor(parts: CompressionParts) {
    this.#enabled = parts.config.enabled;
    this.#memory = parts.memory;
    this.#deps = {
      config: parts.config,
      types: new TypeMatcher(parts.config.types),
      maxBytes: parts.maxBytes,
      cache: parts.cache,
      plain: parts.plain,
      metrics: compressionMetrics(parts.registry),
      queue: new ReencodeQueue({ failed: parts.failed }),
      encoding: { active: 0 },
    };
  }

  serve(routed: RoutedRequest): ShieldResponse | Promise<ShieldResponse> {
    if (!this.#enabled) return this.#deps.plain(routed);
    const raw = routed.reader.get("accept-encoding");
    const coding = this.#codingOf(raw);
    const view = raw === null ? routed : normalised(routed, coding);
    const key = this.#deps.cache.key;
    const primary = buildCacheKey(
      { url: view.url, headers: view.reader, method: view.method },
      key,
    );
    const found = this.#memory.lookup(primary, view.reader);
    if (found instanceof Promise) {
      return found.then((obj) => this.#route(view, coding, primary, obj));
    }
    return this.#route(view, coding, primary, found);
  }

  #route(
    view: RoutedRequest,
    coding: ContentCoding,
    primary: string,
    found: StoredObject | undefined,
  ): ShieldResponse | Promise<ShieldResponse> {
    if (found !== undefined) {
      const t = this.#treatmentOf(found, coding);
      if (t.kind === "transform") return this.#coded(view, coding, null);
      // The plain path answers from what was just found, without a second lookup.
      const plain = this.#deps.plain(view, false, { primary, found });
      return t.varies ? varied(plain) : plain;
    }
    const answer = this.#deps.plain(view);
    if (answer instanceof Promise) return answer.then((a) => this.#afterPlain(view, coding, a));
    return this.#afterPlain(view, coding, answer);
  }

  /** A plain answer fetched for this request: sent as it is, or made into the copy. */
  #afterPlain(
    view: RoutedRequest,
    coding: ContentCoding,
    answer: ShieldResponse,
  ): ShieldResponse | Promise<ShieldResponse> {
    const t = treatmentFor(this.#deps, coding, answer.status, answer.headers);
    if (t.kind === "as-is") {
      if (t.varies) addVary(answer.headers);
      return answer;
    }
    // A HEAD has no body to make the copy from: the plain head is a true answer too.
    if (answer.body === null || view.method !== "GET") {
      addVary(answer.headers);
      return answer;
    }
    // Without a Content-Length, minBytes is checked on the body itself.
    if (t.from === "identity" && fieldOf(answer.headers, "content-length") === undefined) {
      return peekSmall(answer, this.#deps.config.minBytes).then((p) =>
        p.small ? p.answer : this.#coded(view, coding, p.answer),
      );
    }
    return this.#coded(view, coding, answer);
  }

  /** The coding's copy through the cache; `first`: a plain answer to make it from. */
  #coded(
    view: RoutedRequest,
    coding: ContentCoding,
    first: ShieldResponse | null,
  ): ShieldResponse | Promise<ShieldResponse> {
    let pending = first;
    const take = () => {
      const p = pending;
      pending = null;
      return p;
    };
    const res = serveFromCache(this.#deps.cache, {
      method: view.method,
      headers: view.reader,
      url: view.url,
      variant: VARIANT[coding],
      fetch: codedFetcher(this.#deps, view, coding, take),
    });
    if (first === null) return res;
    // Answered without this request's fill (a stored copy, another's fill): the plain
    // answer it fetched is not needed.
    const release = () => {
      const unused = take();
      if (unused !== null) closeBody(unused);
    };
    if (!(res instanceof Promise)) {
      release();
      return res;
    }
    return res.finally(release);
  }

  #treatmentOf(obj: StoredObject, coding: ContentCoding): Treatment {
    let byCoding = this.#treated.get(obj.flat);
    if (byCoding === undefined) {
      byCoding = {};
      this.#treated.set(obj.flat, byCoding);
    }
    let t = byCoding[coding];
    if (t === undefined) {
      t = treatmentFor(this.#deps, coding, obj.meta.status, obj.flat);
      byCoding[coding] = t;
    }
    return t;
  }

  #codingOf(raw: string | null): ContentCoding {
    if (raw === null) return "identity";
    if (raw.length > MAX_CODING_KEY) return preferredCoding(raw);
    let coding = this.#codings.get(raw);
    if (coding === undefined) {
      coding = preferredCoding(raw);
      // A client inventing values only restarts the memo.
      if (this.#codings.size >= MAX_CODINGS) this.#codings.clear();
      this.#codings.set(raw, coding);
    }
    return coding;
  }
}

/**
 * The request with its Accept-Encoding replaced by the one coding: what the key, an
 * origin's Vary and the origin itself see (an origin then never answers in a coding the
 * shield cannot read, such as zstd).
 */
function normalised(routed: RoutedRequest, coding: ContentCoding): RoutedRequest {
  const base = routed.reader;
  const reader: HeaderReader = {
    get: (name) =>
      name === "accept-encoding" || (name.length === 15 && name.toLowerCase() === "accept-encoding")
        ? coding
        : base.get(name),
  };
  const client = routed.client;
  return {
    ...routed,
    reader,
    client: { ...client, headers: { ...client.headers, "accept-encoding": coding } },
  };
}

function varied(
  answer: ShieldResponse | Promise<ShieldResponse>,
): ShieldResponse | Promise<ShieldResponse> {
  if (answer instanceof Promise) {
    return answer.then((a) => {
      addVary(a.headers);
      return a;
    });
  }
  addVary(answer.headers);
  return answer;
}
