// What /proc says about a process's memory.
import { readFileSync } from 'node:fs';

/**
 * VmRSS and VmHWM (peak) of a process, in MB, and what RSS is made of: anonymous memory (heap,
 * buffers) and file-backed pages (the node binary's code); undefined once it has exited.
 */
export function memoryOf(pid: number): { rssMb: number; peakMb: number; anonMb: number; fileMb: number } | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
    return { rssMb: kb('VmRSS') / 1024, peakMb: kb('VmHWM') / 1024, anonMb: kb('RssAnon') / 1024, fileMb: kb('RssFile') / 1024 };
  } catch {
    return undefined;
  }
}
