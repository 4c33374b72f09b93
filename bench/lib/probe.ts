// What happened around one measured run besides the calls themselves: CPU time of the process under
// test and of mongod, the machine's busy and stolen CPU, MongoDB's operation counters and the
// service's validation cache lookups (from its /metrics).
import type { Db } from 'mongodb';
import { round } from './numbers';
import { cpuMsOf, machineCpu } from './processes';

/** CPU and database counters around one measured run. */
export interface Probe {
  finish(calls: number): Promise<ProbeResult>;
}

export interface ProbeResult {
  /** CPU ms per call of the process under test (service or no-op server). */
  cpuMsPerCall: number | null;
  mongodCpuMsPerCall: number | null;
  /** Share of the whole machine's CPU that was busy during the run (all processes, everyone's). */
  machineBusyPct: number | null;
  /** Share of the whole machine's CPU time that the hypervisor gave to other guests (steal). */
  machineStolenPct: number | null;
  /** MongoDB operations per call, from serverStatus opcounters (plus committed transactions). */
  dbOpsPerCall: Record<string, number | null>;
  /** Validation cache lookups per call, by result (service runs only, from its /metrics). */
  cacheLookupsPerCall?: Record<string, number | null>;
}

/** The database the runs go to: its admin database (for serverStatus) and mongod's pid. */
export interface ProbedDatabase {
  admin: Db;
  mongodPid: number;
}

async function dbCounters(admin: Db): Promise<Record<string, number>> {
  const status = await admin.command({ serverStatus: 1, repl: 0, metrics: 0, locks: 0, wiredTiger: 0 });
  return {
    ...Object.fromEntries(Object.entries(status.opcounters as Record<string, number>).map(([k, v]) => [k, Number(v)])),
    txnCommitted: Number(status.transactions?.totalCommitted ?? 0),
  };
}

/** Starts counting; `pid` is the process under test (none for the raw driver), `metricsPort` the service's. */
export async function startProbe(database: ProbedDatabase, pid: number | undefined, metricsPort?: number): Promise<Probe> {
  const before = await dbCounters(database.admin);
  const lookupsBefore = metricsPort ? (await serviceMetrics(metricsPort)).cacheLookups : undefined;
  const cpu = pid ? cpuMsOf(pid) : NaN;
  const mongodCpu = cpuMsOf(database.mongodPid);
  const machine = machineCpu();
  return {
    async finish(calls) {
      const m = machineCpu();
      const cpuAfter = pid ? cpuMsOf(pid) : NaN;
      const mongodAfter = cpuMsOf(database.mongodPid);
      const after = await dbCounters(database.admin);
      const shareOfMachine = (jiffies: number) => round((100 * jiffies) / Math.max(1, m.total - machine.total), 1);
      const perCall = (x: number, digits = 4) => (calls > 0 ? round(x / calls, digits) : null);
      const dbOpsPerCall: Record<string, number | null> = {};
      for (const key of ['query', 'update', 'insert', 'command', 'txnCommitted']) {
        dbOpsPerCall[key] = perCall(after[key]! - before[key]!, 3);
      }
      const lookupsAfter = metricsPort ? (await serviceMetrics(metricsPort)).cacheLookups : undefined;
      const cacheLookupsPerCall =
        lookupsBefore && lookupsAfter
          ? Object.fromEntries(Object.keys(lookupsAfter).map((k) => [k, perCall(lookupsAfter[k]! - (lookupsBefore[k] ?? 0), 3)]))
          : undefined;
      return {
        cacheLookupsPerCall,
        cpuMsPerCall: pid ? perCall(cpuAfter - cpu) : null,
        mongodCpuMsPerCall: perCall(mongodAfter - mongodCpu),
        machineBusyPct: shareOfMachine(m.busy - machine.busy),
        machineStolenPct: shareOfMachine(m.stolen - machine.stolen),
        dbOpsPerCall,
      };
    },
  };
}

/** Calls handled so far and the V8 heap / external memory, from the service's /metrics. */
export async function serviceMetrics(metricsPort: number) {
  const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  let calls = 0;
  const gauges: Record<string, number> = {};
  const cacheLookups: Record<string, number> = { hit: 0, miss: 0, bypass: 0 };
  for (const line of text.split('\n')) {
    const value = Number(line.slice(line.lastIndexOf(' ') + 1));
    const lookup = /^authtoken_validation_cache_lookups_total\{result="(\w+)"\}/.exec(line)?.[1];
    if (lookup) cacheLookups[lookup] = value;
    else if (line.startsWith('grpc_server_handled_total{')) calls += value;
    else if (/^nodejs_(heap_size_used|heap_size_total|external_memory)_bytes /.test(line)) gauges[line.split(' ')[0]!] = value / 2 ** 20;
  }
  return {
    calls,
    cacheLookups,
    heapUsedMb: round(gauges.nodejs_heap_size_used_bytes ?? NaN, 1)!,
    heapTotalMb: round(gauges.nodejs_heap_size_total_bytes ?? NaN, 1)!,
    externalMb: round(gauges.nodejs_external_memory_bytes ?? NaN, 1)!,
  };
}
