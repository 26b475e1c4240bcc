// Types for `import { exports } from "cloudflare:workers"` in tests: the main module is
// the Worker in workers/index.ts (what `wrangler types` would generate).
declare namespace Cloudflare {
  interface GlobalProps {
    mainModule: typeof import("./index.ts");
  }
}
