/**
 * Child process: the baseline of the hit benchmark, a bare node:http server answering
 * each path with fixed bytes from memory and a fixed list of headers (the parent passes
 * the headers a shield hit carries, so both write the same bytes on the wire).
 *
 *   node --import tsx bench/lib/serve-bare.ts '{"/path": {"size": 1024, "headers": [...]}}'
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { patternBody } from "./body.ts";
import { exitWithParent } from "./proc.ts";

interface Route {
  readonly size: number;
  /** Flat [name, value, …]. */
  readonly headers: string[];
}

const spec = JSON.parse(process.argv[2] ?? "{}") as Record<string, Route>;
const routes = new Map<string, { headers: string[]; body: Buffer }>();
for (const [path, r] of Object.entries(spec)) {
  routes.set(path, { headers: r.headers, body: patternBody(r.size) });
}

const server = createServer({ keepAliveTimeout: 5_000 }, (req, res) => {
  const route = routes.get(req.url ?? "");
  if (route === undefined) {
    res.writeHead(404, { "content-length": "0" });
    res.end();
    return;
  }
  res.writeHead(200, route.headers);
  res.end(route.body);
});
server.listen(0, "127.0.0.1", 4_096, () => {
  process.stdout.write(`READY ${(server.address() as AddressInfo).port}\n`);
});
exitWithParent(() => server.closeAllConnections());
