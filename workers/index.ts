import { Hono } from "hono";

export interface Env {
  CDN_CONFIG?: string;
}

const app = new Hono<{ Bindings: Env }>();

app.get("/__edge/health", (c) => c.json({ status: "ok" }));

export default app;
