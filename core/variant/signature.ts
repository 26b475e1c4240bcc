/**
 * Signed transform URLs: with a secret configured, only URLs your own backend signed are
 * transformed, so nobody else can make the CDN produce (and cache) arbitrary variants.
 * This is the one check both tiers run: the edge refuses a forged URL before any cache
 * lookup or fetch, and the shield refuses one that reaches it directly. It uses WebCrypto
 * (`crypto.subtle`), which Node and workerd both provide, so the code is the same in both.
 *
 * The signature is HMAC-SHA256 over the canonical transform (transform-url.ts: full option
 * names, sorted, numbers normalised, `sig` left out) and the query string, base64url
 * without padding, carried as the option `sig=…`. Signing the canonical form lets the
 * edge rewrite a URL into that form without breaking its signature; `npm run sign-url`
 * prints a signed URL.
 *
 * The edge replaces `auto` values before it forwards (format=auto by the negotiated
 * format, width=auto and dpr=auto by what the Client Hints give), so a URL signed with
 * an `auto` is also accepted with each value that `auto` can become for it, and with no
 * other: the forms are listed by `signedForms`.
 */
import type { ImagesConfig } from "../config/schema.ts";
import { encodeBase64 } from "../http/sf/base64.ts";
import { autoDprChoices, autoWidthChoices } from "./client-hints.ts";
import { ImageError } from "./image-error.ts";
import { autoFormatChoices, formatTransformPath, type TransformUrl } from "./transform-url.ts";

export type SignatureCheck = "ok" | "missing" | "bad";

/** The text a transform's signature is computed over: its canonical path, then `?query`. */
export function signedMessage(prefix: string, transform: TransformUrl, query: string): string {
  const options = new Map(transform.options);
  options.delete("sig");
  const message = formatTransformPath(prefix, { options, source: transform.source });
  return query === "" ? message : `${message}?${query}`;
}

const encoder = new TextEncoder();

/** WebCrypto's key type, named without the DOM library (the shield compiles against Node's). */
type HmacKey = Awaited<ReturnType<typeof crypto.subtle.importKey>>;

/**
 * The HMAC key for a secret, imported once: a tier has one secret for its lifetime (a new
 * config brings a new one), so each check pays only for its HMACs. The key
 * itself is kept, not the import's promise: in workerd a pending promise belongs to the
 * request that started it, and another request should not wait on it; two first
 * requests that both import the key cost nothing worth saving.
 */
let imported: { readonly secret: string; readonly key: HmacKey } | null = null;

async function hmacKey(secret: string): Promise<HmacKey> {
  if (imported !== null && imported.secret === secret) return imported.key;
  const key = await crypto.subtle.importKey(
    "raw",
    encoder.encode(secret),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  imported = { secret, key };
  return key;
}

/** base64url without padding (RFC 4648 §5), as the `sig` option carries it. */
function base64url(bytes: Uint8Array): string {
  return encodeBase64(bytes).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

/** The `sig` value for a transform URL (its `sig` option, if any, is left out). */
export async function signTransform(
  prefix: string,
  transform: TransformUrl,
  query: string,
  secret: string,
): Promise<string> {
  const data = encoder.encode(signedMessage(prefix, transform, query));
  const mac = await crypto.subtle.sign("HMAC", await hmacKey(secret), data);
  return base64url(new Uint8Array(mac));
}

/**
 * Whether two signatures are equal, in time that does not depend on where they differ.
 * The expected one's length is public (43 characters for SHA-256), so answering a
 * length mismatch at once tells nothing about the secret.
 */
function sameSignature(given: string, expected: string): boolean {
  if (given.length !== expected.length) return false;
  let diff = 0;
  for (let at = 0; at < expected.length; at++) {
    diff |= given.charCodeAt(at) ^ expected.charCodeAt(at);
  }
  return diff === 0;
}

/**
 * Whether a transform URL carries a valid signature for one of the forms it may have
 * been signed in. Each form is compared in constant time; which form matched is not a
 * secret. `images.signing.secret` is the caller's to pass, so a tier that reads the
 * secret elsewhere (an environment variable, a Worker secret) passes that.
 */
export async function checkSignature(
  transform: TransformUrl,
  query: string,
  images: ImagesConfig,
  secret: string,
): Promise<SignatureCheck> {
  const given = transform.options.get("sig");
  if (given === undefined) return "missing";
  const prefix = images.transformPrefix;
  const [asSent, ...others] = signedForms(transform, images);
  // Most URLs arrive as they were signed (a client's, at the edge): one HMAC. The other
  // forms (what the edge forwards, or a forgery) are signed at once rather than in turn,
  // since Node runs each WebCrypto HMAC on its thread pool.
  if (
    asSent !== undefined &&
    sameSignature(given, await signTransform(prefix, asSent, query, secret))
  ) {
    return "ok";
  }
  const expected = await Promise.all(
    others.map((form) => signTransform(prefix, form, query, secret)),
  );
  let matched = false;
  for (const signature of expected) matched = sameSignature(given, signature) || matched;
  return matched ? "ok" : "bad";
}

/** The refusal for a URL whose signature is missing or wrong: 403, naming the sig option. */
export function signatureRefusal(check: Exclude<SignatureCheck, "ok">): ImageError {
  return check === "missing"
    ? new ImageError("missing_signature", "this CDN transforms signed URLs only", {
        option: "sig",
      })
    : new ImageError("bad_signature", "the signature does not match this URL", {
        option: "sig",
      });
}

/**
 * Every form a transform URL, as it arrives, may have been signed in, itself first:
 * with each concrete value that an `auto` resolves to put back as `auto`. A value is put
 * back only where resolution could have written it, so a signature covers exactly what
 * its `auto` options can become and nothing else:
 *
 * - format: a format auto can pick for this source (the configured modern formats, the
 *   original's), or none when the source's type is unknown (resolveAutoFormat);
 * - width: one of images.widths when hints are honoured, or no width (no hint);
 * - dpr: none, or one of images.dprs other than 1 when hints are honoured, but never
 *   beside a width a hint gave (resolveAutoSize leaves dpr out there).
 *
 * At most eight forms, each one HMAC.
 */
export function signedForms(transform: TransformUrl, images: ImagesConfig): TransformUrl[] {
  const options = transform.options;
  const format = options.get("format");
  const formats: (string | undefined)[] = [format];
  if (format !== "auto") {
    const auto = new Map(options);
    auto.set("format", "auto");
    const choices = autoFormatChoices({ options: auto, source: transform.source }, images);
    if (choices.some((choice) => choice.options.get("format") === format)) formats.push("auto");
  }
  const width = options.get("width");
  const widths: (string | undefined)[] = [width];
  const widthFromAuto = width !== undefined && isOneOf(width, autoWidthChoices(images));
  if (width === undefined || widthFromAuto) widths.push("auto");
  const dpr = options.get("dpr");
  const dprFromAuto = dpr !== undefined && isOneOf(dpr, autoDprChoices(images));

  const forms: TransformUrl[] = [];
  for (const formatForm of formats) {
    for (const widthForm of widths) {
      const dprs: (string | undefined)[] = [dpr];
      const hintedWidth = widthForm === "auto" && widthFromAuto;
      if (dpr === undefined || (dprFromAuto && !hintedWidth)) dprs.push("auto");
      for (const dprForm of dprs) {
        const form = new Map(options);
        setOrDelete(form, "format", formatForm);
        setOrDelete(form, "width", widthForm);
        setOrDelete(form, "dpr", dprForm);
        forms.push({ options: sortedByName(form), source: transform.source });
      }
    }
  }
  return forms;
}

/** Whether canonical number text names one of `values`. */
function isOneOf(text: string, values: readonly number[]): boolean {
  return text !== "auto" && values.includes(Number(text));
}

function setOrDelete(options: Map<string, string>, name: string, value: string | undefined): void {
  if (value === undefined) options.delete(name);
  else options.set(name, value);
}

function sortedByName(options: Map<string, string>): Map<string, string> {
  return new Map(
    [...options].sort(([left], [right]) => (left < right ? -1 : left > right ? 1 : 0)),
  );
}
