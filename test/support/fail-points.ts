// mongod's failCommand fail point (test commands on): holds or breaks chosen commands of one client
// (matched by its appName) inside the server, so a test can put a call exactly where it wants it
// (in flight, mid-transaction, stalled) without timing guesses. The one helper the tests share.
import type { Document } from 'mongodb';

/** The admin database (a Db or the driver's Admin): where fail points are set. */
type Admin = { command(command: Document): Promise<Document> };

/** How long the server answers waitForFailPoint, at most: only reached when something is broken. */
const ENTERED_LIMIT_MS = 30_000;

export interface FailPoint {
  /** Resolves once the `n`-th command since arming has entered the fail point (is held in mongod). */
  entered(n?: number): Promise<void>;
}

/**
 * Arms failCommand for the next `times` of `commands` sent by `appName`. By default each is held
 * `blockMs` (60 s) in mongod; `data` adds or overrides failCommand fields (e.g. closeConnection).
 */
export async function failCommands(
  admin: Admin,
  {
    commands,
    appName,
    blockMs = 60_000,
    times = 1,
    data = {},
  }: { commands: string[]; appName: string; blockMs?: number; times?: number; data?: Document },
): Promise<FailPoint> {
  const { count } = await admin.command({
    configureFailPoint: 'failCommand',
    mode: { times },
    data: { failCommands: commands, appName, blockConnection: true, blockTimeMS: blockMs, ...data },
  });
  return {
    async entered(n = 1) {
      await admin.command({ waitForFailPoint: 'failCommand', timesEntered: count + n, maxTimeMS: ENTERED_LIMIT_MS });
    },
  };
}

/** Disarms failCommand (a test that failed may have left it armed). */
export async function failPointOff(admin: Admin): Promise<void> {
  await admin.command({ configureFailPoint: 'failCommand', mode: 'off' });
}
