// Accepted: unknown fields and skipped wire types with valid, read-only content.
import { i64Field, lenField, varintField } from '../../support/wire/protobuf-writer';
import { type Case, OK, safeBase } from './cases';
import { encode } from './methods';
import { UNKNOWN_FIELDS } from './10-unknown-fields';

export function acceptedCases(): Case[] {
  const cases: Case[] = [];
  for (const method of ['GetUser', 'ListAuthTokens', 'GetAuthToken', 'ListArchivedAuthTokens'] as const) {
    for (const [name, unknown] of Object.entries(UNKNOWN_FIELDS)) {
      cases.push({
        id: `${method}: unknown ${name}`,
        method,
        category: 'accepted',
        expected: OK,
        bytes: (c) => Buffer.concat([unknown, encode(method, safeBase(method, c)), unknown]),
      });
    }
  }
  for (const method of ['ListAuthTokens', 'ListArchivedAuthTokens'] as const) {
    cases.push(
      { id: `${method}: page_size sent length-delimited`, method, category: 'accepted', expected: OK, bytes: () => Buffer.concat([lenField(1, 'bi-seed'), lenField(2, 'x')]) },
      { id: `${method}: page_size sent as fixed64`, method, category: 'accepted', expected: OK, bytes: () => Buffer.concat([lenField(1, 'bi-seed'), i64Field(2)]) },
      { id: `${method}: page_token sent as a varint`, method, category: 'accepted', expected: OK, bytes: () => Buffer.concat([lenField(1, 'bi-seed'), varintField(3, 5)]) },
    );
  }
  return cases;
}
