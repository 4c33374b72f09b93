import { expect, test } from 'vitest';
import { UnreadResponses } from '../../src/grpc/unread-responses';

test('bounds unread bytes per connection and in total; one response always fits an idle connection', () => {
  const unread = new UnreadResponses(1000, 1500);
  const [a, b, c] = [{}, {}, {}];
  expect(unread.overLimit(a, 5000)).toBeUndefined();
  unread.add(a, 800);
  expect(unread.overLimit(a, 200)).toBeUndefined();
  expect(unread.overLimit(a, 201)).toBe('connection');
  unread.add(b, 600);
  expect(unread.overLimit(b, 101)).toBe('total');
  expect(unread.overLimit(c, 10_000)).toBeUndefined();
  unread.remove(a, 800);
  expect(unread.unreadOn(a)).toBe(0);
  expect(unread.overLimit(b, 400)).toBeUndefined();
});
