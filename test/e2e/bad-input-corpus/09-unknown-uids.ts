// 9. Well-formed requests naming users that do not exist.
import { type Case, UID_NOT_FOUND } from './cases';

export function unknownUids(): Case[] {
  const cases: Case[] = [];
  for (const method of ['GetUser', 'DeleteUser', 'CreateAuthToken', 'ListAuthTokens', 'FlushAuthTokens', 'ListArchivedAuthTokens'] as const) {
    for (const uid of ['bi-ghost', 'BI-GHOST']) {
      cases.push({ id: `${method}: unknown uid ${uid}`, method, category: 'unknown uid', expected: UID_NOT_FOUND, typed: () => ({ uid }) });
    }
  }
  return cases;
}
