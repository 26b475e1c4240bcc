#!/usr/bin/env node
// `npm start`: the full local stack. Until the origin shield and the edge Worker land,
// this prints what it will run, so that the quick start stays true at every step.
const plan = [
  ["demo origin", "http://127.0.0.1:9000", "examples/ (lands with the shield)"],
  ["origin shield", "http://127.0.0.1:8080", "npm run shield -- --origin http://127.0.0.1:9000"],
  ["edge Worker", "http://127.0.0.1:8787", "wrangler dev --ip 127.0.0.1 --port 8787"],
];
console.log("The local stack will run these three processes:\n");
for (const [what, url, how] of plan) console.log(`  ${what.padEnd(14)} ${url.padEnd(24)} ${how}`);
console.log(
  "\nThe caching core (core/) is in place and tested; the shield and the edge are being built.",
);
console.log("Today: `npm test` runs every test, `npm run bench` measures the core,");
console.log("and `npm run dev:edge` starts the Worker (health at /__edge/health).");
