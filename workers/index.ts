import { createEdgeApp } from "./app.ts";

/** The edge Worker (wrangler.toml `main`): a Hono app, see ./app.ts. */
export default createEdgeApp();
