/** Methods RFC 9110 §9.2.1 defines as safe; every other method is unsafe. */
const SAFE_METHODS: ReadonlySet<string> = new Set(["GET", "HEAD", "OPTIONS", "TRACE"]);

export function isSafeMethod(method: string): boolean {
  return SAFE_METHODS.has(method);
}

/**
 * URLs a cache must invalidate after forwarding an unsafe request (RFC 9111 §4.4): on a
 * non-error (2xx or 3xx) response, the target URI, and the URIs in Location and
 * Content-Location — but only those with the same origin as the target, so that one site
 * cannot purge another's content.
 */
export function invalidatedUrls(
  method: string,
  targetUrl: string,
  status: number,
  headers: { get(name: string): string | null },
): string[] {
  if (isSafeMethod(method) || status < 200 || status >= 400) return [];
  let target: URL;
  try {
    target = new URL(targetUrl);
  } catch {
    return [];
  }
  const out = [stripFragment(target)];
  for (const field of ["location", "content-location"]) {
    const value = headers.get(field);
    if (value === null) continue;
    let url: URL;
    try {
      url = new URL(value.trim(), target);
    } catch {
      continue;
    }
    if (url.origin !== target.origin) continue;
    const href = stripFragment(url);
    if (!out.includes(href)) out.push(href);
  }
  return out;
}

function stripFragment(url: URL): string {
  const copy = new URL(url.href);
  copy.hash = "";
  return copy.href;
}
