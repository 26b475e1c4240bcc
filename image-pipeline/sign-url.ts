/**
 * `npm run sign-url -- [--config FILE] <transform URL>`: print a transform URL signed
 * with IMAGE_SIGNING_SECRET (or images.signing.secret from --config), in the canonical
 * form both tiers check. Your backend can do the same with signTransform (core/variant,
 * or ./signing.ts without awaiting), or with any HMAC-SHA256: see README "Signed
 * transform URLs".
 */
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { parseConfig } from "../core/config/index.ts";
import { normaliseUrl } from "../core/key/index.ts";
import { formatTransformPath, parseTransformPath, signTransform } from "../core/variant/index.ts";

const USAGE = `Usage: IMAGE_SIGNING_SECRET=… npm run sign-url -- [--config FILE] /img/<options>/<path>[?query]

Prints the URL with its sig option, in canonical form (full option names, sorted).
A full URL (https://host/img/…) keeps its scheme and host.`;

async function main(argv: string[]): Promise<number> {
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args: argv,
      options: { config: { type: "string" }, help: { type: "boolean" } },
      allowPositionals: true,
    });
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n${USAGE}\n`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help === true || positionals.length !== 1) {
    process.stderr.write(`${USAGE}\n`);
    return values.help === true ? 0 : 2;
  }
  const file = values.config as string | undefined;
  const raw: Record<string, unknown> =
    file === undefined ? {} : (JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown>);
  const config = parseConfig(
    { origins: [{ name: "any", url: "http://127.0.0.1", hosts: ["*"] }], ...raw },
    file ?? "defaults",
  );
  const secret = process.env.IMAGE_SIGNING_SECRET || config.images.signing.secret;
  if (secret === undefined || secret.length < 32) {
    process.stderr.write("IMAGE_SIGNING_SECRET (at least 32 characters) is not set\n");
    return 2;
  }
  const input = positionals[0] as string;
  const absolute = /^https?:\/\//i.test(input);
  const url = normaliseUrl(absolute ? input : `http://localhost${input}`, config.key);
  const prefix = config.images.transformPrefix;
  const t = parseTransformPath(url.path, prefix);
  if (!t.ok) {
    process.stderr.write(`${t.message}\n`);
    return 2;
  }
  const options = new Map(t.transform.options);
  options.set("sig", await signTransform(prefix, t.transform, url.query, secret));
  const sorted = new Map([...options].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  const path = formatTransformPath(prefix, { options: sorted, source: t.transform.source });
  const query = url.query === "" ? "" : `?${url.query}`;
  process.stdout.write(`${absolute ? `${url.scheme}://${url.host}` : ""}${path}${query}\n`);
  return 0;
}

process.exitCode = await main(process.argv.slice(2));
