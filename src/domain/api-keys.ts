// API keys for the services that call this one, with CometChat-style scopes. The service is
// configured with key hashes only (name:scope:sha256hex); the key itself is shown once, by
// `npm run keys -- create`.
import { hash, timingSafeEqual } from 'node:crypto';
import { randomBase62 } from './token-format';

export const SCOPES = ['full', 'auth_only', 'validate', 'revoke'] as const;
export type Scope = (typeof SCOPES)[number];

/** The gRPC methods each scope may call; `full` may call all of them. */
const SCOPE_METHODS: Record<Exclude<Scope, 'full'>, readonly string[]> = {
  // What a login backend needs.
  auth_only: ['CreateUser', 'CreateAuthToken'],
  // What a chat gateway needs: the login check, and the revocations that end open sessions.
  validate: ['ValidateAuthToken', 'WatchAuthTokenEvents'],
  // What a secret scanner needs: revoking what it found, and nothing else.
  revoke: ['RevokeAuthTokens'],
};

export const API_KEY_PREFIX = 'cak_';
/** A key's name, as configured and as the keys CLI accepts it. */
export const API_KEY_NAME = /^[A-Za-z0-9_.-]{1,64}$/;
const SHA256_HEX = /^[0-9a-f]{64}$/;

export interface ConfiguredKey {
  name: string;
  scope: Scope;
  hash: Buffer;
}

export function generateApiKey(): string {
  return API_KEY_PREFIX + randomBase62(40);
}

export function hashApiKey(key: string): Buffer {
  return hash('sha256', key, 'buffer');
}

/** The configuration line for a key: what operators put in API_KEYS or API_KEYS_FILE. */
export function keyEntry(name: string, scope: Scope, key: string): string {
  return `${name}:${scope}:${hashApiKey(key).toString('hex')}`;
}

/** Parses entries separated by commas or newlines (blank lines and # comments ignored). */
export function parseKeyEntries(text: string): ConfiguredKey[] {
  return text
    .split('\n')
    .flatMap((line) => line.replace(/#.*/, '').split(','))
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '')
    .map((entry) => {
      const [name = '', scope = '', hex = '', ...rest] = entry.split(':');
      if (rest.length > 0 || !API_KEY_NAME.test(name) || !SCOPES.includes(scope as Scope) || !SHA256_HEX.test(hex)) {
        throw new Error(
          `invalid API key entry "${entry.slice(0, 40)}…": expected name:scope:sha256hex with scope one of ${SCOPES.join(', ')}`,
        );
      }
      return { name, scope: scope as Scope, hash: Buffer.from(hex, 'hex') };
    });
}

/** Bounds the memo of matched keys, whatever callers send. */
const MAX_MATCHED_KEYS = 1_000;

export class ApiKeys {
  /**
   * Keys presented before and found, so the next call skips hashing. Only keys that matched are
   * kept (one entry per configured key in use), never failures; so the lookup can tell a prober
   * nothing the constant-time comparison below would not.
   */
  private readonly matched = new Map<string, ConfiguredKey>();

  constructor(private readonly keys: readonly ConfiguredKey[]) {}

  get size(): number {
    return this.keys.length;
  }

  /** The configured key matching `presented`. Every configured hash is compared, in constant time. */
  find(presented: string): ConfiguredKey | undefined {
    const known = this.matched.get(presented);
    if (known) return known;
    const presentedHash = hashApiKey(presented);
    let found: ConfiguredKey | undefined;
    for (const key of this.keys) {
      if (timingSafeEqual(key.hash, presentedHash)) found = key;
    }
    if (found && this.matched.size < MAX_MATCHED_KEYS) this.matched.set(presented, found);
    return found;
  }

  static allows(key: ConfiguredKey, method: string): boolean {
    return key.scope === 'full' || SCOPE_METHODS[key.scope].includes(method);
  }
}
