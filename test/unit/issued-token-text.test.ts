// The ISSUED event's record in the user document (storage/documents.ts): the string the atomic
// writes set, with a device id that may itself hold the separator, and the object that writes
// before them set, which a watch resuming from an older position still meets in the oplog.
import { expect, test } from 'vitest';
import { issuedTokenText, parseIssuedToken } from '../../src/storage/documents';

test('lastIssued reads back what was written, a device id with "|" included', () => {
  const token = { id: 'tid_abc', deviceId: 'phone|2|x', createTime: new Date(1_767_000_000_123) };
  expect(parseIssuedToken(issuedTokenText(token))).toEqual({ id: 'tid_abc', deviceId: 'phone|2|x', time: token.createTime });
  expect(parseIssuedToken(issuedTokenText({ ...token, deviceId: '' }))).toEqual({ id: 'tid_abc', deviceId: '', time: token.createTime });
});

test('a lastIssued object written before the atomic writes is read as it is', () => {
  const legacy = { id: 'tid_old', deviceId: 'd', time: new Date(1_700_000_000_000) };
  expect(parseIssuedToken(legacy)).toEqual(legacy);
});
