// The container's HEALTHCHECK (deploy/Dockerfile): GET /__shield/health from inside the
// container and exit 0 on a 200, 1 on anything else. The shield answers 200 while it
// serves, "degraded" included (a disk or Redis tier down, memory still serving), so
// Docker restarts only a node that no longer answers at all.
//
// Plain node, because the runtime image has neither curl nor wget. The URL is the first
// argument, else SHIELD_HEALTH_URL, else the port the image's ENTRYPOINT listens on.
const url =
  process.argv[2] ?? process.env.SHIELD_HEALTH_URL ?? "http://127.0.0.1:8080/__shield/health";
// Shorter than the HEALTHCHECK --timeout, so a hung node is reported by this script
// (with a reason in `docker inspect`) rather than killed by Docker.
const TIMEOUT_MS = 2_000;

try {
  const response = await fetch(url, { signal: AbortSignal.timeout(TIMEOUT_MS) });
  const body = await response.text();
  if (response.status !== 200) {
    console.error(`${url}: ${response.status} ${body.slice(0, 200)}`);
    process.exit(1);
  }
  console.log(`${url}: ${body.slice(0, 200)}`);
  process.exit(0);
} catch (error) {
  console.error(`${url}: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
}
