/**
 * The parts of zod the config schema uses, gathered in one object `z`, built on `zod/mini`.
 *
 * `import { z } from "zod"` pulls the whole library into the Worker's bundle (about
 * 450 KB minified), and even named imports from "zod" keep about 90 KB: every classic
 * schema's prototype carries the full method set (JSON Schema, every string format, the
 * locale). `zod/mini` is the same engine (the same parsing, issues, `toJSONSchema` and
 * registry) with a functional API that a bundler trims to what is used: the Worker is
 * about 14 KiB (a fifth) smaller gzipped, building the schemas takes about 0.6× as long
 * and the first parse 0.3 to 0.5× (`npm run bench:libraries`).
 *
 * The schemas keep zod's familiar chained style (`z.number().int().min(0).default(1)
 * .describe("…")`): `chain` gives each mini schema the chain methods the schemas use, each
 * doing what zod's classic method does (zod/v4/classic/schemas.js), so the parsed values,
 * the issues and their messages, the types and the generated reference are unchanged. Add
 * a method here when a schema needs one.
 */
import {
  _default,
  config,
  type core,
  globalRegistry,
  int,
  maximum,
  maxLength,
  array as miniArray,
  boolean as miniBoolean,
  enum as miniEnum,
  minimum,
  number as miniNumber,
  strictObject as miniStrictObject,
  string as miniString,
  union as miniUnion,
  minLength,
  optional,
  pipe,
  positive,
  prefault,
  refine,
  regex,
  startsWith,
  superRefine,
  transform,
  util,
  type ZodMiniDefault,
  type ZodMiniOptional,
  type ZodMiniPipe,
  type ZodMiniPrefault,
  type ZodMiniTransform,
} from "zod/mini";
import en from "zod/v4/locales/en.js";

export type { input, output } from "zod/mini";
export type RefinementCtx<T = unknown> = core.$RefinementCtx<T>;

// Classic zod loads its English messages on first use; mini leaves that to the caller.
// Without them an issue with no message of its own would read "Invalid input".
config(en());

type Out<S extends core.SomeType> = core.output<S>;
type Params = string | core.$ZodCustomParams;

/** The chain methods the config schema uses, typed as zod's classic ones. */
interface ChainMethods<S extends core.SomeType> {
  readonly description: string | undefined;
  optional(): Chain<ZodMiniOptional<S>>;
  default(value: Exclude<Out<S>, undefined>): Chain<ZodMiniDefault<S>>;
  prefault(value: core.input<S>): Chain<ZodMiniPrefault<S>>;
  describe(description: string): Chain<S>;
  refine(check: (value: Out<S>) => unknown, params?: Params): Chain<S>;
  superRefine(refinement: (value: Out<S>, ctx: RefinementCtx<Out<S>>) => void): Chain<S>;
  transform<O>(
    fn: (value: Out<S>, ctx: RefinementCtx<Out<S>>) => O,
  ): Chain<ZodMiniPipe<S, ZodMiniTransform<Awaited<O>, Out<S>>>>;
  /** numbers */
  int(params?: string | core.$ZodCheckNumberFormatParams): Chain<S>;
  positive(params?: string | core.$ZodCheckGreaterThanParams): Chain<S>;
  /** numbers: the value; strings and arrays: the length (as in classic zod) */
  min(bound: number, params?: string | core.$ZodCheckGreaterThanParams): Chain<S>;
  max(bound: number, params?: string | core.$ZodCheckLessThanParams): Chain<S>;
  /** strings */
  regex(pattern: RegExp, params?: string | core.$ZodCheckRegexParams): Chain<S>;
  startsWith(prefix: string, params?: string | core.$ZodCheckStartsWithParams): Chain<S>;
}

export type Chain<S extends core.SomeType> = S & ChainMethods<S>;

type Mini = core.$ZodType & {
  clone(def?: core.$ZodTypeDef, params?: { parent: boolean }): Mini;
};

const isNumber = (s: Mini): boolean => s._zod.def.type === "number";

/**
 * Classic zod's `check`: the clone's def is merged with `mergeDefs`, which keeps a default's
 * `defaultValue` getter (a fresh copy of the default on every parse). zod/mini's own `check`
 * spreads the def, which reads the getter once, so a `.default([]).superRefine(…)` would hand
 * every parse the same array.
 */
function check(s: Mini, ...checks: core.$ZodCheck<never>[]): Mini {
  const def = s._zod.def;
  return s.clone(util.mergeDefs(def, { checks: [...(def.checks ?? []), ...checks] }), {
    parent: true,
  });
}

// One object of methods, shared: `chain` defines its properties on each schema.
const methods: ChainMethods<core.SomeType> & ThisType<Mini> = {
  optional() {
    return chain(optional(this));
  },
  default(value) {
    return chain(_default(this, value as never));
  },
  prefault(value) {
    return chain(prefault(this, value as never));
  },
  get description(): string | undefined {
    return globalRegistry.get(this)?.description;
  },
  describe(description) {
    const cl = this.clone();
    globalRegistry.add(cl, { description });
    return chain(cl);
  },
  refine(fn, params) {
    return chain(check(this, refine(fn, params)));
  },
  superRefine(refinement) {
    return chain(check(this, superRefine(refinement)));
  },
  transform(fn) {
    return chain(pipe(this, transform(fn as (value: unknown) => unknown))) as never;
  },
  int(params) {
    return chain(check(this, int(params) as never));
  },
  positive(params) {
    return chain(check(this, positive(params)));
  },
  min(bound, params) {
    return chain(
      check(this, isNumber(this) ? minimum(bound, params) : minLength(bound, params as never)),
    );
  },
  max(bound, params) {
    return chain(
      check(this, isNumber(this) ? maximum(bound, params) : maxLength(bound, params as never)),
    );
  },
  regex(pattern, params) {
    return chain(check(this, regex(pattern, params)));
  },
  startsWith(prefix, params) {
    return chain(check(this, startsWith(prefix, params)));
  },
};

// Not enumerable, as methods on a prototype are not.
const descriptors = Object.fromEntries(
  Object.entries(Object.getOwnPropertyDescriptors(methods)).map(([k, d]) => [
    k,
    { ...d, enumerable: false },
  ]),
);

function chain<S extends core.SomeType>(schema: S): Chain<S> {
  return Object.defineProperties(schema, descriptors) as unknown as Chain<S>;
}

export const z = {
  array<T extends core.SomeType>(element: T, params?: string | core.$ZodArrayParams) {
    return chain(miniArray(element, params));
  },
  boolean(params?: string | core.$ZodBooleanParams) {
    return chain(miniBoolean(params));
  },
  enum<const T extends readonly string[]>(values: T, params?: string | core.$ZodEnumParams) {
    return chain(miniEnum(values, params));
  },
  number(params?: string | core.$ZodNumberParams) {
    return chain(miniNumber(params));
  },
  strictObject<T extends core.$ZodLooseShape>(shape: T, params?: string | core.$ZodObjectParams) {
    return chain(miniStrictObject(shape, params));
  },
  string(params?: string | core.$ZodStringParams) {
    return chain(miniString(params));
  },
  union<const T extends readonly core.SomeType[]>(
    options: T,
    params?: string | core.$ZodUnionParams,
  ) {
    return chain(miniUnion(options, params));
  },
};
