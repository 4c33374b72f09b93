// Soak: RSS of the service over a long mixed run.
import type { LoadFigures } from './lib/ghz';
import { round } from './lib/numbers';
import { log } from './lib/output';
import { serviceMetrics } from './lib/probe';
import type { Single } from './settings';
import { type BenchContext, ghzMix, mixPlan } from './workloads';
import { memoryOf } from '../test/support/process-memory';

interface SoakSample {
  t: number;
  rssMb: number;
  anonMb: number;
  fileMb: number;
  calls: number;
  heapUsedMb: number;
  heapTotalMb: number;
  externalMb: number;
}

interface SoakChunk {
  rps: number;
  p50Ms: number;
  p99Ms: number;
  errors: Record<string, number>;
  shares?: Record<string, number>;
}

export type SoakFigures = Awaited<ReturnType<typeof soak>>;

function slopePerMinute(points: { t: number; rssMb: number }[]): number {
  const n = points.length;
  if (n < 2) return NaN;
  const mt = points.reduce((a, p) => a + p.t, 0) / n;
  const mr = points.reduce((a, p) => a + p.rssMb, 0) / n;
  let num = 0;
  let den = 0;
  for (const p of points) {
    num += (p.t - mt) * (p.rssMb - mr);
    den += (p.t - mt) ** 2;
  }
  return den > 0 ? (num / den) * 60 : NaN;
}

/** The service's memory and call count, one sample at a time, in order. */
function soakSampler(ctx: BenchContext, started: number, baseCalls: number) {
  const samples: SoakSample[] = [];
  let sampling = Promise.resolve();
  const sample = () => {
    sampling = sampling.then(async () => {
      const memory = memoryOf(ctx.service.pid);
      const m = await serviceMetrics(ctx.service.metricsPort);
      if (memory) {
        samples.push({
          t: round((Date.now() - started) / 1000, 1)!,
          rssMb: round(memory.rssMb, 1)!,
          anonMb: round(memory.anonMb, 1)!,
          fileMb: round(memory.fileMb, 1)!,
          ...m,
          calls: m.calls - baseCalls,
        });
      }
    });
  };
  /** Waits for the samples asked for so far. */
  const settled = () => sampling;
  return { samples, sample, settled };
}

export async function soak(ctx: BenchContext, single: Record<Single, LoadFigures>) {
  const { settings } = ctx;
  log(`soak: the 90/9/1 mix for at least ${settings.soakMinutes} min and ${settings.soakCalls} calls; RSS every 5 s`);
  const started = Date.now();
  const baseCalls = (await serviceMetrics(ctx.service.metricsPort)).calls;
  const sampler = soakSampler(ctx, started, baseCalls);
  const { samples } = sampler;
  sampler.sample();
  const timer = setInterval(sampler.sample, 5_000);
  let chunks: SoakChunk[];
  try {
    chunks = await runChunks(ctx, single, started, sampler);
  } finally {
    clearInterval(timer);
  }
  sampler.sample();
  await sampler.settled();
  const totalS = samples.at(-1)!.t;
  const lastHalf = samples.filter((s) => s.t >= totalS / 2);
  const slope = slopePerMinute(lastHalf);
  const growth = (slope * (totalS / 2)) / 60;
  const at1M = samples.find((s) => s.calls >= settings.soakCalls);
  return {
    date: new Date().toISOString(),
    minutes: round(totalS / 60, 1),
    targetCalls: settings.soakCalls,
    calls: samples.at(-1)!.calls,
    rssAfterTargetCallsMb: at1M ? at1M.rssMb : null,
    rssMaxMb: Math.max(...samples.map((s) => s.rssMb)),
    /** V8 heap (total, i.e. reserved) and external memory at the last sample: what RSS is made of. */
    last: samples.at(-1),
    lastHalfSlopeMbPerMin: round(slope, 3),
    lastHalfGrowthMb: round(growth, 1),
    peakRssMb: round(memoryOf(ctx.service.pid)?.peakMb ?? NaN, 1),
    chunks,
    samples,
  };
}

/** Mix chunks of at most a minute until both soakMinutes and soakCalls have passed. */
async function runChunks(ctx: BenchContext, single: Record<Single, LoadFigures>, started: number, sampler: ReturnType<typeof soakSampler>): Promise<SoakChunk[]> {
  const { settings } = ctx;
  const { samples } = sampler;
  const minSeconds = settings.soakMinutes * 60;
  const chunks: SoakChunk[] = [];
  let plan = mixPlan(single, settings.concurrency);
  for (let chunk = 0; ; chunk++) {
    const elapsed = (Date.now() - started) / 1000;
    const calls = samples.at(-1)?.calls ?? 0;
    if (elapsed >= minSeconds && calls >= settings.soakCalls) break;
    const seconds = Math.max(5, Math.min(60, elapsed < minSeconds ? Math.ceil(minSeconds - elapsed) : 60));
    // The first chunk starts with a pilot that sets the caps; each chunk then refines them.
    const { measured: result, plan: next } = await ghzMix(ctx, ctx.service, plan, `soak-${chunk}`, seconds, chunk === 0);
    plan = next;
    chunks.push({ rps: round(result.rps, 0)!, p50Ms: round(result.p50Ms)!, p99Ms: round(result.p99Ms)!, errors: result.errors, shares: result.shares });
    sampler.sample();
    await sampler.settled();
    log(`  soak ${((Date.now() - started) / 60000).toFixed(1)} min: ${samples.at(-1)?.calls} calls, RSS ${samples.at(-1)?.rssMb} MB, ${result.rps.toFixed(0)} calls/s`);
  }
  return chunks;
}
