/** What the cache path needs from the node it runs on (built in context.ts). */
import type { KeySpec } from "../../core/config/index.ts";
import type { PolicyOptions } from "../../core/policy/index.ts";
import type { Collapser } from "../collapse/collapser.ts";
import type { Tier } from "../store/tier.ts";
import type { LargeObjects } from "./slices.ts";

export interface CacheDeps {
  /** This cache's name in Cache-Status and Via. */
  readonly name: string;
  readonly key: KeySpec;
  readonly policy: PolicyOptions;
  readonly tier: Tier;
  readonly collapser: Collapser;
  readonly now: () => number;
  /** Objects too large to store, whose ranges are served from slices (slices.ts). */
  readonly largeObjects?: LargeObjects | undefined;
}
