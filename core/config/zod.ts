/**
 * The parts of zod the config schema uses, gathered in one object.
 *
 * `import { z } from "zod"` pulls the whole library into the Worker's bundle (about
 * 450 KB minified: every locale, every schema type), because `z` is a namespace object
 * a bundler cannot trim. Named imports can be tree-shaken; this module re-exposes them
 * under the familiar `z.` so the schema reads as usual. Add a function here when the
 * schema needs one.
 */
import { array, boolean, enum as enumOf, number, strictObject, string, union } from "zod";

export type { input, output, RefinementCtx } from "zod";

export const z = { array, boolean, enum: enumOf, number, strictObject, string, union };
