/**
 * Purges reach every node through one Redis pub/sub channel: the node that takes a purge
 * publishes it, and each node (itself excepted) purges its own memory and disk when the
 * message arrives. A message is data from the network: it is parsed and bounded before
 * anything acts on it, and one that does not parse is dropped and counted.
 */
import type { RedisLink } from "./redis-link.ts";

/** What a purge names, URLs and prefixes already normalised. */
export interface PurgeMessage {
  readonly urls: readonly string[];
  readonly tags: readonly string[];
  readonly prefixes: readonly string[];
  readonly soft: boolean;
}

export interface PurgeBusOptions {
  readonly link: RedisLink;
  readonly keyPrefix: string;
  /** This node's own id, so it ignores its own messages. */
  readonly nodeId: string;
  /** Apply a purge another node took. */
  readonly onPurge: (message: PurgeMessage) => void;
  readonly onMessage?: ((direction: "sent" | "received" | "rejected") => void) | undefined;
}

/** The most names one message may carry (the purge endpoint's own bounds, summed). */
const MAX_NAMES = 21_000;

export class PurgeBus {
  readonly #options: PurgeBusOptions;
  readonly #channel: string;

  constructor(options: PurgeBusOptions) {
    this.#options = options;
    this.#channel = `${options.keyPrefix}purge`;
    options.link.subscribe(this.#channel, (text) => this.#receive(text));
  }

  /** Send a purge to every other node; resolves to how many received it, or "down". */
  async broadcast(message: PurgeMessage): Promise<number | "down"> {
    const text = JSON.stringify({ from: this.#options.nodeId, ...message });
    const receivers = await this.#options.link.publish(this.#channel, text);
    if (receivers === null) return "down";
    this.#options.onMessage?.("sent");
    // Every node subscribes, this one included.
    return Math.max(0, receivers - 1);
  }

  #receive(text: string): void {
    const message = parse(text);
    if (message === null) {
      this.#options.onMessage?.("rejected");
      return;
    }
    if (message.from === this.#options.nodeId) return;
    this.#options.onMessage?.("received");
    this.#options.onPurge(message);
  }
}

function parse(text: string): (PurgeMessage & { from: string }) | null {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  if (value === null || typeof value !== "object") return null;
  const raw = value as Record<string, unknown>;
  const urls = strings(raw.urls);
  const tags = strings(raw.tags);
  const prefixes = strings(raw.prefixes);
  if (urls === null || tags === null || prefixes === null) return null;
  if (urls.length + tags.length + prefixes.length > MAX_NAMES) return null;
  if (typeof raw.from !== "string" || typeof raw.soft !== "boolean") return null;
  return { from: raw.from, urls, tags, prefixes, soft: raw.soft };
}

function strings(value: unknown): string[] | null {
  if (!Array.isArray(value)) return null;
  return value.every((s) => typeof s === "string" && s.length <= 8192) ? value : null;
}
