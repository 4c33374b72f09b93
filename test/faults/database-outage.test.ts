// Database outages under load: a service process against a mongod of this file's own, on a fixed
// port, serving a steady load of CreateAuthToken and ValidateAuthToken calls that each carry a
// deadline. mongod is stopped three times mid-load, first cleanly (SIGTERM), then twice by a crash
// (SIGKILL), and each time restarted on the same port and data folder, while the service keeps
// running.
//
// What must hold, per call: it ends within its deadline (plus a small margin for the transport and
// this loaded machine), never later; it either succeeds or fails with
//   - UNAVAILABLE / ERR_SERVICE_UNAVAILABLE: the service found the database unreachable, or
//   - DEADLINE_EXCEEDED: the deadline came first. Accepted for SHORT calls (2 s) only: the service
//     learns that mongod is gone when its driver's server selection gives up
//     (serverSelectionTimeoutMS, 5 s, src/storage/database.ts), so a call with a shorter deadline
//     cannot be told anything else in time; what matters is that it is told at its deadline and
//     not left hanging. LONG calls (9 s, more than server selection plus a margin) get no such
//     excuse: when they fail, they must fail with UNAVAILABLE before their deadline: fail fast.
// No other status is acceptable (INTERNAL would mean an unmapped driver error). Failures happen
// only to calls that overlap an outage (from the stop until readiness is SERVING again). Every
// Create that was acknowledged is found in the database afterwards (active or archived): no success
// is reported for an unpersisted write, even across a mongod crash.
//
// The random load may or may not catch a create mid-way at the moment mongod dies, so probes make
// sure of it, through a second service process whose MongoDB connections carry their own appName:
// MongoDB's failCommand fail point holds a probe's CreateAuthToken in mongod (at the archive copy,
// and in the last outage at the update of the user document), and mongod is SIGKILLed while they
// wait. Held at the update, a probe must fail fast with UNAVAILABLE like any other long call; held
// at the copy, its token was issued and it answers OK, and the token it evicted is copied after the
// restart. Either way its handler must have ended by its deadline (read from the probe service's
// own access log), and no token may be left pending at the end.
//
// Health, through the real grpc_health_probe: readiness (authtoken.v1.AuthTokenService) goes
// NOT_SERVING (exit 4) during the outage while liveness ("") stays SERVING (exit 0), and readiness
// returns to SERVING after the restart, with the same service process (same pid, never restarted).
//
// mongod is spawned here (a single-member replica set "rs0", like the embedded one) rather than
// with startEmbeddedMongod, whose restart on an existing data folder failed once under this load
// with "already initialized" (see initiateReplicaSet in src/embedded-mongod/).
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, test } from 'vitest';
import { ensureGoTool } from '../../scripts/go-tools';
import { mongodBinary as cachedMongodBinary } from '../support/mongod';
import { startServerProcess } from '../support/server-process';
import { connect, freePort, initiateReplicaSet, removeTempDirs, tempDir, waitForPrimary } from './helpers';
import {
  expectEveryCallInTime,
  expectFailuresOnlyInOutages,
  expectNothingAcknowledgedLost,
  expectOnlyAcceptableFailures,
  expectTheProbesAnsweredByTheirDeadline,
  expectTheSameServiceProcess,
  printTheCalls,
  printTheProbes,
} from './database-outage/checks';
import { CAP, type Fixture, mongodUri, PROBE_APP, PROBE_CAP, probeCreateLog, REPLICA_SET, startMongod } from './database-outage/fixture';
import { type Acked, newRun } from './database-outage/load';
import { createUsersAndTokens, outagesUnderLoad } from './database-outage/outages';

// The settings (load, probes, outages) are in database-outage/fixture.ts, the load in load.ts, the
// steps in outages.ts and the checks in checks.ts.

/** This file's processes: started here, mongod restarted by each outage, all stopped here. */
const fixture: Fixture = {};
const dbName = `faults_outage_${randomUUID().slice(0, 8)}`;

beforeAll(async () => {
  [fixture.healthProbe, fixture.mongodBinary] = await Promise.all([
    ensureGoTool('grpc-health-probe'),
    cachedMongodBinary(),
  ]);
  fixture.dataDir = await tempDir('authtoken-faults-outage-');
  fixture.mongodPort = await freePort();
  fixture.mongod = await startMongod(fixture);
  await initiateReplicaSet(REPLICA_SET, [fixture.mongod.host]);
  await waitForPrimary(REPLICA_SET, [fixture.mongod.host]);
  fixture.server = await startServerProcess({ MONGODB_URI: mongodUri(fixture), MONGODB_DB: dbName, MAX_TOKENS_PER_USER: String(CAP) });
  fixture.clients = connect(fixture.server.port);
  fixture.probeServer = await startServerProcess({
    MONGODB_URI: `${mongodUri(fixture)}&appName=${PROBE_APP}`,
    MONGODB_DB: dbName,
    MAX_TOKENS_PER_USER: String(PROBE_CAP),
  });
  fixture.probeClients = connect(fixture.probeServer.port);
}, 300_000);

afterAll(async () => {
  fixture.clients?.close();
  fixture.probeClients?.close();
  await Promise.allSettled([fixture.server?.stop(), fixture.probeServer?.stop()]);
  await fixture.mongo?.close();
  await fixture.mongod?.stop();
  await removeTempDirs();
});

test('mongod stopped and crashed under load: calls fail fast and in time, readiness follows, nothing acknowledged is lost, the service recovers by itself', async () => {
  const pid = fixture.server!.process.pid;
  const acked: Acked = new Map();
  const readerSecrets = await createUsersAndTokens(fixture, acked);
  const probeCreatesBefore = probeCreateLog(fixture).length;

  const run = newRun(fixture, acked, readerSecrets);
  await outagesUnderLoad(run);

  printTheCalls(run);
  const { probeResults, probeLog } = await printTheProbes(run, probeCreatesBefore);
  expectEveryCallInTime(run);
  expectOnlyAcceptableFailures(run);
  expectFailuresOnlyInOutages(run);
  expectTheSameServiceProcess(fixture, pid);
  await expectNothingAcknowledgedLost(run, dbName);
  expectTheProbesAnsweredByTheirDeadline(probeResults, probeLog);
});
