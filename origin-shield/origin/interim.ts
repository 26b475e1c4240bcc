/**
 * Interim (1xx) responses from an origin, RFC 9110 §15.2. They belong to the request that
 * received them: the origin client hands them to that request's sink (the client whose
 * request started the fetch) and to no one else, and nothing about them is stored.
 *
 * An origin may send any number of them before its final response, and undici restarts
 * its header timeout at each, so a hostile origin could hold a request open for ever with
 * a trickle of 103s. The watch bounds both: more than MAX_INTERIM_ACCEPTED, or no final
 * response within the header timeout of the first interim one, and the fetch fails as the
 * origin's fault (a 502 or 504 to the client, like any other bad answer).
 */
import type { HeaderPairs } from "../../core/policy/index.ts";
import { type NodeHeaders, nodeHeaderPairs, writableField } from "../http/headers.ts";
import type { InterimSink } from "../types.ts";
import { OriginError } from "./origin-error.ts";

/** Interim responses one fetch may receive before its final one; the next fails it. */
export const MAX_INTERIM_ACCEPTED = 100;

/** Interim statuses relayed: 102 Processing (RFC 2518 §10.1) and 103 Early Hints (RFC 8297). */
const RELAYED: ReadonlySet<number> = new Set([102, 103]);

/** What undici's request API passes to `onInfo` for each 1xx. */
export interface InterimInfo {
  readonly statusCode: number;
  readonly headers: NodeHeaders;
}

export class InterimWatch {
  readonly #sink: InterimSink | undefined;
  readonly #deadlineMs: number;
  readonly #fail: (error: OriginError) => void;
  #seen = 0;
  #timer: NodeJS.Timeout | null = null;
  #done = false;
  /** Why the watch stopped the fetch, if it did. */
  error: OriginError | null = null;

  constructor(
    sink: InterimSink | undefined,
    deadlineMs: number,
    fail: (error: OriginError) => void,
  ) {
    this.#sink = sink;
    this.#deadlineMs = deadlineMs;
    this.#fail = fail;
  }

  /** undici's `onInfo`: one interim response arrived. */
  readonly onInfo = (info: InterimInfo): void => {
    if (this.#done) return;
    this.#seen++;
    if (this.#seen > MAX_INTERIM_ACCEPTED) {
      this.#stop(new OriginError("invalid", `more than ${MAX_INTERIM_ACCEPTED} interim responses`));
      return;
    }
    if (this.#timer === null) {
      this.#timer = setTimeout(
        () => this.#stop(new OriginError("timeout", "no final response after an interim response")),
        this.#deadlineMs,
      );
      this.#timer.unref();
    }
    if (this.#sink === undefined || !RELAYED.has(info.statusCode)) return;
    this.#sink(info.statusCode, interimFields(info.headers));
  };

  /** The final response arrived, or the fetch failed: nothing more is relayed. */
  done(): void {
    this.#done = true;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
  }

  #stop(error: OriginError): void {
    this.error = error;
    this.done();
    this.#fail(error);
  }
}

/**
 * The fields of an interim response that are relayed: Link only (what Early Hints are
 * for, RFC 8297 §2), each a value Node can write. Anything else an origin puts on a 1xx
 * (a cookie, a private header) goes no further than the shield.
 */
export function interimFields(headers: NodeHeaders): HeaderPairs {
  const out: HeaderPairs = [];
  for (const [name, value] of nodeHeaderPairs(headers)) {
    if (name.toLowerCase() === "link" && writableField(name, value)) out.push(["link", value]);
  }
  return out;
}
