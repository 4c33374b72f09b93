import { afterEach, expect, test, vi } from 'vitest';
import { memoryRelief } from '../../src/memory-relief';

afterEach(() => vi.useRealTimers());

test('one collection a second after drops add up to 1 MB, however many drops; none for less', () => {
  vi.useFakeTimers();
  const gc = vi.fn();
  const dropped = memoryRelief(gc);
  dropped(600_000);
  vi.advanceTimersByTime(5_000);
  expect(gc).not.toHaveBeenCalled();
  dropped(600_000);
  dropped(10_000_000);
  vi.advanceTimersByTime(999);
  expect(gc).not.toHaveBeenCalled();
  vi.advanceTimersByTime(1);
  expect(gc).toHaveBeenCalledTimes(1);
  dropped(2_000_000);
  vi.advanceTimersByTime(1_000);
  expect(gc).toHaveBeenCalledTimes(2);
});

test('without --expose-gc (no global gc) it schedules nothing', () => {
  vi.useFakeTimers();
  expect((globalThis as { gc?: unknown }).gc).toBeUndefined();
  memoryRelief()(10_000_000);
  expect(vi.getTimerCount()).toBe(0);
});
