// What the use cases report as they happen, for metrics (the events gateways watch are auth-token-events.ts).
import type { ArchiveReason } from './model';

export type ValidationResult = 'valid' | 'not_found' | 'invalid';

/** How a validation lookup was answered: from the cache, or from the database (missed, or cache not live). */
export type CacheLookupResult = 'hit' | 'miss' | 'bypass';

export interface TokenActivity {
  issued(count: number): void;
  archived(reason: ArchiveReason, count: number): void;
  validated(result: ValidationResult): void;
}

export const IGNORE_ACTIVITY: TokenActivity = { issued() {}, archived() {}, validated() {} };
