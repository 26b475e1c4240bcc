/**
 * Token buckets (the algorithm of nginx's limit_req, Envoy's local rate limit and most
 * API gateways): a bucket holds up to `burst` tokens, gains `ratePerSecond` of them a
 * second, and a request takes one. Tokens are added lazily, from the time elapsed since
 * the bucket was last touched, so a bucket is two numbers and no timer.
 *
 * Buckets are keyed by what clients send (their address), so the table holding them is
 * bounded in bytes like the shield's other such tables (`shield.tables`): the least
 * recently used bucket is forgotten first. A forgotten bucket starts again full, which
 * errs towards letting a client through; the bound is sized so that only clients idle
 * long enough to have refilled anyway are forgotten under ordinary traffic.
 */
import { LRUCache } from "lru-cache";

export interface Bucket {
  /** Tokens held when last touched; below 1, a request must wait. */
  tokens: number;
  /** When it was last touched, ms. */
  at: number;
}

export interface BucketShape {
  readonly ratePerSecond: number;
  readonly burst: number;
}

/**
 * What one bucket costs beyond its key: the bucket object, the LRU's map entry and slots.
 * Measured with 100 000 buckets keyed by a rule name and an IPv4 address (16 characters)
 * under --expose-gc: about 235 bytes each, key included, which 200 plus two bytes a key
 * character accounts for.
 */
const BUCKET_OVERHEAD = 200;

/** Bring `bucket` up to `now`: the tokens it gained since it was last touched. */
export function refill(bucket: Bucket, shape: BucketShape, now: number): void {
  const elapsed = now - bucket.at;
  if (elapsed > 0) {
    bucket.tokens = Math.min(shape.burst, bucket.tokens + (elapsed * shape.ratePerSecond) / 1000);
    bucket.at = now;
  }
}

/** Seconds until `bucket` holds a whole token again (RFC 9110 §10.2.3 delay-seconds, ≥ 1). */
export function secondsToToken(bucket: Bucket, shape: BucketShape): number {
  return Math.max(1, Math.ceil((1 - bucket.tokens) / shape.ratePerSecond));
}

/** The buckets of every rule and client, in one byte-bounded table. */
export class BucketTable {
  readonly #lru: LRUCache<string, Bucket>;
  readonly maxBytes: number;

  constructor(maxBytes: number) {
    this.maxBytes = maxBytes;
    this.#lru = new LRUCache<string, Bucket>({
      maxSize: maxBytes,
      sizeCalculation: (_bucket, key) => BUCKET_OVERHEAD + 2 * key.length,
    });
  }

  /** Bytes the table accounts for now. */
  get bytes(): number {
    return this.#lru.calculatedSize;
  }

  get size(): number {
    return this.#lru.size;
  }

  /** The bucket for `key`, refilled to `now`; a new one starts full. */
  get(key: string, shape: BucketShape, now: number): Bucket {
    let bucket = this.#lru.get(key);
    if (bucket === undefined) {
      bucket = { tokens: shape.burst, at: now };
      this.#lru.set(key, bucket);
    } else refill(bucket, shape, now);
    return bucket;
  }
}
