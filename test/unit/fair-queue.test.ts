import { expect, test } from 'vitest';
import { FairQueue } from '../../src/grpc/fair-queue';

/** Jobs that record the order they run or are dropped in. */
function recorder() {
  const ran: string[] = [];
  const dropped: string[] = [];
  const job = (name: string) => ({ run: () => ran.push(name), drop: () => dropped.push(name) });
  return { ran, dropped, job };
}

test('runs at once while there is room, then queues', () => {
  const queue = new FairQueue<string>(2, 10);
  const { ran, job } = recorder();
  queue.enqueue('a', job('a1'));
  queue.enqueue('a', job('a2'));
  queue.enqueue('a', job('a3'));
  expect(ran).toEqual(['a1', 'a2']);
  queue.done();
  expect(ran).toEqual(['a1', 'a2', 'a3']);
});

test('a freed place goes to the owners in turn: a late owner waits for one job of each other, not for all', () => {
  const queue = new FairQueue<string>(1, 100);
  const { ran, job } = recorder();
  queue.enqueue('flood', job('f0'));
  for (let i = 1; i <= 50; i++) queue.enqueue('flood', job(`f${i}`));
  queue.enqueue('other', job('o1'));
  queue.done(); // f0 done
  queue.done(); // f1 done
  expect(ran).toEqual(['f0', 'f1', 'o1']);
  queue.done();
  expect(ran.at(-1)).toBe('f2');
});

test('a job that gets its place while another is new does not jump the queue', () => {
  const queue = new FairQueue<string>(1, 100);
  const { ran, job } = recorder();
  queue.enqueue('a', job('a1'));
  queue.enqueue('a', job('a2'));
  queue.done();
  // a1 is done and a2 running: a new job of b waits although b has nothing running.
  queue.enqueue('b', job('b1'));
  expect(ran).toEqual(['a1', 'a2']);
  queue.done();
  expect(ran).toEqual(['a1', 'a2', 'b1']);
});

test('over the waiting bound, the newest job of the longest queue is dropped, not the newcomer', () => {
  const queue = new FairQueue<string>(1, 3);
  const { ran, dropped, job } = recorder();
  queue.enqueue('flood', job('running'));
  queue.enqueue('flood', job('f1'));
  queue.enqueue('flood', job('f2'));
  queue.enqueue('other', job('o1'));
  queue.enqueue('other', job('o2'));
  expect(dropped).toEqual(['f2']);
  queue.done();
  queue.done();
  queue.done();
  expect(ran).toEqual(['running', 'f1', 'o1', 'o2']);
});

test('a removed job never runs and frees its waiting place', () => {
  const queue = new FairQueue<string>(1, 1);
  const { ran, dropped, job } = recorder();
  queue.enqueue('a', job('a1'));
  const cancelled = job('a2');
  queue.enqueue('a', cancelled);
  expect(queue.remove('a', cancelled)).toBe(true);
  expect(queue.remove('a', cancelled)).toBe(false);
  queue.enqueue('b', job('b1'));
  expect(dropped).toEqual([]);
  queue.done();
  expect(ran).toEqual(['a1', 'b1']);
});

test('jobs that give their place back as soon as they get it are handed out in a loop, not by recursion', () => {
  const queue = new FairQueue<string>(1, 100_000);
  let ran = 0;
  let depth = 0;
  let deepest = 0;
  const refusing = {
    run: () => {
      ran++;
      deepest = Math.max(deepest, ++depth);
      queue.done();
      depth--;
    },
    drop: () => undefined,
  };
  queue.enqueue('a', { run: () => undefined, drop: () => undefined });
  for (let i = 0; i < 50_000; i++) queue.enqueue('a', refusing);
  queue.done();
  expect(ran).toBe(50_000);
  expect(deepest).toBe(1);
});
