/**
 * A fill: one fetch for a key, its response planned, relayed to every reader and stored.
 * It runs on its own, detached from any client: a leader that disconnects cancels
 * nothing, and a storable response is completed and stored even when every client has
 * gone. Its steps, each a function below:
 *
 *   fetchHead → (304 to our validators) refreshOn304 → planFill → pumpBody → commit
 *
 * What is fetched is the job's to say (`fetch`): an origin, or anything that answers
 * like one. The fill only plans, relays and stores.
 */
import type {
  Credentials,
  HeaderPairs,
  NotStoredReason,
  PolicyOptions,
  RequestLike,
  RuleEffect,
  StoragePlan,
} from "../../core/policy/index.ts";
import { applyNotModified, planStorage, storedDetail } from "../../core/policy/index.ts";
import { type CompiledRules, matchResponseRule } from "../../core/rules/index.ts";
import { pairsSource } from "../http/headers.ts";
import { OriginError } from "../origin/origin-error.ts";
import { type StoredIdentity, type StoredObject, withMeta } from "../store/stored-object.ts";
import type { Tier, TierWriter } from "../store/tier.ts";
import type { Lifetimes } from "../types.ts";
import type { ClusterClaims, HeldLease } from "./cluster-claim.ts";
import type { Flight } from "./flight.ts";
import type { HitForMiss } from "./hit-for-miss.ts";

/** A response as a fill receives it. */
export interface FetchedResponse {
  readonly status: number;
  /** Lowercase names, in order, repeated fields kept apart. */
  readonly headers: HeaderPairs;
  /** Ends only when the body is complete; a cut body throws an OriginError. */
  readonly body: AsyncIterable<Buffer>;
  /** Stop reading the body and release what holds it. */
  dispose(): void;
  /**
   * For a response made from another stored response: the lifetimes its entry takes
   * instead of its own (it is fresh, and stale, exactly as long as what it was made
   * from); null when what it was made from is not stored, so neither is it.
   */
  readonly lifetimes?: Lifetimes | null;
}

/** What a fill asks its fetcher for. */
export interface FetchIntent {
  /** The validators of a revalidation (none for a plain fetch, or an entry without any). */
  readonly conditional: HeaderPairs;
  /** A stored entry is being revalidated. */
  readonly revalidation: boolean;
  /**
   * One byte range to ask for instead of the whole (`bytes=a-b`): a slice of an object
   * too large to store (cache/slices.ts), whose fetcher checks the 206 and makes it a 200.
   */
  readonly range?: string | undefined;
}

/** How a fill gets its response; only OriginErrors may be thrown. */
export type Fetcher = (intent: FetchIntent, signal: AbortSignal) => Promise<FetchedResponse>;

export interface FillJob {
  readonly primary: string;
  /** Where the stored response belongs (its URL for purge, what it was made from). */
  readonly id: StoredIdentity;
  /** The request the response will be stored for (its Vary values select it). */
  readonly request: RequestLike;
  /** What the response is fetched with, for the sharing rule (core/policy/sharing.ts). */
  readonly credentials: Credentials;
  /** The path whose response rules apply. */
  readonly path: string;
  /** The stale entry being revalidated, and our validators for it. */
  readonly revalidating?: StoredObject | undefined;
  readonly conditional: HeaderPairs;
  /** Others may join it (false: a private fetch for one request). */
  readonly shared: boolean;
  readonly fetch: Fetcher;
}

/** What a fill needs from the node it runs on. */
export interface FillDeps {
  readonly tier: Tier;
  readonly policy: PolicyOptions;
  readonly rules: CompiledRules;
  readonly hitForMiss: HitForMiss;
  /** How long a key stays hit-for-miss after a response that could not be shared, ms. */
  readonly hitForMissMs: number;
  /** The largest body relayed at all, bytes. */
  readonly maxBodyBytes: number;
  readonly now: () => number;
  /** A body failed part-way (counted by kind). */
  readonly bodyFailed: (error: OriginError) => void;
  /** Claims a key for the whole cluster before fetching it (absent: a node alone). */
  readonly cluster?: ClusterClaims | undefined;
}

interface Times {
  readonly requestTime: number;
  readonly responseTime: number;
}

/** Run a fill to its end. Throws only for the shield's own failures, never an origin's. */
export async function runFill(deps: FillDeps, flight: Flight, job: FillJob): Promise<void> {
  const claim = job.shared && deps.cluster !== undefined ? await deps.cluster.claim(job) : null;
  if (claim?.kind === "peer") {
    fromPeer(flight, claim.obj);
    return;
  }
  const lease = claim?.lease ?? null;
  const landed = { stored: Promise.resolve() };
  try {
    await fetchAndStore(deps, flight, job, lease, landed);
  } finally {
    lease?.end(landed.stored);
  }
}

async function fetchAndStore(
  deps: FillDeps,
  flight: Flight,
  job: FillJob,
  lease: HeldLease | null,
  landed: { stored: Promise<void> },
): Promise<void> {
  const stop = new AbortController();
  const requestTime = deps.now();
  const res = await fetchHead(flight, job, stop.signal);
  if (res === null) return;
  try {
    const times = { requestTime, responseTime: deps.now() };
    const entry = job.revalidating;
    if (entry !== undefined && res.status === 304) {
      res.dispose();
      if (refreshOn304(deps, flight, job, entry, res, times)) return;
      // A 304 about another representation: fetch the whole response instead.
      const whole = { ...job, revalidating: undefined, conditional: [] };
      return await fetchAndStore(deps, flight, whole, lease, landed);
    }
    const writer = planFill(deps, flight, job, res, times);
    // Nodes waiting on this fetch need not wait for a body no tier will hold.
    if (writer === null) lease?.end();
    const landing = await pumpBody(deps, flight, res, writer, stop);
    if (landing !== null) landed.stored = landing.stored;
  } catch (err) {
    res.dispose();
    throw err;
  }
}

/**
 * Another node fetched the key and stored it where this one can read it: the waiters get
 * that response as collapsed followers of the other node's fetch.
 */
function fromPeer(flight: Flight, obj: StoredObject): void {
  flight.closeToFollowers();
  flight.settle({ kind: "refreshed", obj, stored: true, peer: true });
  flight.body.end();
}

/** Step 1: ask for the response; a failure is every waiter's answer. */
async function fetchHead(
  flight: Flight,
  job: FillJob,
  signal: AbortSignal,
): Promise<FetchedResponse | null> {
  try {
    const intent = { conditional: job.conditional, revalidation: job.revalidating !== undefined };
    return await job.fetch(intent, signal);
  } catch (err) {
    if (!(err instanceof OriginError)) throw err;
    flight.fail(err);
    return null;
  }
}

/**
 * Step 2, RFC 9111 §4.3.3/§4.3.4: a 304 to our own conditional request freshens the
 * entry it selects. False when it selects none: the caller fetches the whole response.
 */
function refreshOn304(
  deps: FillDeps,
  flight: Flight,
  job: FillJob,
  entry: StoredObject,
  res: FetchedResponse,
  times: Times,
): boolean {
  const contentType = pairsSource(entry.meta.headers).get("content-type");
  const refreshed = applyNotModified({
    entry: entry.meta,
    notModified: pairsSource(res.headers),
    request: job.request,
    ...times,
    rule: ruleFor(deps, job, res, entry.meta.status, contentType, times.responseTime),
    options: deps.policy,
  });
  if (!refreshed.selects) return false;
  const plan: StoragePlan =
    res.lifetimes === null ? { store: false, reason: "source-not-stored" } : refreshed.plan;
  const obj = plan.store ? withMeta(entry, plan.meta) : entry;
  const key = deps.tier.keyOf(entry, job.request.headers);
  if (plan.store) deps.tier.replace(key, obj);
  else deps.tier.delete(key);
  flight.closeToFollowers();
  flight.settle({ kind: "refreshed", obj, stored: plan.store });
  flight.body.end();
  return true;
}

/**
 * Step 3: may the response be stored (core/policy), will the tier take it, and does its
 * key become hit-for-miss. Hands the waiters the head; returns the body's writer, or
 * null when the body is only relayed.
 */
function planFill(
  deps: FillDeps,
  flight: Flight,
  job: FillJob,
  res: FetchedResponse,
  times: Times,
): TierWriter | null {
  const headers = pairsSource(res.headers);
  const plan: StoragePlan =
    res.lifetimes === null
      ? { store: false, reason: "source-not-stored" }
      : planStorage({
          request: job.request,
          credentials: job.credentials,
          response: { status: res.status, headers },
          ...times,
          rule: ruleFor(
            deps,
            job,
            res,
            res.status,
            headers.get("content-type"),
            times.responseTime,
          ),
          options: deps.policy,
        });
  let writer: TierWriter | null = null;
  let detail: string | undefined;
  if (plan.store) {
    deps.hitForMiss.clear(job.primary);
    const declaredLength = contentLength(headers.get("content-length"));
    writer = deps.tier.writer({ meta: plan.meta, id: job.id, declaredLength }, job.request.headers);
    detail = writer === null ? "too-large" : storedDetail(plan.meta);
  } else {
    detail = plan.reason;
    if (marksHitForMiss(plan.reason, res.status, job.credentials)) {
      // Varnish's hit-for-miss: later requests skip the queue and fetch on their own.
      const until = times.responseTime + deps.hitForMissMs;
      deps.hitForMiss.mark(job.primary, until, job.credentials.cookie);
    }
  }
  if (writer === null) stopKeeping(flight);
  flight.settle({
    kind: "response",
    status: res.status,
    headers: res.headers,
    request: job.request,
    plan,
    storing: writer !== null,
    detail,
  });
  return writer;
}

/**
 * Step 4: relay the body to every reader as it arrives, and into the tier's writer. A
 * body longer or shorter than its Content-Length, over the size bound, or cut by the
 * origin fails: it is never stored, and readers see their transfer fail rather than end
 * as if it were complete.
 */
async function pumpBody(
  deps: FillDeps,
  flight: Flight,
  res: FetchedResponse,
  storing: TierWriter | null,
  stop: AbortController,
): Promise<Landing | null> {
  let writer = storing;
  const declared = contentLength(pairsSource(res.headers).get("content-length"));
  let bytes = 0;
  try {
    for await (const chunk of res.body) {
      bytes += chunk.length;
      if (bytes > deps.maxBodyBytes) {
        throw new OriginError("too-large", `origin body over ${deps.maxBodyBytes} bytes`);
      }
      if (declared !== null && bytes > declared) {
        throw new OriginError("reset", `origin body longer than its ${declared} bytes`);
      }
      const kept = writer === null ? null : writer.write(chunk);
      if (writer !== null && kept === null) {
        writer = null; // over the tier's bound: relayed, not stored
        stopKeeping(flight);
      }
      flight.body.push(kept ?? chunk);
      if (writer === null && flight.body.readers === 0) {
        res.dispose();
        flight.body.fail(new OriginError("aborted", "no reader left"));
        return null;
      }
      const wait = flight.body.writable();
      if (wait !== null) await wait;
    }
    if (declared !== null && bytes !== declared) {
      throw new OriginError("reset", `origin body ended at ${bytes} of ${declared} bytes`);
    }
  } catch (err) {
    if (!(err instanceof OriginError)) throw err;
    writer?.abort();
    deps.bodyFailed(err);
    res.dispose();
    stop.abort();
    flight.body.fail(err);
    return null;
  }
  return commit(flight, writer);
}

/**
 * Step 5: the body is whole: store it, and end every reader's stream. Returns when the
 * slower tiers will have stored it too (null: nothing stored).
 */
function commit(flight: Flight, writer: TierWriter | null): Landing | null {
  if (writer === null) {
    flight.body.end();
    return null;
  }
  writer.commit();
  flight.body.end();
  // Wrapped: a promise returned from an async function would be awaited with it.
  return writer.stored === undefined ? null : { stored: writer.stored() };
}

/** The slower tiers' writes of a committed body, still landing. */
interface Landing {
  readonly stored: Promise<void>;
}

/** The body will not be stored: no one else joins, and chunks read by all are dropped. */
function stopKeeping(flight: Flight): void {
  flight.closeToFollowers();
  flight.body.release();
}

/**
 * The TTL rule for a response: the first configured rule that matches it; or, for a
 * response whose lifetimes were dictated (FetchedResponse.lifetimes), those lifetimes
 * put as the rule that sets them, so its entry is fresh, and stale, exactly as long as
 * what it was made from. Its own headers still decide whether it may be stored at all.
 */
function ruleFor(
  deps: FillDeps,
  job: FillJob,
  res: FetchedResponse,
  status: number,
  contentType: string | null,
  now: number,
): RuleEffect | undefined {
  const dictated = res.lifetimes;
  if (dictated === undefined || dictated === null) {
    const request = { method: "GET", path: job.path, status, contentType };
    return matchResponseRule(deps.rules, request)?.rule;
  }
  return {
    match: { status: [status] },
    ttl: { set: (dictated.freshUntil - now) / 1000 },
    staleWhileRevalidate: Math.max(
      0,
      (dictated.staleWhileRevalidateUntil - dictated.freshUntil) / 1000,
    ),
    staleIfError: Math.max(0, (dictated.staleIfErrorUntil - dictated.freshUntil) / 1000),
  };
}

/**
 * Whether a response that was not stored should make its key hit-for-miss. Not when the
 * reason lies in the request rather than in the response (a request with Authorization,
 * or no-store from the client): anonymous requests for the key would then stop
 * collapsing for a while because of one request. Not for a server error or 429 either:
 * those go to the requests waiting at that moment (cache/serve-fill.ts), and the next
 * burst should collapse onto one fetch again, not each reach an origin that is failing.
 */
function marksHitForMiss(
  reason: NotStoredReason,
  status: number,
  credentials: Credentials,
): boolean {
  if (status >= 500 || status === 429 || credentials.authorization) return false;
  return reason !== "authorization" && reason !== "request-no-store" && reason !== "method";
}

function contentLength(value: string | null): number | null {
  if (value === null || !/^\d{1,15}$/.test(value.trim())) return null;
  return Number(value.trim());
}
