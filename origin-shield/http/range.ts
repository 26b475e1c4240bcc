/**
 * Single byte ranges served from a stored full response (RFC 9110 §14): the shield
 * answers them with the edge's own rule (core/http/range.ts), so both tiers send the
 * same part, or the whole 200, for the same Range and If-Range.
 */
export { type RangeResult, selectRange } from "../../core/http/range.ts";
