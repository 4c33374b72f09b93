// API key, scope and per-key rate limit, checked on a call's metadata by the call guard (which
// asks before it lets the call go on): a caller without a valid key is refused before its request
// body is read or any handler runs. Health and reflection need no key.
import type { Metadata, StatusObject } from '@grpc/grpc-js';
import { type CallHooks, type CallRecording, recordCall } from './call-hooks';
import { requestIdOf } from './pipeline/call-context';
import { toStatusError } from './errors';

/**
 * An admitted call's key name and the recording of its outcome (started at admission, so that its
 * duration includes any wait for a turn to run), kept on the call's metadata object, which grpc-js
 * hands on to the handler as is. Properties rather than WeakMap entries: one per call, and WeakMaps
 * cost the garbage collector on the hot path.
 */
const CALLER = Symbol('caller');
const RECORDING = Symbol('recording');
type Admitted = Metadata & { [CALLER]?: string; [RECORDING]?: CallRecording };

export function callerOf(metadata: Metadata): string | undefined {
  return (metadata as Admitted)[CALLER];
}

/** Where the admitted call's outcome is recorded. */
export function recordingOf(metadata: Metadata): CallRecording | undefined {
  return (metadata as Admitted)[RECORDING];
}

export class Admission {
  /** Method name by path, for the methods that need a key. */
  private readonly methods: ReadonlyMap<string, string>;

  constructor(
    keyedPaths: Iterable<string>,
    private readonly hooks: CallHooks,
  ) {
    this.methods = new Map([...keyedPaths].map((path) => [path, path.slice(path.lastIndexOf('/') + 1)]));
  }

  /** Whether calls to `path` need a key (and so are the API's own calls). */
  covers(path: string): boolean {
    return this.methods.has(path);
  }

  /**
   * The refusal (already recorded in metrics and the access log), or undefined once admitted: the
   * call then counts as in flight until ended() is called, so that a graceful shutdown also waits
   * for admitted calls still waiting for their turn to run, not only for running handlers.
   */
  admit(path: string, metadata: Metadata): StatusObject | undefined {
    const outcome = recordCall(this.hooks, path);
    try {
      (metadata as Admitted)[CALLER] = this.hooks.access.admit(metadata, this.methods.get(path)!);
    } catch (error) {
      const refusal = toStatusError(error);
      outcome(refusal.code, { caller: undefined, requestId: requestIdOf(metadata) }, error);
      return refusal;
    }
    (metadata as Admitted)[RECORDING] = outcome;
    this.hooks.inFlight.begin();
    return undefined;
  }

  /** An admitted call is over. */
  ended(): void {
    this.hooks.inFlight.end();
  }
}
