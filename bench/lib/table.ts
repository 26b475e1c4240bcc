/** Statistics and the result table every shield benchmark prints. */

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** Nearest-rank percentile (p in 0..100) of unsorted samples. */
export function percentile(xs: readonly number[], p: number): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * s.length));
  return s[rank - 1]!;
}

export interface Row {
  readonly figure: string;
  readonly value: string;
  readonly baseline: string;
  readonly ratio: string;
  readonly target: string;
  /** true: PASS, false: MISS, undefined: no target (for reference). */
  readonly pass?: boolean | undefined;
}

export function printTable(title: string, rows: readonly Row[]): boolean {
  const head = ["figure", "shield", "baseline", "ratio", "target", "result"];
  const cells = rows.map((r) => [
    r.figure,
    r.value,
    r.baseline,
    r.ratio,
    r.target,
    r.pass === undefined ? "" : r.pass ? "PASS" : "MISS",
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: readonly string[]): string =>
    `| ${c.map((x, i) => (i === 0 ? x.padEnd(widths[i]!) : x.padStart(widths[i]!))).join(" | ")} |`;
  console.log(title);
  console.log("");
  console.log(line(head));
  console.log(
    `|${widths.map((w, i) => (i === 0 ? "-".repeat(w + 2) : `${"-".repeat(w + 1)}:`)).join("|")}|`,
  );
  for (const c of cells) console.log(line(c));
  console.log("");
  return rows.every((r) => r.pass !== false);
}

export const int = (x: number): string => Math.round(x).toLocaleString("en-US");
export const fixed = (x: number, digits = 1): string => x.toFixed(digits);
export const ratio = (a: number, b: number): string => (b === 0 ? "—" : `${(a / b).toFixed(2)}×`);
export const mib = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;

/** Fail the benchmark loudly: a figure measured over errors is no figure. */
export function fail(message: string): never {
  process.stderr.write(`\nFAIL: ${message}\n`);
  process.exit(1);
}
