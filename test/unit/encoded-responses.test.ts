import { expect, test } from 'vitest';
import { AuthTokenServiceService } from '../../gen/authtoken/v1/auth_token_service';
import { NO_DEVICE, newToken, publicView } from '../../src/domain/auth-tokens';
import { EncodedOnce, passingEncoded } from '../../src/grpc/encoded-responses';
import { authTokenMessage } from '../../src/grpc/messages';

const validate = AuthTokenServiceService.validateAuthToken;

function record(uid: string) {
  const now = new Date('2026-06-01T12:00:00.000Z');
  return { token: newToken(uid, NO_DEVICE, now).stored, user: { uid, name: uid, metadata: { plan: 'free' }, createTime: now, updateTime: now } };
}

test('a record keeps one public view, without its hash', () => {
  const { token } = record('views');
  expect(publicView(token)).toBe(publicView(token));
  expect(publicView(token)).not.toHaveProperty('tokenHash');
  expect(publicView({ ...token })).not.toBe(publicView(token));
});

test('the same token and user records are encoded once; a changed record or another user is encoded anew', () => {
  const { token, user } = record('encoded');
  const built: string[] = [];
  const responses = new EncodedOnce(validate.responseSerialize);
  const of = (t: typeof token, u: typeof user) =>
    responses.of(publicView(t), u, () => {
      built.push(`${t.tokenId} ${u.name}`);
      return { uid: u.uid, authToken: authTokenMessage(publicView(t)), user: u };
    });

  const first = of(token, user);
  expect(of(token, user)).toBe(first);
  expect(built).toHaveLength(1);

  const used = { ...token, lastUsedTime: new Date('2026-06-01T12:01:00.000Z') };
  const renamed = { ...user, name: 'renamed' };
  expect(validate.responseDeserialize(of(used, user)).authToken?.lastUsedTime).toEqual(used.lastUsedTime);
  expect(validate.responseDeserialize(of(token, renamed)).user?.name).toBe('renamed');
  expect(built).toHaveLength(3);
  expect(validate.responseDeserialize(first)).toEqual(validate.responseDeserialize(validate.responseSerialize({
    uid: 'encoded', authToken: authTokenMessage(publicView(token)), user,
  })));
});

test('a kept encoding owns its memory: it does not pin a shared slab of the Buffer pool', () => {
  const { token, user } = record('slab');
  const bytes = new EncodedOnce(validate.responseSerialize).of(publicView(token), user, () => ({
    uid: user.uid, authToken: authTokenMessage(publicView(token)), user,
  }));
  expect(bytes.byteLength).toBeGreaterThan(0);
  expect(bytes.buffer.byteLength).toBe(bytes.byteLength);
});

test('a serializer that passes encoded responses sends their bytes as they are, and encodes the rest', () => {
  const serialize = passingEncoded(validate.responseSerialize as (response: unknown) => Buffer);
  const response = { uid: 'u', authToken: undefined, user: undefined };
  const bytes = validate.responseSerialize(response);
  expect(serialize(bytes)).toBe(bytes);
  expect(serialize(response)).toEqual(bytes);
});
