/**
 * One origin fetch and everyone waiting on it (Varnish's busy object). The fill runs on
 * its own, detached from any client: a leader that disconnects cancels nothing, and a
 * storable response is completed and stored even when every client has gone.
 *
 * The head is a promise that never rejects: waiters switch on its `kind`. Nor does the
 * fill: whatever throws inside it (a bug, a hostile response the code did not foresee)
 * fails that fill alone, its waiters get an error or a stale copy, and it is logged and
 * counted; no origin can take the process down.
 */
import type {
  Credentials,
  HeaderPairs,
  NotStoredReason,
  RequestLike,
  RuleEffect,
  StoragePlan,
} from "../../core/policy/index.ts";
import {
  NO_CREDENTIALS,
  notModifiedSelects,
  planStorage,
  refreshFromNotModified,
} from "../../core/policy/index.ts";
import { matchResponseRule } from "../../core/rules/index.ts";
import type { ShieldContext } from "../context.ts";
import { pairsSource } from "../http/headers.ts";
import { OriginError, type OriginResponse } from "../origin/client.ts";
import type { StoredObject } from "../store/memory.ts";
import { toStoredObject } from "../store/object.ts";
import { BodyBuffer } from "./body-buffer.ts";

export type FlightHead =
  | {
      readonly kind: "response";
      readonly status: number;
      readonly headers: HeaderPairs;
      /** The request the response was fetched for (its Vary values, its credentials). */
      readonly request: RequestLike;
      readonly plan: StoragePlan;
      /** Whether the body is being stored (false: not storable, or too large). */
      readonly storing: boolean;
      /** Why it is not stored, for Cache-Status `detail`. */
      readonly detail: string | undefined;
    }
  | { readonly kind: "refreshed"; readonly obj: StoredObject; readonly stored: boolean }
  | { readonly kind: "error"; readonly error: OriginError };

export interface Flight {
  readonly key: string;
  readonly head: Promise<FlightHead>;
  readonly body: BodyBuffer;
  /** Requests that joined after the first. */
  followers: number;
  /** Others may still join (false once the body is not being kept from byte 0). */
  joinable: boolean;
  /** The fill itself, for shutdown draining. */
  done: Promise<void>;
}

export interface FillJob {
  readonly primary: string;
  /** Normalised URL (for the store's indexes). */
  readonly url: string;
  readonly forwardUrl: string;
  readonly originName: string;
  /** Flat forward headers (origin/forward.ts), including any conditional. */
  readonly headers: string[];
  /** The request that the response will be stored for (its Vary values select it). */
  readonly request: RequestLike;
  /** What the response is fetched with, for the sharing rule (core/policy/sharing.ts). */
  readonly credentials: Credentials;
  readonly path: string;
  /** The stale entry being revalidated, when the fill is conditional. */
  readonly revalidating?: StoredObject | undefined;
  /** Register in the collapsing table (false: a private fetch for one request). */
  readonly shared: boolean;
  /**
   * Make the response here instead of fetching `forwardUrl` (an image variant: the
   * shield transforms its source). Gets the conditional headers of a revalidation.
   */
  readonly produce?: ((conditional: readonly string[]) => Promise<OriginResponse>) | undefined;
  /** For an image variant: its source's normalised URL (store/memory.ts). */
  readonly source?: string | undefined;
}

/** Start a fill. With `shared`, concurrent requests for the key can join it. */
export function startFlight(ctx: ShieldContext, job: FillJob): Flight {
  let resolveHead!: (h: FlightHead) => void;
  const head = new Promise<FlightHead>((r) => {
    resolveHead = r;
  });
  const flight: Flight = {
    key: job.primary,
    head,
    body: new BodyBuffer(),
    followers: 0,
    joinable: job.shared,
    done: Promise.resolve(),
  };
  if (job.shared) ctx.flights.set(job.primary, flight);
  flight.done = runFill(ctx, flight, job, resolveHead)
    .catch((err: unknown) => {
      ctx.metrics.internalErrors.inc();
      ctx.log.error({ err, url: job.url }, "fill failed inside the shield");
      const error =
        err instanceof OriginError
          ? err
          : new OriginError("internal", "the shield failed to handle the response", {
              cause: err,
            });
      // No-ops for whatever was already settled: waiters that have the head see the body fail.
      resolveHead({ kind: "error", error });
      flight.body.fail(error);
    })
    .finally(() => leave(ctx, flight));
  return flight;
}

/** Stop new requests from joining (they start a fill of their own). */
function leave(ctx: ShieldContext, flight: Flight): void {
  flight.joinable = false;
  if (ctx.flights.get(flight.key) === flight) ctx.flights.delete(flight.key);
}

async function runFill(
  ctx: ShieldContext,
  flight: Flight,
  job: FillJob,
  resolveHead: (h: FlightHead) => void,
): Promise<void> {
  const { metrics, now } = ctx;
  const requestTime = now();
  const kind = job.revalidating === undefined ? "fill" : "revalidate";
  const produce = job.produce;
  if (produce === undefined) metrics.originRequests.labels(job.originName, kind).inc();
  const stop = new AbortController();
  let res: OriginResponse;
  const t0 = performance.now();
  try {
    res =
      produce !== undefined
        ? await produce(job.headers)
        : await ctx.origin.request({
            url: job.forwardUrl,
            method: "GET",
            headers: job.headers,
            signal: stop.signal,
          });
  } catch (err) {
    // The origin client throws only OriginErrors; anything else is the shield's own.
    if (!(err instanceof OriginError)) throw err;
    const error = err;
    // A variant's failure is its source fetch's, which that fill has already counted.
    if (produce === undefined) metrics.originErrors.labels(error.kind).inc();
    leave(ctx, flight);
    resolveHead({ kind: "error", error });
    flight.body.fail(error);
    return;
  }
  try {
    if (produce === undefined) {
      metrics.originLatency.labels(job.originName).observe((performance.now() - t0) / 1000);
    }
    await handleResponse(ctx, flight, job, resolveHead, res, requestTime, stop);
  } catch (err) {
    res.dispose();
    throw err;
  }
}

/** Everything after the origin's head arrived: refresh, plan, relay and store the body. */
async function handleResponse(
  ctx: ShieldContext,
  flight: Flight,
  job: FillJob,
  resolveHead: (h: FlightHead) => void,
  res: OriginResponse,
  requestTime: number,
  stop: AbortController,
): Promise<void> {
  const { metrics, now } = ctx;
  const responseTime = now();
  const headers = pairsSource(res.headers);

  // RFC 9111 §4.3.3/§4.3.4: a 304 to our own conditional request freshens the entry.
  if (job.revalidating !== undefined && res.status === 304) {
    res.dispose();
    const entry = job.revalidating;
    if (notModifiedSelects(entry.meta, headers)) {
      const plan: StoragePlan =
        res.lifetime === null
          ? { store: false, reason: "source-not-stored" }
          : refreshFromNotModified({
              entry: entry.meta,
              notModified: headers,
              request: job.request,
              // The stored body was not fetched for this request: whose cookie revalidated
              // it says nothing about whom it may be shared with (its Vary values still do).
              credentials: NO_CREDENTIALS,
              requestTime,
              responseTime,
              rule: ruleFor(
                ctx,
                job,
                res,
                entry.meta.status,
                pairsSource(entry.meta.headers).get("content-type"),
                responseTime,
              ),
              options: ctx.options,
            });
      const obj = plan.store
        ? toStoredObject(plan.meta, entry.body, entry.url, entry.primary, entry.source)
        : entry;
      const key = ctx.store.keyOf(entry, job.request.headers);
      if (plan.store) ctx.store.replace(key, obj);
      else ctx.store.delete(key);
      leave(ctx, flight);
      resolveHead({ kind: "refreshed", obj, stored: plan.store });
      flight.body.end();
      return;
    }
    // A 304 about another representation: fetch the whole response instead.
    const retry = { ...job, revalidating: undefined, headers: withoutConditionals(job.headers) };
    return runFill(ctx, flight, retry, resolveHead);
  }

  const plan: StoragePlan =
    res.lifetime === null
      ? { store: false, reason: "source-not-stored" }
      : planStorage({
          request: job.request,
          credentials: job.credentials,
          response: { status: res.status, headers },
          requestTime,
          responseTime,
          rule: ruleFor(ctx, job, res, res.status, headers.get("content-type"), responseTime),
          options: ctx.options,
        });
  const limit = ctx.store.maxObjectBytes;
  const declared = contentLength(headers.get("content-length"));
  let storing = plan.store;
  let detail: string | undefined = plan.store ? undefined : plan.reason;
  if (storing && declared !== null && declared > limit) {
    storing = false;
    detail = "too-large";
  }
  if (plan.store) ctx.uncacheable.clear(job.primary);
  else {
    if (marksHitForMiss(plan.reason, res.status, job.credentials)) {
      // Varnish's hit-for-miss: later requests skip the queue and fetch on their own.
      const until = responseTime + ctx.config.shield.collapse.uncacheableTtl * 1000;
      ctx.uncacheable.mark(job.primary, until, job.credentials.cookie);
    }
  }
  if (!storing) {
    leave(ctx, flight);
    flight.body.release();
  }
  resolveHead({
    kind: "response",
    status: res.status,
    headers: res.headers,
    request: job.request,
    plan,
    storing,
    detail,
  });

  // Only a storing fill, or one with a reader, has a reason to read the body.
  const maxBody = ctx.config.shield.origin.maxBodyBytes;
  let bytes = 0;
  // With a declared length, the stored body is allocated once and each chunk is copied
  // into it as it arrives; readers get views of that buffer. The socket's chunk is then
  // garbage at once, and no second copy of the body is made at the end.
  const target = storing && declared !== null ? Buffer.allocUnsafeSlow(declared) : null;
  try {
    for await (const chunk of res.body) {
      const at = bytes;
      bytes += chunk.length;
      if (bytes > maxBody) throw new OriginError("too-large", `origin body over ${maxBody} bytes`);
      if (declared !== null && bytes > declared) {
        throw new OriginError("reset", `origin body longer than its ${declared} bytes`);
      }
      if (storing && bytes > limit) {
        storing = false;
        leave(ctx, flight);
        flight.body.release();
      }
      if (target !== null) {
        chunk.copy(target, at);
        flight.body.push(target.subarray(at, bytes));
      } else flight.body.push(chunk);
      if (!storing && flight.body.readers === 0) {
        res.dispose();
        flight.body.fail(new OriginError("aborted", "no reader left"));
        return;
      }
      const wait = flight.body.writable();
      if (wait !== null) await wait;
    }
    if (declared !== null && bytes !== declared) {
      throw new OriginError("reset", `origin body ended at ${bytes} of ${declared} bytes`);
    }
  } catch (err) {
    if (!(err instanceof OriginError)) throw err;
    metrics.originErrors.labels(err.kind).inc();
    res.dispose();
    stop.abort();
    // A body cut short is never stored, and its readers see their transfer fail rather
    // than end as if it were complete.
    flight.body.fail(err);
    return;
  }
  if (storing && plan.store) {
    const chunks = flight.body.chunks();
    if (chunks !== null) {
      const body = target ?? concatExact(chunks, bytes);
      ctx.store.store(
        toStoredObject(plan.meta, body, job.url, job.primary, job.source),
        job.request.headers,
      );
    }
  }
  flight.body.end();
}

/**
 * The TTL rule for a response: the first configured rule that matches it, except for an
 * image variant, whose lifetimes are its source's (image/produce.ts), put as the rule
 * that sets them: the variant's entry is then fresh, and stale, exactly as long as the
 * source's, whatever rules matched the source and whenever the variant was made; the
 * variant's own headers still decide whether it may be stored at all.
 */
function ruleFor(
  ctx: ShieldContext,
  job: FillJob,
  res: OriginResponse,
  status: number,
  contentType: string | null,
  now: number,
): RuleEffect | undefined {
  const l = res.lifetime;
  if (l === undefined || l === null) {
    return matchResponseRule(ctx.rules, { method: "GET", path: job.path, status, contentType })
      ?.rule;
  }
  return {
    match: { status: [status] },
    ttl: { set: (l.freshUntil - now) / 1000 },
    staleWhileRevalidate: Math.max(0, (l.staleWhileRevalidateUntil - l.freshUntil) / 1000),
    staleIfError: Math.max(0, (l.staleIfErrorUntil - l.freshUntil) / 1000),
  };
}

/**
 * Whether a response that was not stored should make its key hit-for-miss. Not when the
 * reason lies in the request rather than in the response (a request with Authorization,
 * or no-store from the client): anonymous requests for the key would then stop
 * collapsing for `uncacheableTtl` because of one request. Not for a server error or 429
 * either: those go to the requests waiting at that moment (wait.ts), and the next burst
 * should collapse onto one fetch again, not each reach an origin that is failing.
 */
function marksHitForMiss(
  reason: NotStoredReason,
  status: number,
  credentials: Credentials,
): boolean {
  if (status >= 500 || status === 429 || credentials.authorization) return false;
  return reason !== "authorization" && reason !== "request-no-store" && reason !== "method";
}

function withoutConditionals(flat: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < flat.length; i += 2) {
    const name = flat[i] as string;
    if (name === "if-none-match" || name === "if-modified-since") continue;
    out.push(name, flat[i + 1] as string);
  }
  return out;
}

function contentLength(v: string | null): number | null {
  if (v === null || !/^\d{1,15}$/.test(v.trim())) return null;
  return Number(v.trim());
}

/**
 * One buffer of exactly the body's size. Chunks from a socket are views into larger
 * read buffers (up to 64 KiB): storing them would keep those alive, so a 1 KiB object
 * could pin 64 KiB. allocUnsafeSlow never hands out a slice of Node's shared pool.
 */
function concatExact(chunks: readonly Buffer[], total: number): Buffer {
  const out = Buffer.allocUnsafeSlow(total);
  let at = 0;
  for (const c of chunks) {
    c.copy(out, at);
    at += c.length;
  }
  return out;
}
