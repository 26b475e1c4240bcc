/**
 * Signed URLs and Client Hints in the agreement table (tests/shared/agreement.ts): the
 * edge checks a transform URL's signature and resolves width=auto and dpr=auto before it
 * keys and forwards (workers/request/image-request.ts), and the shield does the same for
 * a request that reaches it (origin-shield/image/route.ts). Both run core/variant's code,
 * WebCrypto's HMAC included, and must give the same answers, or a URL one tier accepts
 * the other would refuse, or the two would key one image under two names.
 */
import { parseConfig } from "../../core/config/index.ts";
import {
  checkSignature,
  clientHintsAdvertisement,
  formatTransformPath,
  parseTransformPath,
  readClientHints,
  resolveAutoFormat,
  resolveAutoSize,
  signatureRefusal,
  signTransform,
  type TransformUrl,
} from "../../core/variant/index.ts";

/** A row of the agreement table, as AgreementCase in agreement.ts (see agreement-variant.ts). */
interface AgreementCase {
  readonly name: string;
  readonly run: () => unknown;
  readonly expected: unknown;
}

const SECRET = "test-secret-0123456789abcdef-0123456789";
const origins = [{ name: "shop", url: "http://127.0.0.1:9000", hosts: ["shop.example"] }];
const images = parseConfig({ origins, images: { signing: { secret: SECRET } } }).images;
const advertising = parseConfig({
  origins,
  images: { clientHints: { advertise: true, critical: true } },
}).images;

function parsed(path: string): TransformUrl {
  const result = parseTransformPath(path, "/img/");
  if (!result.ok) throw new Error(`test URL does not parse: ${result.message}`);
  return result.transform;
}

/** `path` with its sig option, as `npm run sign-url` writes it. */
async function signed(path: string, query = ""): Promise<string> {
  const transform = parsed(path);
  const options = new Map(transform.options);
  options.set("sig", await signTransform("/img/", transform, query, SECRET));
  return formatTransformPath("/img/", { options, source: transform.source });
}

const check = (path: string, query = "") => checkSignature(parsed(path), query, images, SECRET);

/** The URL the edge forwards for `path`: its autos resolved from Accept and the hints. */
function forwarded(path: string, accept: string, fields: Record<string, string>): string {
  const formatted = resolveAutoFormat(parsed(path), accept, images).transform;
  const sized = resolveAutoSize(formatted, readClientHints(new Headers(fields)), images);
  return formatTransformPath("/img/", sized.transform);
}

function resolvedWith(path: string, fields: Record<string, string>) {
  const out = resolveAutoSize(parsed(path), readClientHints(new Headers(fields)), images);
  return [formatTransformPath("/img/", out.transform), out.vary];
}

const FORGED = `sig=${"A".repeat(43)}`;
const WIDTH_VARY = [
  "Sec-CH-Width",
  "Width",
  "Sec-CH-Viewport-Width",
  "Viewport-Width",
  "Sec-CH-DPR",
  "DPR",
];

export const imageAgreementCases: readonly AgreementCase[] = [
  {
    name: "signature: HMAC-SHA256 of the canonical path and query, base64url, from WebCrypto",
    // The value another HMAC implementation gives (tests/core/variant/signature.test.ts).
    run: () => signTransform("/img/", parsed("/img/w=640,f=webp/a.jpg"), "v=1", SECRET),
    expected: "1Db1CmYQglwOL5WbFjLNUrHkClNz7uAyxAKqoRUvs-Q",
  },
  {
    name: "signature: valid, forged, missing, and with a tampered option",
    run: async () => {
      const valid = await signed("/img/fit=cover,width=640/photos/a.jpg", "v=1");
      return Promise.all([
        check(valid, "v=1"),
        check(`/img/fit=cover,${FORGED},width=640/photos/a.jpg`, "v=1"),
        check("/img/fit=cover,width=640/photos/a.jpg", "v=1"),
        check(valid.replace("width=640", "width=641"), "v=1"),
        check(valid.replace("fit=cover", "fit=crop"), "v=1"),
        check(valid, "v=2"),
        check(valid.replace("/photos/a.jpg", "/photos/b.jpg"), "v=1"),
      ]);
    },
    expected: ["ok", "bad", "missing", "bad", "bad", "bad", "bad"],
  },
  {
    name: "signature: a URL signed with autos is accepted as the edge forwards it, not with other values",
    run: async () => {
      const auto = await signed("/img/dpr=auto,format=auto,width=auto/a.jpg");
      const chrome = "image/avif,image/webp,*/*";
      return Promise.all([
        check(auto),
        check(forwarded(auto, chrome, { "sec-ch-width": "700", "sec-ch-dpr": "2" })),
        check(forwarded(auto, "*/*", { "sec-ch-dpr": "3" })),
        check(forwarded(auto, "image/webp", {})),
        check(auto.replace("width=auto", "width=700")),
        check(auto.replace("format=auto", "format=png")),
        check(auto.replace("dpr=auto", "dpr=2.5")),
      ]);
    },
    expected: ["ok", "ok", "ok", "ok", "bad", "bad", "bad"],
  },
  {
    name: "signature: the refusals, as both tiers answer them",
    run: () =>
      [signatureRefusal("missing"), signatureRefusal("bad")].map((e) => [e.status, e.toJSON()]),
    expected: [
      [
        403,
        {
          error: "missing_signature",
          option: "sig",
          message: "this CDN transforms signed URLs only",
        },
      ],
      [
        403,
        { error: "bad_signature", option: "sig", message: "the signature does not match this URL" },
      ],
    ],
  },
  {
    name: "client hints: width=auto and dpr=auto resolve to steps, with the fields they vary on",
    run: () => [
      resolvedWith("/img/width=auto/a.jpg", { "sec-ch-width": "700" }),
      resolvedWith("/img/width=auto/a.jpg", { "viewport-width": "400", dpr: "2" }),
      resolvedWith("/img/dpr=auto,width=auto/a.jpg", { "sec-ch-width": "1000", "sec-ch-dpr": "2" }),
      resolvedWith("/img/dpr=auto,width=320/a.jpg", { "sec-ch-dpr": "1.75" }),
      resolvedWith("/img/fit=cover,width=auto/a.jpg", {}),
      resolvedWith("/img/width=auto/a.jpg", {}),
    ],
    expected: [
      ["/img/width=720/a.jpg", WIDTH_VARY],
      ["/img/width=800/a.jpg", WIDTH_VARY],
      ["/img/width=1080/a.jpg", WIDTH_VARY],
      ["/img/dpr=2,width=320/a.jpg", ["Sec-CH-DPR", "DPR"]],
      ["/img/fit=cover/a.jpg", WIDTH_VARY],
      ["/img/width=auto/a.jpg", WIDTH_VARY],
    ],
  },
  {
    name: "client hints: hostile values are ignored or clamped to the largest step",
    run: () => [
      readClientHints(new Headers({ "sec-ch-width": "-5", "sec-ch-dpr": "1e308", width: "x" })),
      readClientHints(new Headers({ "sec-ch-width": "9".repeat(10_000), dpr: "0" })),
      resolvedWith("/img/dpr=auto,width=auto/a.jpg", { "sec-ch-width": "999999999" }),
      resolvedWith("/img/dpr=auto,width=320/a.jpg", { "sec-ch-dpr": "999.5" }),
    ],
    expected: [
      { width: null, viewportWidth: null, dpr: null },
      { width: null, viewportWidth: null, dpr: null },
      ["/img/width=3840/a.jpg", WIDTH_VARY],
      ["/img/dpr=3,width=320/a.jpg", ["Sec-CH-DPR", "DPR"]],
    ],
  },
  {
    name: "client hints: Accept-CH and Critical-CH on HTML only, merged with the origin's",
    run: () => [
      clientHintsAdvertisement(
        "text/html; charset=utf-8",
        { acceptCh: null, criticalCh: null },
        advertising,
      ),
      clientHintsAdvertisement(
        "text/html",
        { acceptCh: "Sec-CH-UA-Model", criticalCh: null },
        advertising,
      ),
      clientHintsAdvertisement("image/jpeg", { acceptCh: null, criticalCh: null }, advertising),
      clientHintsAdvertisement("text/html", { acceptCh: null, criticalCh: null }, images),
    ],
    expected: [
      {
        acceptCh: "Sec-CH-DPR, Sec-CH-Width, Sec-CH-Viewport-Width",
        criticalCh: "Sec-CH-DPR, Sec-CH-Width, Sec-CH-Viewport-Width",
      },
      {
        acceptCh: "Sec-CH-UA-Model, Sec-CH-DPR, Sec-CH-Width, Sec-CH-Viewport-Width",
        criticalCh: "Sec-CH-DPR, Sec-CH-Width, Sec-CH-Viewport-Width",
      },
      null,
      null,
    ],
  },
];
