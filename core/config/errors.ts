/**
 * ConfigError: bad configuration fails at startup with a message that names every bad
 * field by its path (`rules[2].ttl.floor: must be ≤ cap`), so the operator can fix all
 * of them in one go.
 */

export interface ConfigIssue {
  /** Where the problem is, e.g. `origins[0].url`; "" for the document itself. */
  readonly path: string;
  readonly message: string;
}

export class ConfigError extends Error {
  override readonly name = "ConfigError";
  readonly issues: readonly ConfigIssue[];
  readonly source: string | undefined;

  constructor(issues: readonly ConfigIssue[], source?: string) {
    const where = source === undefined ? "" : ` (${source})`;
    const lines = issues.map((i) => `  ${i.path === "" ? "(config)" : i.path}: ${i.message}`);
    super(`Invalid CDN config${where}:\n${lines.join("\n")}`);
    this.issues = issues;
    this.source = source;
  }
}

/** `["rules", 2, "ttl", "floor"]` → `rules[2].ttl.floor`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const seg of path) {
    if (typeof seg === "number") out += `[${seg}]`;
    else out += out === "" ? String(seg) : `.${String(seg)}`;
  }
  return out;
}

/** The subset of a zod issue this module reads. */
export interface RawIssue {
  readonly path: readonly PropertyKey[];
  readonly message: string;
  readonly code?: string;
  readonly keys?: readonly string[];
}

export function issuesToConfigError(issues: readonly RawIssue[], source?: string): ConfigError {
  const out: ConfigIssue[] = [];
  for (const issue of issues) {
    if (issue.code === "unrecognized_keys" && issue.keys !== undefined) {
      // One line per unknown key, at the key's own path, so a typo names itself.
      for (const k of issue.keys) {
        out.push({ path: formatPath([...issue.path, k]), message: "unknown key" });
      }
    } else {
      out.push({ path: formatPath(issue.path), message: issue.message });
    }
  }
  return new ConfigError(out, source);
}
