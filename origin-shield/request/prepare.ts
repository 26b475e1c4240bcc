/**
 * Request preparation: a client's request-target and Host become a normalised URL
 * (core/key) on a configured origin (core/routing), with the headers the origin will
 * receive as the key and Vary must read them. Anything else is refused here, before a
 * route sees it: a target that is not a path or an http(s) URL, a missing or malformed
 * Host, a host no origin serves.
 */
import { LRUCache } from "lru-cache";
import type { CdnConfig, OriginConfig } from "../../core/config/index.ts";
import { type NormalisedUrl, normaliseUrl } from "../../core/key/index.ts";
import { forwardedView } from "../../core/policy/index.ts";
import { type OriginRouter, routeOrigin } from "../../core/routing/index.ts";
import { transformSourcePath } from "../../core/variant/index.ts";
import type { TrustedProxies } from "../http/client-address.ts";
import { nodeHeaderReader } from "../http/headers.ts";
import { rejection } from "../rejection.ts";
import type { ShieldResponse } from "../respond.ts";
import type { RoutedRequest, ShieldRequest } from "../types.ts";
import { parseAuthority } from "./authority.ts";

export interface PrepareDeps {
  readonly name: string;
  readonly config: CdnConfig;
  readonly origins: OriginRouter;
  readonly proxies: TrustedProxies;
  /** Targets already prepared (see PreparedTargets). */
  readonly targets: PreparedTargets;
}

/** The part of a routed request that depends only on its target and Host. */
interface Target {
  readonly url: NormalisedUrl;
  readonly origin: OriginConfig;
  readonly proto: string;
  readonly authority: string;
}

/** What one remembered target costs beyond its strings: its objects, the LRU's node. */
const TARGET_OVERHEAD = 400;

/** Longest memo key kept, characters: a far longer URL is prepared each time. */
const MEMO_MAX_KEY = 2_048;

/**
 * Parsing, normalising and routing a target is most of what a hit costs, and a cache
 * sees the same few targets again and again: the result is remembered per spelling of
 * everything it depends on (TLS, the trusted forwarding fields, Host, the target),
 * bounded in bytes (`shield.tables.targetsBytes`).
 */
export class PreparedTargets {
  readonly #lru: LRUCache<string, Target>;
  readonly maxBytes: number;

  constructor(maxBytes: number) {
    this.maxBytes = maxBytes;
    this.#lru = new LRUCache<string, Target>({
      maxSize: maxBytes,
      sizeCalculation: (target, key) =>
        TARGET_OVERHEAD + 2 * (key.length + target.url.url.length + target.url.path.length),
    });
  }

  get bytes(): number {
    return this.#lru.calculatedSize;
  }

  get(key: string): Target | undefined {
    return this.#lru.get(key);
  }

  set(key: string, target: Target): void {
    if (key.length <= MEMO_MAX_KEY) this.#lru.set(key, target);
  }
}

export function prepareRequest(
  deps: PrepareDeps,
  req: ShieldRequest,
): RoutedRequest | ShieldResponse {
  const memoKey = memoKeyOf(deps, req);
  let target = memoKey === null ? undefined : deps.targets.get(memoKey);
  if (target === undefined) {
    const prepared = prepareTarget(deps, req);
    if ("status" in prepared) return prepared;
    target = prepared;
    if (memoKey !== null) deps.targets.set(memoKey, target);
  }
  const { url, proto } = target;
  const chain = forwardedFor(deps.proxies, req);
  return {
    method: req.method,
    // What the origin will receive, as the key and Vary must see it (core forwardedView).
    reader: forwardedView(nodeHeaderReader(req.headers), req.method, {
      host: url.host,
      proto,
      forwardedFor: chain,
    }),
    url,
    origin: target.origin,
    proto,
    authority: target.authority,
    forwardedFor: chain,
    client: req,
  };
}

/**
 * Everything a target's preparation reads, as one string; null when a field is repeated
 * (an array) or the target is absolute-form: those are prepared each time.
 */
function memoKeyOf(deps: PrepareDeps, req: ShieldRequest): string | null {
  const headers = req.headers;
  const host = headers.host;
  if (typeof host !== "string" || req.target.charCodeAt(0) !== 0x2f) return null;
  let forwarded = "";
  if (deps.config.shield.trustForwardedHost) {
    const xfh = Object.hasOwn(headers, "x-forwarded-host") ? headers["x-forwarded-host"] : "";
    const xfp = Object.hasOwn(headers, "x-forwarded-proto") ? headers["x-forwarded-proto"] : "";
    if (typeof xfh !== "string" || typeof xfp !== "string") return null;
    forwarded = `${xfh}\n${xfp}`;
  }
  return `${req.secure ? "s" : "p"}\n${forwarded}\n${host}\n${req.target}`;
}

/** Target and Host → a normalised URL on a configured origin, or a refusal. */
function prepareTarget(deps: PrepareDeps, req: ShieldRequest): Target | ShieldResponse {
  const { config, name } = deps;
  const headers = req.headers;
  let target = req.target;
  let authorityValue: string | undefined;
  if (target.charCodeAt(0) !== 0x2f) {
    // RFC 9112 §3.2.2: absolute-form; its authority replaces Host. It can still only
    // name a configured host: routing below is the only way to a fetch.
    const m = /^https?:\/\/([^/?#]*)([^#]*)/i.exec(target);
    if (m === null) {
      return refuse(name, 400, "bad_target", "request target must be a path or an http(s) URL");
    }
    authorityValue = m[1] as string;
    target = m[2] === "" ? "/" : (m[2] as string);
    if (target.charCodeAt(0) !== 0x2f) target = `/${target}`;
  }
  const trust = config.shield.trustForwardedHost;
  const forwardedHost = trust ? firstValue(headers["x-forwarded-host"]) : undefined;
  const hostValue = authorityValue ?? forwardedHost ?? firstValue(headers.host);
  if (hostValue === undefined || hostValue === "") {
    return refuse(name, 400, "missing_host", "the request names no host");
  }
  const parsed = parseAuthority(hostValue);
  if (parsed === null) return refuse(name, 400, "bad_host", "the Host is not a valid host[:port]");
  const xfp = trust ? firstValue(headers["x-forwarded-proto"]) : undefined;
  const proto = xfp === "https" || (xfp === undefined && req.secure) ? "https" : "http";
  let url: NormalisedUrl;
  try {
    url = normaliseUrl(`${proto}://${parsed.authority}${target}`, config.key);
  } catch {
    return refuse(name, 400, "bad_target", "the request target is not a valid URL path");
  }
  // A transform is routed by its source image, which is what will be fetched.
  const routePath = transformSourcePath(url.path, config.images.transformPrefix);
  const origin = routeOrigin(deps.origins, parsed.hostname, routePath);
  if (origin === null) {
    // RFC 9110 §15.5.20: this server is not able to produce a response for that host.
    const message = `no origin is configured for ${parsed.hostname}${url.path}`;
    return refuse(name, 421, "unknown_host", message);
  }
  return { url, origin, proto, authority: parsed.authority };
}

/** The X-Forwarded-For chain this node vouches for (http/client-address.ts). */
function forwardedFor(proxies: TrustedProxies, req: ShieldRequest): string | null {
  const claimed = req.headers["x-forwarded-for"];
  const chain = Object.hasOwn(req.headers, "x-forwarded-for") ? claimed : undefined;
  return proxies.forwardedFor(
    req.remoteAddress,
    chain === undefined ? null : typeof chain === "string" ? chain : chain.join(", "),
  );
}

function firstValue(value: string | string[] | undefined): string | undefined {
  if (value === undefined) return undefined;
  const first = typeof value === "string" ? value : value[0];
  if (first === undefined) return undefined;
  const comma = first.indexOf(",");
  return (comma < 0 ? first : first.slice(0, comma)).trim();
}

function refuse(cache: string, status: number, code: string, message: string): ShieldResponse {
  return rejection(cache, { status, code, message });
}
