// Figures as the benchmark records them (rounded, null when not a number) and prints them.

export const round = (x: number, digits = 2) => (Number.isFinite(x) ? Number(x.toFixed(digits)) : null);

export const fmt = (x: number | null | undefined, digits = 2) => (x === null || x === undefined || !Number.isFinite(x) ? '–' : x.toFixed(digits));
export const fmtRps = (x: number | null | undefined) => (x === null || x === undefined || !Number.isFinite(x) ? '–' : Math.round(x).toString());

/** a / b, rounded; null when either is missing or b is not positive. */
export function ratio(a: number | undefined, b: number | undefined): number | null {
  return a !== undefined && b !== undefined && b > 0 ? round(a / b, 2) : null;
}
