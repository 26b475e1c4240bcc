/**
 * Several stored responses per key, one per set of Vary values (RFC 9111 §4.1).
 *
 * The Cache API ignores Vary, so the edge does the selecting itself. A response that
 * varies is not stored under its key's storage name: that name holds a small vary
 * record instead, listing the Vary field names and the variants stored so far, and each
 * variant's response sits in one of MAX_VARIANTS slots named after the key and the slot
 * number. A lookup reads the record, builds the request's secondary key from its values
 * for those fields (normalised as core/policy/vary.ts `normaliseVaryValue` does;
 * Accept-Encoding already arrives reduced by core `preferredCoding`), and reads the slot
 * the record gives for it. The slot's entry carries its full variant key, compared on
 * every read, so a slot overwritten meanwhile (another variant, a racing isolate) is a
 * miss, never another variant's response.
 *
 * Bounded per key: MAX_VARIANTS slots and one record, whatever a client sends. A new
 * variant takes a free slot, else the slot of the variant stored longest ago (oldest
 * first, not least recently used: a hit never writes). A client sending 10,000 distinct
 * values of a varied field therefore churns at most MAX_VARIANTS slots, and since slot
 * names do not depend on the values, even racing isolates cannot make more.
 */
import { storageName } from "../../core/key/index.ts";
import { type HeaderReader, normaliseVaryValue } from "../../core/policy/index.ts";

/** Variants kept per key; beyond it, the one stored longest ago is replaced. */
export const MAX_VARIANTS = 8;

export interface VariantSlot {
  /** The variant's id: storage name of its variant key. */
  readonly id: string;
  readonly slot: number;
}

export interface VaryRecord {
  /** Lowercase Vary field names, sorted (as core captureVary lists them). */
  readonly fields: readonly string[];
  /** Variants stored, the one stored longest ago first. */
  readonly variants: readonly VariantSlot[];
  /** Kept until the last variant it lists may be used (ms). */
  readonly deleteAt: number;
}

/**
 * The key of one variant: the primary key with the Vary fields and the request's
 * normalised values for them, as JSON (no delimiter can make two of them collide).
 */
export function variantKey(
  key: string,
  fields: readonly string[],
  values: readonly (string | null)[],
): string {
  return JSON.stringify([key, fields, values]);
}

/** The variant key a request selects under a record's fields. */
export function requestVariantKey(
  key: string,
  fields: readonly string[],
  request: HeaderReader,
): string {
  return variantKey(
    key,
    fields,
    fields.map((f) => normaliseVaryValue(f, request.get(f))),
  );
}

/** Storage name of slot `slot` of the key stored under `name`. */
export function slotName(name: string, slot: number): string {
  return storageName(JSON.stringify(["vary-slot", name, slot]));
}

/** The slot a variant id is stored in, if the record lists it. */
export function slotOf(record: VaryRecord, id: string): number | null {
  for (const v of record.variants) if (v.id === id) return v.slot;
  return null;
}

function sameFields(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((f, i) => f === b[i]);
}

/**
 * Where a variant goes, and the record after it is stored: its own slot when listed
 * (moved to the newest place), else a free slot, else the slot of the variant stored
 * longest ago. A record for other fields (the origin changed its Vary) starts afresh.
 * Pure.
 */
export function placeVariant(
  current: VaryRecord | null,
  fields: readonly string[],
  id: string,
  deleteAt: number,
): { record: VaryRecord; slot: number } {
  const usable = current !== null && sameFields(current.fields, fields) ? current : null;
  const others = (usable?.variants ?? []).filter((v) => v.id !== id);
  const own = usable === null ? null : slotOf(usable, id);
  let slot: number;
  if (own !== null) {
    slot = own;
  } else if (others.length < MAX_VARIANTS) {
    const taken = new Set(others.map((v) => v.slot));
    slot = 0;
    while (taken.has(slot)) slot++;
  } else {
    slot = (others.shift() as VariantSlot).slot;
  }
  const keepUntil = Math.max(deleteAt, usable?.deleteAt ?? 0);
  return {
    record: { fields: [...fields], variants: [...others, { id, slot }], deleteAt: keepUntil },
    slot,
  };
}

/** A decoded record, or null when the value is not one (checked field by field). */
export function asVaryRecord(value: unknown): VaryRecord | null {
  if (typeof value !== "object" || value === null) return null;
  const r = value as { [k: string]: unknown };
  if (!Array.isArray(r.fields) || !r.fields.every((f) => typeof f === "string")) return null;
  if (typeof r.deleteAt !== "number" || !Array.isArray(r.variants)) return null;
  if (r.variants.length > MAX_VARIANTS) return null;
  for (const v of r.variants as unknown[]) {
    if (typeof v !== "object" || v === null) return null;
    const { id, slot } = v as { [k: string]: unknown };
    if (typeof id !== "string" || typeof slot !== "number") return null;
    if (!Number.isInteger(slot) || slot < 0 || slot >= MAX_VARIANTS) return null;
  }
  return r as unknown as VaryRecord;
}
