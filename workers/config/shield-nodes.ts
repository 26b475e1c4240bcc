import { shieldNodeUrl } from "../../core/config/edge-schema.ts";
import { ConfigError } from "../../core/config/errors.ts";

/**
 * The SHIELD_NODES var: comma-separated shield base URLs, validated like
 * `edge.shieldNodes`. Undefined when the var is absent or blank (the config's list
 * applies); a ConfigError naming each bad entry by position otherwise.
 */
export function parseShieldNodesVar(text: string | undefined): string[] | undefined | ConfigError {
  if (text === undefined || text.trim() === "") return undefined;
  const nodes: string[] = [];
  const issues: { path: string; message: string }[] = [];
  text
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "")
    .forEach((raw, i) => {
      const parsed = shieldNodeUrl.safeParse(raw);
      if (!parsed.success) {
        for (const issue of parsed.error.issues)
          issues.push({ path: `[${i}]`, message: issue.message });
      } else if (nodes.includes(parsed.data)) {
        issues.push({ path: `[${i}]`, message: `duplicate shield node "${raw}"` });
      } else {
        nodes.push(parsed.data);
      }
    });
  return issues.length > 0 ? new ConfigError(issues, "SHIELD_NODES") : nodes;
}
