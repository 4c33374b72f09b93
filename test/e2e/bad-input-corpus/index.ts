// The corpus of test/e2e/bad-input.test.ts: every malformed request it sends, and the one status
// each must get (the test file's header says which status means what). Kept apart from the test so
// that the test reads as what is checked and how; this is only what is sent. (Not .test.ts files:
// vitest does not collect them.) The bytes are written by hand with test/support/wire/.
//
// methods.ts says how each method's requests are built, cases.ts what every case builds on; each
// numbered section (01-... to 11-...) builds its cases in a function, and `corpus` below
// concatenates them in that order, which is the order the test runs them in.
import { badUtf8 } from './01-bad-utf8';
import { wrongWireTypes } from './02-wrong-wire-types';
import { malformedWireFormat } from './03-malformed-wire-format';
import { oversize } from './04-oversize';
import { frameCardinality } from './05-frame-cardinality';
import { invalidUids } from './06-invalid-uids';
import { fieldRules } from './07-field-rules';
import { inexactStructs } from './07b-inexact-structs';
import { tokenRefs, validateTokens } from './08-tokens';
import { unknownUids } from './09-unknown-uids';
import { unknownFields } from './10-unknown-fields';
import { noKey } from './11-no-key';
import { acceptedCases } from './accepted';
import type { Case } from './cases';

export { type Case, type Ctx, type Expected, KEY } from './cases';
export { encode, type Method, METHOD_NAMES, METHODS, pathOf, type Request } from './methods';

/** The malformed requests, in the order the test runs them. */
export const corpus: Case[] = [
  ...badUtf8(),
  ...wrongWireTypes(),
  ...malformedWireFormat(),
  ...oversize(),
  ...frameCardinality(),
  ...invalidUids(),
  ...fieldRules(),
  ...inexactStructs(),
  ...tokenRefs(),
  ...validateTokens(),
  ...unknownUids(),
  ...unknownFields(),
  ...noKey(),
];

/** Well-formed requests with unknown fields (or skipped wire types) and valid read-only content: they succeed. */
export const accepted: Case[] = acceptedCases();
