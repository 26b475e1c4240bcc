/**
 * Purge by URL, tag (Surrogate-Key / Cache-Tag) or URL prefix. Hard purge deletes; soft
 * purge marks stale (as Fastly's soft purge does), so the next request revalidates while
 * stale-while-revalidate and stale-if-error still protect the origin.
 */

import { z } from "zod";
import { normaliseUrl } from "../../core/key/index.ts";
import type { ShieldContext } from "../context.ts";
import { variantUrlsFor } from "../image/route.ts";
import { withMeta } from "../store/stored-object.ts";

const absoluteUrl = z
  .string()
  .max(8192, "must be at most 8192 characters")
  .refine((s) => /^https?:\/\//i.test(s) && URL.canParse(s), "must be an absolute http(s) URL");

export const PurgeSchema = z
  .strictObject({
    urls: z.array(absoluteUrl).max(10_000).optional(),
    tags: z.array(z.string().min(1).max(1024)).max(10_000).optional(),
    prefixes: z.array(absoluteUrl).max(1_000).optional(),
    soft: z.boolean().default(false),
  })
  .refine((p) => (p.urls?.length ?? 0) + (p.tags?.length ?? 0) + (p.prefixes?.length ?? 0) > 0, {
    message: "name at least one of urls, tags, prefixes",
  });

export type PurgeRequest = z.output<typeof PurgeSchema>;

/** Apply a purge; returns how many stored responses it touched. */
export function purge(ctx: ShieldContext, request: PurgeRequest): number {
  const keys = new Set<string>();
  const spec = ctx.config.key;
  // A transform URL purges the variant it names, however its options are spelt.
  for (const href of request.urls ?? []) {
    for (const url of variantUrlsFor(ctx.config.images, normaliseUrl(href, spec))) {
      for (const k of ctx.index.keysForUrl(url)) keys.add(k);
    }
  }
  for (const t of request.tags ?? []) for (const k of ctx.index.keysForTag(t)) keys.add(k);
  for (const prefix of request.prefixes ?? []) {
    for (const k of ctx.index.keysForPrefix(normaliseUrl(prefix, spec).url)) keys.add(k);
  }
  const now = ctx.now();
  let purged = 0;
  for (const key of keys) {
    const obj = ctx.tier.peek(key);
    if (obj === undefined) continue;
    purged++;
    // A purged image may come back changed: its variants are counted afresh.
    ctx.images.variants.forget(obj.url);
    if (!request.soft) {
      ctx.tier.delete(key);
      continue;
    }
    // Freshness ends now, and the stale windows (RFC 5861: seconds after it becomes
    // stale) start now: keeping their absolute ends would let a response with no
    // stale-while-revalidate be served stale for the rest of its old lifetime.
    const shift = Math.max(0, obj.meta.freshUntil - now);
    const meta = {
      ...obj.meta,
      freshUntil: obj.meta.freshUntil - shift,
      staleWhileRevalidateUntil: obj.meta.staleWhileRevalidateUntil - shift,
      staleIfErrorUntil: obj.meta.staleIfErrorUntil - shift,
    };
    ctx.tier.replace(key, withMeta(obj, meta));
  }
  return purged;
}
