// The 11 methods the corpus covers: their paths, how a request is encoded, and which fields of each
// are strings, Structs or required (the field numbers the hand-written bytes use).
import { AuthTokenServiceService } from '../../../gen/authtoken/v1/auth_token_service';
import { UserServiceService } from '../../../gen/authtoken/v1/user_service';

export const METHODS = {
  CreateUser: { service: 'authtoken.v1.UserService', def: UserServiceService.createUser },
  GetUser: { service: 'authtoken.v1.UserService', def: UserServiceService.getUser },
  DeleteUser: { service: 'authtoken.v1.UserService', def: UserServiceService.deleteUser },
  CreateAuthToken: { service: 'authtoken.v1.AuthTokenService', def: AuthTokenServiceService.createAuthToken },
  ListAuthTokens: { service: 'authtoken.v1.AuthTokenService', def: AuthTokenServiceService.listAuthTokens },
  GetAuthToken: { service: 'authtoken.v1.AuthTokenService', def: AuthTokenServiceService.getAuthToken },
  UpdateAuthToken: { service: 'authtoken.v1.AuthTokenService', def: AuthTokenServiceService.updateAuthToken },
  DeleteAuthToken: { service: 'authtoken.v1.AuthTokenService', def: AuthTokenServiceService.deleteAuthToken },
  FlushAuthTokens: { service: 'authtoken.v1.AuthTokenService', def: AuthTokenServiceService.flushAuthTokens },
  ValidateAuthToken: { service: 'authtoken.v1.AuthTokenService', def: AuthTokenServiceService.validateAuthToken },
  ListArchivedAuthTokens: { service: 'authtoken.v1.AuthTokenService', def: AuthTokenServiceService.listArchivedAuthTokens },
} as const;
export type Method = keyof typeof METHODS;
export const METHOD_NAMES = Object.keys(METHODS) as Method[];
export const pathOf = (method: Method) => `/${METHODS[method].service}/${method}`;

/** A request as the generated client takes it (camelCase, partial). */
export type Request = Record<string, unknown>;

/** The proto encoding of a (partial) request, exactly as the generated client sends it. */
export function encode(method: Method, request: Request): Buffer {
  const def = METHODS[method].def as unknown as {
    requestSerialize(value: unknown): Buffer;
    requestDeserialize(bytes: Buffer): Request;
  };
  return def.requestSerialize({ ...def.requestDeserialize(Buffer.alloc(0)), ...request });
}

/** Field numbers of each method's string fields (camelCase name -> number). */
export const STRING_FIELDS: Record<Method, Record<string, number>> = {
  CreateUser: { uid: 1, name: 2 },
  GetUser: { uid: 1 },
  DeleteUser: { uid: 1 },
  CreateAuthToken: { uid: 1, platform: 3, deviceId: 4, userAgent: 5 },
  ListAuthTokens: { uid: 1, pageToken: 3 },
  GetAuthToken: { uid: 1, authToken: 2 },
  UpdateAuthToken: { uid: 1, authToken: 2, platform: 3, userAgent: 4 },
  DeleteAuthToken: { uid: 1, authToken: 2 },
  FlushAuthTokens: { uid: 1 },
  ValidateAuthToken: { authToken: 1, platform: 2, deviceId: 3, userAgent: 4 },
  ListArchivedAuthTokens: { uid: 1, pageToken: 3 },
};
/** The google.protobuf.Struct field of the methods that have one. */
export const STRUCT_FIELDS: Partial<Record<Method, [string, number]>> = {
  CreateUser: ['metadata', 3],
  CreateAuthToken: ['appInfo', 6],
  UpdateAuthToken: ['appInfo', 5],
  ValidateAuthToken: ['appInfo', 5],
};
/** The field every request needs (camelCase, number, proto name). */
export const REQUIRED: Record<Method, [string, number, string]> = Object.fromEntries(
  METHOD_NAMES.map((m) => [m, m === 'ValidateAuthToken' ? ['authToken', 1, 'auth_token'] : ['uid', 1, 'uid']]),
) as Record<Method, [string, number, string]>;
export const UID_METHODS = METHOD_NAMES.filter((m) => m !== 'ValidateAuthToken');
export const TOKEN_REF_METHODS = ['GetAuthToken', 'UpdateAuthToken', 'DeleteAuthToken'] as const;
