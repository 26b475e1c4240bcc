/**
 * A request refused before any fetch (a bad target, an unknown host, bad image options):
 * an error with a stable code, and this cache's Cache-Status member naming it, like
 * every answer.
 */
import { type ErrorBody, errorResponse, type ShieldResponse } from "./respond.ts";

export function rejection(cache: string, error: ErrorBody, extra: string[] = []): ShieldResponse {
  return errorResponse(error, "rejected", { cache, detail: error.code }, extra);
}
