// The in-memory token buckets behind both rate limits (per API key, per uid), on an injected clock.
import { expect, test } from 'vitest';
import { TokenBuckets } from '../../src/domain/token-bucket';

/** A clock the test moves by hand, in milliseconds. */
function manualClock(start = 1_000) {
  let now = start;
  return {
    now: () => now,
    advance(ms: number) {
      now += ms;
    },
  };
}

test('a new bucket starts full: `burst` calls pass at once, the next one waits one refill interval', () => {
  const clock = manualClock();
  const buckets = new TokenBuckets(5, 5, 100, clock.now);
  expect([1, 2, 3, 4, 5].map(() => buckets.take('k'))).toEqual([0, 0, 0, 0, 0]);
  // Empty: one token comes back after 1/5 s.
  expect(buckets.take('k')).toBe(200);
});

test('a refused take consumes nothing: asking again at the same instant gives the same wait', () => {
  const clock = manualClock();
  const buckets = new TokenBuckets(2, 1, 100, clock.now);
  expect(buckets.take('k')).toBe(0);
  expect(buckets.take('k')).toBe(500);
  expect(buckets.take('k')).toBe(500);
  expect(buckets.take('k')).toBe(500);
});

test('tokens refill continuously at `perSecond`, and the wait shrinks as time passes', () => {
  const clock = manualClock();
  const buckets = new TokenBuckets(4, 2, 100, clock.now);
  expect(buckets.take('k')).toBe(0);
  expect(buckets.take('k')).toBe(0);
  expect(buckets.take('k')).toBe(250);
  // (Steps of 125 ms are exact in binary floating point: half a token each.)
  clock.advance(125);
  expect(buckets.take('k')).toBe(125);
  clock.advance(125);
  // Exactly one token is back: it is taken, and the bucket is empty again.
  expect(buckets.take('k')).toBe(0);
  expect(buckets.take('k')).toBe(250);
  // Half a second later two tokens are back, which is the burst.
  clock.advance(500);
  expect(buckets.take('k')).toBe(0);
  expect(buckets.take('k')).toBe(0);
  expect(buckets.take('k')).toBe(250);
});

test('refill is capped at the burst however long the bucket sat idle', () => {
  const clock = manualClock();
  const buckets = new TokenBuckets(10, 3, 100, clock.now);
  for (let i = 0; i < 3; i++) expect(buckets.take('k')).toBe(0);
  clock.advance(3_600_000);
  for (let i = 0; i < 3; i++) expect(buckets.take('k')).toBe(0);
  expect(buckets.take('k')).toBe(100);
});

test('per-minute limits: 3 per minute (perSecond 0.05) waits 20 s for the next token', () => {
  const clock = manualClock();
  const buckets = new TokenBuckets(3 / 60, 3, 100, clock.now);
  for (let i = 0; i < 3; i++) expect(buckets.take('uid')).toBe(0);
  expect(buckets.take('uid')).toBeCloseTo(20_000, 6);
  clock.advance(5_000);
  expect(buckets.take('uid')).toBeCloseTo(15_000, 6);
  // 3/60 is not exact in binary floating point: one millisecond more than the wait given.
  clock.advance(15_001);
  expect(buckets.take('uid')).toBe(0);
  expect(buckets.take('uid')).toBeGreaterThan(19_000);
});

test('every key has its own bucket', () => {
  const clock = manualClock();
  const buckets = new TokenBuckets(1, 2, 100, clock.now);
  expect(buckets.take('a')).toBe(0);
  expect(buckets.take('a')).toBe(0);
  expect(buckets.take('a')).toBe(1000);
  expect(buckets.take('b')).toBe(0);
  expect(buckets.take('b')).toBe(0);
  expect(buckets.take('b')).toBe(1000);
  expect(buckets.take('a')).toBe(1000);
});

test('beyond maxKeys the least recently used bucket is dropped, and restarts full', () => {
  const clock = manualClock();
  const buckets = new TokenBuckets(1, 1, 2, clock.now);
  expect(buckets.take('a')).toBe(0); // a empty
  expect(buckets.take('b')).toBe(0); // b empty
  expect(buckets.take('a')).toBe(1000); // refused, but a is now the most recently used
  expect(buckets.take('c')).toBe(0); // third key: b, the least recently used, is dropped
  // a was kept (still empty); b was forgotten, so it starts full again.
  expect(buckets.take('a')).toBe(1000);
  expect(buckets.take('b')).toBe(0); // order was c, a: c is dropped now
  expect(buckets.take('a')).toBe(1000);
  expect(buckets.take('c')).toBe(0);
});

test('a refused take also refreshes recency, so an actively limited key is never the one dropped', () => {
  const clock = manualClock();
  const buckets = new TokenBuckets(1, 1, 2, clock.now);
  expect(buckets.take('hot')).toBe(0);
  for (let i = 0; i < 10; i++) {
    // A stream of fresh keys, with the hot key refused in between.
    expect(buckets.take(`cold-${i}`)).toBe(0);
    expect(buckets.take('hot')).toBe(1000);
  }
});
