// TLS and mutual TLS with throwaway certificates made by the openssl CLI: the real grpcurl and
// grpc_health_probe, and the generated grpc-js clients, against a TLS service and an mTLS service.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { type ChannelCredentials, credentials, type ServiceError, status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { ensureGoTool } from '../../scripts/go-tools';
import { UserServiceClient, UserServiceService } from '../../gen/authtoken/v1/user_service';
import { type RunResult, runBinary } from '../support/go-binaries';
import { promised } from '../support/promised-client';
import { startTestService, type TestService } from '../support/service';

const run = promisify(execFile);

const OPENSSL_CONFIG = `
[req]
distinguished_name = dn
prompt = no
[dn]
CN = unused
[ca_ext]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[server_ext]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1,DNS:localhost
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[client_ext]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
`;

let dir: string;
const file = (name: string) => join(dir, name);
let grpcurl: string;
let probe: string;
let tlsSvc: TestService;
let mtlsSvc: TestService;
const clients: UserServiceClient[] = [];

async function openssl(...args: string[]): Promise<void> {
  await run('openssl', args, { cwd: dir });
}

const EC_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

async function makeCa(name: string, cn: string): Promise<void> {
  await openssl('req', '-x509', '-config', 'openssl.cnf', '-extensions', 'ca_ext', ...EC_KEY,
    '-keyout', `${name}.key`, '-out', `${name}.crt`, '-days', '2', '-subj', `/CN=${cn}`);
}

async function makeLeaf(name: string, cn: string, ca: string, extensions: string): Promise<void> {
  await openssl('req', '-new', '-config', 'openssl.cnf', ...EC_KEY, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`);
  await openssl('x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.crt`, '-CAkey', `${ca}.key`,
    '-set_serial', `0x${randomBytes(16).toString('hex')}`, '-days', '2',
    '-extfile', 'openssl.cnf', '-extensions', extensions, '-out', `${name}.crt`);
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'authtoken-tls-'));
  await writeFile(file('openssl.cnf'), OPENSSL_CONFIG);
  await makeCa('ca', 'authtoken test CA');
  await makeLeaf('server', 'localhost', 'ca', 'server_ext');
  await makeLeaf('client', 'test-client', 'ca', 'client_ext');
  // Another CA, trusted by nobody here, and a client certificate it signed.
  await makeCa('rogue-ca', 'rogue CA');
  await makeLeaf('rogue-client', 'rogue-client', 'rogue-ca', 'client_ext');

  [grpcurl, probe] = await Promise.all([ensureGoTool('grpcurl'), ensureGoTool('grpc-health-probe')]);
  const tlsFiles = { TLS_CERT_FILE: file('server.crt'), TLS_KEY_FILE: file('server.key') };
  tlsSvc = await startTestService(tlsFiles);
  mtlsSvc = await startTestService({ ...tlsFiles, TLS_CLIENT_CA_FILE: file('ca.crt') });
}, 300_000);

afterAll(async () => {
  for (const client of clients) client.close();
  await tlsSvc?.stop();
  await mtlsSvc?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** UserService through the generated grpc-js client with these credentials. */
function usersWith(port: number, channelCredentials: ChannelCredentials) {
  const client = new UserServiceClient(`127.0.0.1:${port}`, channelCredentials);
  clients.push(client);
  return promised(UserServiceService, client);
}

async function codeOf(pending: Promise<unknown>): Promise<{ code: number; details: string }> {
  try {
    await pending;
    return { code: status.OK, details: '' };
  } catch (error) {
    return { code: (error as ServiceError).code, details: (error as ServiceError).details };
  }
}

const SERVICES = [
  'authtoken.v1.AuthTokenService',
  'authtoken.v1.UserService',
  'grpc.health.v1.Health',
  'grpc.reflection.v1.ServerReflection',
  'grpc.reflection.v1alpha.ServerReflection',
];

function expectListed(result: RunResult) {
  expect(result.code, result.stderr).toBe(0);
  expect(result.stdout.trim().split('\n')).toEqual(SERVICES);
}

/**
 * grpcurl could not set up the connection: exit 1, nothing on stdout. A handshake the client
 * itself rejects is reported at once with its cause; one the server rejects makes grpc-go retry
 * until the connect timeout.
 */
function expectFailedToDial(result: RunResult, cause: string) {
  expect(result.code).toBe(1);
  expect(result.stdout).toBe('');
  expect(result.stderr).toMatch(/^Failed to dial target host "127\.0\.0\.1:\d+": /);
  expect(result.stderr).toContain(cause);
}

/** grpc_health_probe could not connect: exit 2 (its code for a connection failure). */
function expectProbeCannotConnect(result: RunResult) {
  expect(result.code).toBe(2);
  expect(result.stderr).toMatch(/^timeout: failed to connect service "127\.0\.0\.1:\d+" within 3s/);
}

/** Bounds the Go clients' retries when the server refuses the connection. */
const GRPCURL_TIMEOUT = ['-connect-timeout', '3'];
const PROBE_TIMEOUT = '-connect-timeout=3s';

async function createUserWithGrpcurl(tlsArgs: string[], port: number, uid: string) {
  const result = await runBinary(grpcurl, [
    ...tlsArgs,
    '-d',
    JSON.stringify({ uid, name: `User ${uid}` }),
    `127.0.0.1:${port}`,
    'authtoken.v1.UserService/CreateUser',
  ]);
  expect(result.code, result.stderr).toBe(0);
  return JSON.parse(result.stdout) as { user: { uid: string; name: string } };
}

describe('TLS (TLS_CERT_FILE, TLS_KEY_FILE)', () => {
  test('grpcurl -cacert: list by reflection, and CreateUser', async () => {
    expectListed(await runBinary(grpcurl, ['-cacert', file('ca.crt'), `127.0.0.1:${tlsSvc.port}`, 'list']));
    const created = await createUserWithGrpcurl(['-cacert', file('ca.crt')], tlsSvc.port, 'tls-grpcurl');
    expect(created.user).toMatchObject({ uid: 'tls-grpcurl', name: 'User tls-grpcurl' });
    // The DNS name in the certificate verifies too.
    expectListed(await runBinary(grpcurl, ['-cacert', file('ca.crt'), '-servername', 'localhost', `127.0.0.1:${tlsSvc.port}`, 'list']));
  });

  test('grpc_health_probe -tls -tls-ca-cert: SERVING', async () => {
    for (const extra of [[], ['-tls-server-name', 'localhost']]) {
      const result = await runBinary(probe, [`-addr=127.0.0.1:${tlsSvc.port}`, '-tls', '-tls-ca-cert', file('ca.crt'), ...extra]);
      expect(result.code, result.stderr).toBe(0);
      expect(result.stderr.trim()).toBe('status: SERVING');
    }
  });

  test('grpc-js with credentials.createSsl(ca): a call succeeds', async () => {
    const users = usersWith(tlsSvc.port, credentials.createSsl(await readFile(file('ca.crt'))));
    const created = await users.createUser({ uid: 'tls-grpc-js', name: 'G' });
    expect(created.user).toMatchObject({ uid: 'tls-grpc-js', name: 'G' });
    await expect(users.getUser({ uid: 'tls-grpc-js' })).resolves.toMatchObject({ uid: 'tls-grpc-js' });
  });

  test('plaintext against the TLS port fails: grpcurl -plaintext, grpc_health_probe without -tls, an insecure grpc-js client', async () => {
    const [plainGrpcurl, plainProbe] = await Promise.all([
      runBinary(grpcurl, ['-plaintext', ...GRPCURL_TIMEOUT, `127.0.0.1:${tlsSvc.port}`, 'list']),
      runBinary(probe, [`-addr=127.0.0.1:${tlsSvc.port}`, PROBE_TIMEOUT]),
    ]);
    expectFailedToDial(plainGrpcurl, 'context deadline exceeded');
    expectProbeCannotConnect(plainProbe);
    const insecure = await codeOf(tlsSvc.users.createUser({ uid: 'plaintext', name: 'P' }));
    expect(insecure).toEqual({ code: status.UNAVAILABLE, details: expect.stringContaining('No connection established') });
    expect(await tlsSvc.db.collection('users').countDocuments({ _id: 'plaintext' as never })).toBe(0);
  });

  test('the server certificate is really verified: an untrusted CA or another name fails', async () => {
    const untrusted = await runBinary(grpcurl, ['-cacert', file('rogue-ca.crt'), `127.0.0.1:${tlsSvc.port}`, 'list']);
    expectFailedToDial(untrusted, 'tls: failed to verify certificate: x509: certificate signed by unknown authority');
    const wrongName = await runBinary(grpcurl, ['-cacert', file('ca.crt'), '-servername', 'other.example', `127.0.0.1:${tlsSvc.port}`, 'list']);
    expectFailedToDial(wrongName, 'tls: failed to verify certificate: x509: certificate is valid for localhost, not other.example');

    const rogueJs = await codeOf(
      usersWith(tlsSvc.port, credentials.createSsl(await readFile(file('rogue-ca.crt')))).getUser({ uid: 'tls-grpc-js' }),
    );
    expect(rogueJs).toEqual({ code: status.UNAVAILABLE, details: expect.stringContaining('unable to verify the first certificate') });
  });
});

describe('mutual TLS (TLS_CLIENT_CA_FILE)', () => {
  const clientCert = () => ['-cert', file('client.crt'), '-key', file('client.key')];

  test('grpcurl with -cacert, -cert and -key: list and CreateUser', async () => {
    expectListed(await runBinary(grpcurl, ['-cacert', file('ca.crt'), ...clientCert(), `127.0.0.1:${mtlsSvc.port}`, 'list']));
    const created = await createUserWithGrpcurl(['-cacert', file('ca.crt'), ...clientCert()], mtlsSvc.port, 'mtls-grpcurl');
    expect(created.user).toMatchObject({ uid: 'mtls-grpcurl' });
  });

  test('grpc_health_probe with a client certificate: SERVING', async () => {
    const result = await runBinary(probe, [
      `-addr=127.0.0.1:${mtlsSvc.port}`,
      '-tls',
      '-tls-ca-cert',
      file('ca.crt'),
      '-tls-client-cert',
      file('client.crt'),
      '-tls-client-key',
      file('client.key'),
    ]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr.trim()).toBe('status: SERVING');
  });

  test('grpc-js with credentials.createSsl(ca, key, cert): a call succeeds', async () => {
    const users = usersWith(
      mtlsSvc.port,
      credentials.createSsl(await readFile(file('ca.crt')), await readFile(file('client.key')), await readFile(file('client.crt'))),
    );
    await expect(users.createUser({ uid: 'mtls-grpc-js', name: 'M' })).resolves.toMatchObject({ user: { uid: 'mtls-grpc-js' } });
  });

  test('a client without a certificate fails: grpcurl, grpc_health_probe, grpc-js; and so does one from another CA', async () => {
    const ca = await readFile(file('ca.crt'));
    const request = JSON.stringify({ uid: 'no-cert', name: 'N' });
    const address = `127.0.0.1:${mtlsSvc.port}`;
    const rogueCert = ['-cert', file('rogue-client.crt'), '-key', file('rogue-client.key')];
    const [noCert, noCertProbe, rogueGrpcurl, noCertJs, rogueJs] = await Promise.all([
      runBinary(grpcurl, ['-cacert', file('ca.crt'), ...GRPCURL_TIMEOUT, '-d', request, address, 'authtoken.v1.UserService/CreateUser']),
      runBinary(probe, [`-addr=${address}`, '-tls', '-tls-ca-cert', file('ca.crt'), PROBE_TIMEOUT]),
      runBinary(grpcurl, ['-cacert', file('ca.crt'), ...rogueCert, ...GRPCURL_TIMEOUT, '-d', request, address, 'authtoken.v1.UserService/CreateUser']),
      codeOf(usersWith(mtlsSvc.port, credentials.createSsl(ca)).createUser({ uid: 'no-cert', name: 'N' })),
      codeOf(
        usersWith(mtlsSvc.port, credentials.createSsl(ca, await readFile(file('rogue-client.key')), await readFile(file('rogue-client.crt')))).createUser({
          uid: 'no-cert',
          name: 'N',
        }),
      ),
    ]);
    // The server rejects the handshake (TLS 1.3: after the client's Finished), so the Go clients retry until their timeout.
    expectFailedToDial(noCert, 'context deadline exceeded');
    expectProbeCannotConnect(noCertProbe);
    expectFailedToDial(rogueGrpcurl, 'context deadline exceeded');
    expect(noCertJs).toEqual({ code: status.UNAVAILABLE, details: expect.stringContaining('alert certificate required') });
    expect(rogueJs.code).toBe(status.UNAVAILABLE);

    // None of the refused clients got anything done.
    const uids = (await mtlsSvc.db.collection('users').find({}, { projection: { _id: 1 } }).toArray()).map((d) => d._id).sort();
    expect(uids).toEqual(['mtls-grpc-js', 'mtls-grpcurl']);
  });
});
