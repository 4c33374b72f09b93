// The benchmark's command line (the options are listed in bench/README.md, which --help prints):
// what to run, with which load and data, and where the results go.
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { OUT_DIR } from './lib/output';
import { REPO_ROOT } from './lib/processes';

export const WORKLOADS = ['validate', 'create', 'list', 'mix'] as const;
export type Workload = (typeof WORKLOADS)[number];
/** A workload of one method; the mix runs the three side by side. */
export type Single = Exclude<Workload, 'mix'>;

export const LABEL: Record<Workload, string> = {
  validate: 'Validate',
  create: 'Create at cap',
  list: 'List (100 tokens)',
  mix: 'Mix 90/9/1',
};

/** The database the benchmark seeds and the service uses, in the benchmark's own mongod. */
export const DB_NAME = 'bench';

const OPTIONS = {
  quick: { type: 'boolean', default: false },
  concurrency: { type: 'string' },
  duration: { type: 'string' },
  warmup: { type: 'string' },
  'users-small': { type: 'string' },
  'users-large': { type: 'string' },
  'tokens-per-user': { type: 'string', default: '100' },
  'create-users': { type: 'string', default: '1000' },
  'validate-sample': { type: 'string', default: '5000' },
  only: { type: 'string' },
  soak: { type: 'boolean', default: false },
  'soak-only': { type: 'boolean', default: false },
  'soak-minutes': { type: 'string' },
  'soak-calls': { type: 'string' },
  'cpu-prof': { type: 'boolean', default: false },
  'log-level': { type: 'string', default: 'warn' },
  'results-dir': { type: 'string' },
  'no-plot': { type: 'boolean', default: false },
  'no-api-key': { type: 'boolean', default: false },
  'service-entry': { type: 'string' },
  'no-baselines': { type: 'boolean', default: false },
  'service-node-options': { type: 'string' },
  repeat: { type: 'string', default: '1' },
  help: { type: 'boolean', default: false },
} as const;

type Flags = ReturnType<typeof parseArgs<{ options: typeof OPTIONS }>>['values'];

export type Settings = ReturnType<typeof settingsOf>;

/** Where this run's latest.{json,md,png} go, and how they join the figures already there. */
export interface ResultsPlacement {
  dir: string;
  /** A complete default run (or a full soak): its figures are the committed ones. */
  official: boolean;
  /** A soak-only run adds its soak to the figures already in `dir`. */
  soakOnly: boolean;
  plot: boolean;
}

export type ParsedArgs = { help: true } | { help: false; settings: Settings; placement: ResultsPlacement };

/** Reads the command line (without node and the script); throws on an unknown or malformed option. */
export function parseSettings(argv: string[]): ParsedArgs {
  const { values: flags } = parseArgs({ args: argv, options: OPTIONS });
  if (flags.help) return { help: true };
  const settings = settingsOf(flags);
  return { help: false, settings, placement: resultsPlacement(flags, settings) };
}

function settingsOf(flags: Flags) {
  const quick = flags.quick!;
  const only = flags.only ? new Set(flags.only.split(',').map((s) => s.trim())) : undefined;
  const soakOnly = flags['soak-only']!;
  return {
    quick,
    concurrency: Number(flags.concurrency ?? 32),
    durationS: Number(flags.duration ?? (quick ? 3 : 15)),
    warmupS: Number(flags.warmup ?? (quick ? 1 : 3)),
    usersSmall: Number(flags['users-small'] ?? 1_000),
    usersLarge: Number(flags['users-large'] ?? (quick ? 10_000 : 100_000)),
    tokensPerUser: Number(flags['tokens-per-user']),
    createUsers: Number(flags['create-users']),
    validateSample: Number(flags['validate-sample']),
    workloads: soakOnly ? [] : WORKLOADS.filter((w) => !only || only.has(w)),
    dataSize: !soakOnly && (!only || only.has('datasize')),
    fanout: !soakOnly && (!only || only.has('fanout')),
    soak: soakOnly || flags.soak!,
    soakMinutes: Number(flags['soak-minutes'] ?? (quick ? 1 : 10)),
    soakCalls: Number(flags['soak-calls'] ?? (quick ? 50_000 : 1_000_000)),
    cpuProf: flags['cpu-prof']!,
    logLevel: flags['log-level']!,
    apiKey: !flags['no-api-key'],
    serviceEntry: flags['service-entry'],
    baselines: !flags['no-baselines'],
    /** Extra node flags for the service process only, e.g. "--max-semi-space-size=4". */
    serviceNodeOptions: flags['service-node-options'],
    /** Runs per workload and target (median kept): more stable figures on a noisy machine. */
    repeat: Math.max(1, Number(flags.repeat)),
  };
}

function resultsPlacement(flags: Flags, settings: Settings): ResultsPlacement {
  const soakOnly = flags['soak-only']!;
  /** Settings as the committed figures need them: the service as built, with its defaults, fully loaded. */
  const defaultSettings =
    settings.logLevel === 'warn' &&
    !flags.concurrency &&
    !flags.duration &&
    !flags.warmup &&
    !settings.serviceEntry &&
    !settings.serviceNodeOptions &&
    settings.apiKey &&
    settings.baselines &&
    !settings.cpuProf &&
    !settings.quick &&
    (!settings.soak || (settings.soakMinutes >= 10 && settings.soakCalls >= 1_000_000));
  /**
   * Only a complete default run (or a full soak) replaces the committed figures in bench/results/;
   * anything else (quick, partial, profiled, short soak, other settings) goes to bench/out/.
   */
  const official = defaultSettings && (soakOnly || (!flags.only && !flags['users-large'] && !flags['users-small']));
  const dir =
    flags['results-dir'] ??
    (official
      ? join(REPO_ROOT, 'bench/results')
      : join(OUT_DIR, settings.quick ? 'quick' : settings.cpuProf ? 'profiled' : soakOnly ? 'soak' : 'partial'));
  return { dir, official, soakOnly, plot: !flags['no-plot'] };
}
