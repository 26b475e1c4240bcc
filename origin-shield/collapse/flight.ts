/**
 * One fill and everyone waiting on it (Varnish's busy object): the head every waiter
 * switches on, the body every reader streams from, and whether others may still join.
 *
 * The head is a promise that never rejects: waiters switch on its `kind`.
 */
import type { HeaderPairs, RequestLike, StoragePlan } from "../../core/policy/index.ts";
import type { OriginError } from "../origin/origin-error.ts";
import type { StoredObject } from "../store/stored-object.ts";
import { BodyBuffer } from "./body-buffer.ts";

export type FillHead =
  | {
      readonly kind: "response";
      readonly status: number;
      readonly headers: HeaderPairs;
      /** The request the response was fetched for (its Vary values, its credentials). */
      readonly request: RequestLike;
      readonly plan: StoragePlan;
      /** Whether the body is being stored (false: not storable, or too large). */
      readonly storing: boolean;
      /** Why it is not stored, or what is notable in how it is, for Cache-Status `detail`. */
      readonly detail: string | undefined;
    }
  | {
      readonly kind: "refreshed";
      readonly obj: StoredObject;
      readonly stored: boolean;
      /** Fetched and stored by another node of the cluster (collapse/cluster-claim.ts). */
      readonly peer?: boolean | undefined;
    }
  | { readonly kind: "error"; readonly error: OriginError };

export class Flight {
  readonly key: string;
  readonly head: Promise<FillHead>;
  readonly body = new BodyBuffer();
  /** Requests that joined after the first. */
  followers = 0;
  /** The fill itself, for shutdown draining. */
  done: Promise<void> = Promise.resolve();
  #joinable: boolean;
  #settle!: (head: FillHead) => void;
  readonly #onClosed: (flight: Flight) => void;

  /** `onClosed` is called once, when the flight stops taking new followers. */
  constructor(key: string, joinable: boolean, onClosed: (flight: Flight) => void) {
    this.key = key;
    this.#joinable = joinable;
    this.#onClosed = onClosed;
    this.head = new Promise<FillHead>((resolve) => {
      this.#settle = resolve;
    });
  }

  /** Others may still join (false once the body is not being kept from byte 0). */
  get joinable(): boolean {
    return this.#joinable;
  }

  /** Stop new requests from joining: they start a fill of their own. */
  closeToFollowers(): void {
    if (!this.#joinable) return;
    this.#joinable = false;
    this.#onClosed(this);
  }

  /** Hand the waiters their head; later calls do nothing. */
  settle(head: FillHead): void {
    this.#settle(head);
  }

  /** The fill failed: waiters without a head get the error, readers see the body fail. */
  fail(error: OriginError): void {
    this.closeToFollowers();
    this.settle({ kind: "error", error });
    this.body.fail(error);
  }
}
