import {
  DEFAULT_POLICY_OPTIONS,
  type EntryMeta,
  type PolicyOptions,
  planStorage,
  type RuleEffect,
} from "../../core/policy/index.ts";

/** A fixed instant for policy tests: 2026-01-01T00:00:00Z. */
export const T0 = Date.UTC(2026, 0, 1, 0, 0, 0);
export const SECOND = 1000;
export const HTTP_T0 = new Date(T0).toUTCString();

export function httpDate(ms: number): string {
  return new Date(ms).toUTCString();
}

export function request(
  method = "GET",
  headers: Record<string, string> = {},
): { method: string; headers: Headers } {
  return { method, headers: new Headers(headers) };
}

export function response(
  status: number,
  headers: Record<string, string> = {},
): { status: number; headers: Headers } {
  return { status, headers: new Headers(headers) };
}

export function options(overrides: Partial<PolicyOptions> = {}): PolicyOptions {
  return { ...DEFAULT_POLICY_OPTIONS, ...overrides };
}

/**
 * Store a response received at T0 (sent 0 ms earlier unless said otherwise) and return
 * its metadata; fails the test when the policy refuses to store it.
 */
export function stored(
  headers: Record<string, string>,
  init: {
    status?: number;
    request?: { method: string; headers: Headers };
    rule?: RuleEffect;
    options?: PolicyOptions;
    requestTime?: number;
    responseTime?: number;
  } = {},
): EntryMeta {
  const plan = planStorage({
    request: init.request ?? request(),
    response: response(init.status ?? 200, { date: HTTP_T0, ...headers }),
    requestTime: init.requestTime ?? init.responseTime ?? T0,
    responseTime: init.responseTime ?? T0,
    rule: init.rule,
    options: init.options ?? options(),
  });
  if (!plan.store) throw new Error(`expected the response to be stored, got ${plan.reason}`);
  return plan.meta;
}
