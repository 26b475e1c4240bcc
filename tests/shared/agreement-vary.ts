/**
 * Agreement cases for Vary matching: both tiers select a stored response by the same
 * normalised request values, so an Accept-Language written another way is a hit at the
 * edge exactly when it is one at the shield (tests/shared/agreement.ts runs these in
 * Node and workerd).
 */
import { normaliseVaryValue, varyMatches } from "../../core/policy/vary.ts";
import type { AgreementCase } from "./agreement.ts";

/** Does a request with `asked` select the response stored for `stored`? */
function selects(stored: string, asked: string): boolean {
  const capture = {
    fields: ["accept-language"],
    values: [normaliseVaryValue("accept-language", stored)],
    raw: [stored],
  };
  return varyMatches(capture, new Headers({ "accept-language": asked }));
}

export const varyAgreementCases: readonly AgreementCase[] = [
  {
    name: "Vary: Accept-Language values normalised only where no origin could answer differently",
    run: () => [
      normaliseVaryValue("accept-language", "EN-us , en ; Q = 0.80, fr;q=1.0,,de;q=0.0"),
      selects("en-US, en;q=0.8", "en-us,en;q=0.800"),
      selects("en;q=1", "en"),
      selects("en, fr", "fr, en"),
      selects("fr;q=0", "fr"),
    ],
    expected: ["en-us,en;q=0.8,fr,de;q=0", true, true, false, false],
  },
];
