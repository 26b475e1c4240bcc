/**
 * The files under deploy/ agree with the shield they run: the example config is valid,
 * each compose shield has a disk volume of its own where that config puts the disk tier,
 * every way of stopping a shield waits longer than its drain, and the systemd unit keeps
 * its hardening. (Docker and systemd themselves are not needed: the image build is
 * mirrored step by step in shield-build.test.ts.)
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseConfig } from "../../core/config/index.ts";
import { ROOT } from "../helpers/processes.ts";

const read = (path: string) => readFileSync(join(ROOT, path), "utf8");
const compose = read("deploy/compose.yaml");
const unit = read("deploy/edge-cdn-shield.service");
const dockerfile = read("deploy/Dockerfile");
const example = parseConfig(JSON.parse(read("deploy/shield.example.json")), "shield.example.json");

/** How long origin-shield/main.ts lets in-flight requests finish after SIGTERM, ms. */
const drainMs = Number(
  /const DRAIN_MS = ([\d_]+);/.exec(read("origin-shield/main.ts"))?.[1]?.replaceAll("_", ""),
);

describe("deploy/", () => {
  it("ships a valid shield config whose disk tier is the directory the image and unit provide", () => {
    expect(example.shield.disk?.dir).toBe("/var/cache/edge-cdn");
    expect(dockerfile).toContain("VOLUME /var/cache/edge-cdn");
    expect(unit).toMatch(/^CacheDirectory=edge-cdn$/m);
  });

  it("composes three shields and Redis, each shield with its own disk volume", () => {
    for (const node of [1, 2, 3]) {
      expect(compose).toMatch(new RegExp(`^  shield-${node}:\\n    <<: \\*shield$`, "m"));
      expect(compose).toContain(`- shield-${node}-disk:/var/cache/edge-cdn`);
      expect(compose).toMatch(new RegExp(`^  shield-${node}-disk:$`, "m"));
    }
    expect(compose).toContain("SHIELD_REDIS_URL: redis://redis:6379");
    expect(compose).toMatch(/^ {2}redis:\n {4}image: redis:/m);
    expect(compose).toContain("read_only: true");
  });

  it("gives the drain longer than it takes, whichever way the shield is stopped", () => {
    expect(drainMs).toBe(10_000);
    const grace = Number(/stop_grace_period: (\d+)s/.exec(compose)?.[1]) * 1000;
    const stopTimeout = Number(/^TimeoutStopSec=(\d+)s$/m.exec(unit)?.[1]) * 1000;
    expect(grace).toBeGreaterThan(drainMs);
    expect(stopTimeout).toBeGreaterThan(drainMs);
    expect(read("deploy/README.md")).toContain("--stop-timeout 15");
    expect(unit).toMatch(/^KillSignal=SIGTERM$/m);
    expect(dockerfile).toMatch(/^STOPSIGNAL SIGTERM$/m);
  });

  it("runs the unit as the bundle on every interface, hardened and restarted on failure", () => {
    expect(unit).toMatch(
      /^ExecStart=\/usr\/bin\/node \/opt\/edge-cdn\/dist\/origin-shield\/main\.mjs .*--host 0\.0\.0\.0/m,
    );
    for (const line of [
      "DynamicUser=yes",
      "ProtectSystem=strict",
      "ProtectHome=yes",
      "PrivateTmp=yes",
      "NoNewPrivileges=yes",
      "CapabilityBoundingSet=",
      "Restart=on-failure",
      "KillMode=mixed",
    ]) {
      expect(unit, line).toMatch(new RegExp(`^${line}$`, "m"));
    }
    // V8 writes the machine code it runs: this one would stop node at start.
    expect(unit).not.toMatch(/^MemoryDenyWriteExecute=/m);
  });

  it("documents every file it holds in deploy/README.md", () => {
    const readme = read("deploy/README.md");
    for (const file of readdirSync(join(ROOT, "deploy"))) {
      if (file !== "README.md") expect(readme, file).toContain(`\`${file}\``);
    }
  });
});
