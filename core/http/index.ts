export * from "./accept.ts";
export * from "./age.ts";
export * from "./cache-control.ts";
export * from "./cache-status.ts";
export * from "./dates.ts";
export * from "./etag.ts";
export * from "./structured-fields.ts";
export * from "./vary.ts";
