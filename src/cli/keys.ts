// `npm run keys -- create --scope <full|auth_only|validate> [--name NAME]`
// Prints a new API key once, and the line that configures its hash (API_KEYS or API_KEYS_FILE).
// To rotate without downtime: add the new line next to the old one, roll out, move callers to the
// new key, then remove the old line.
import { API_KEY_NAME, SCOPES, type Scope, generateApiKey, keyEntry } from '../domain/api-keys';

function usage(): never {
  process.stderr.write(`usage: npm run keys -- create --scope <${SCOPES.join('|')}> [--name NAME]\n`);
  process.exit(2);
}

const [command, ...args] = process.argv.slice(2);
const option = (name: string) => {
  const at = args.indexOf(`--${name}`);
  return at >= 0 ? args[at + 1] : undefined;
};
const scope = option('scope');
if (command !== 'create' || !SCOPES.includes(scope as Scope)) usage();
const name = option('name') ?? `${scope}-${new Date().toISOString().slice(0, 10)}`;
if (!API_KEY_NAME.test(name)) usage();

const key = generateApiKey();
process.stdout.write(
  `API key (shown once; give it to the calling service as "authorization: Bearer <key>"):\n` +
    `  ${key}\n` +
    `Add this line to API_KEYS (comma-separated) or API_KEYS_FILE (one per line):\n` +
    `  ${keyEntry(name, scope as Scope, key)}\n`,
);
