import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LocalQueue } from './queue';

const tick = (ms = 5) => new Promise((r) => setTimeout(r, ms));

test('runs every job with bounded concurrency and drains', async () => {
  let running = 0;
  let peak = 0;
  const done: number[] = [];
  const q = new LocalQueue<number>(
    async (n) => {
      running++;
      peak = Math.max(peak, running);
      await tick();
      running--;
      done.push(n);
    },
    2,
    1,
  );
  for (let i = 0; i < 10; i++) await q.push(i);
  await q.drain();
  assert.equal(done.length, 10);
  assert.deepEqual(
    [...done].sort((a, b) => a - b),
    [...Array(10).keys()],
  );
  assert.equal(peak, 2);
});

test('a failing job rejects drain and later pushes, and stops further work', async () => {
  const done: number[] = [];
  const q = new LocalQueue<number>(
    async (n) => {
      await tick();
      if (n === 1) throw new Error('boom');
      done.push(n);
    },
    1,
    1,
  );
  await q.push(0);
  await q.push(1);
  await assert.rejects(async () => {
    for (let i = 2; i < 6; i++) await q.push(i);
  }, /boom/);
  await assert.rejects(q.drain(), /boom/);
  assert.ok(!done.includes(5));
});

test('drain on an empty queue resolves at once', async () => {
  await new LocalQueue<number>(async () => {}).drain();
});

test('each result reaches the listeners before drain resolves', async () => {
  const heard: [number, number][] = [];
  const q = new LocalQueue<number, number>(
    async (n) => {
      await tick(n % 3);
      return n * 10;
    },
    2,
    1,
  );
  q.onResult((r, n) => heard.push([n, r]));
  for (let i = 0; i < 6; i++) await q.push(i);
  await q.drain();
  assert.deepEqual(
    heard.sort((a, b) => a[0] - b[0]),
    [...Array(6).keys()].map((n) => [n, n * 10]),
  );
});

test('a listener that throws fails its job like the handler would', async () => {
  const q = new LocalQueue<number, number>((n) => Promise.resolve(n), 1, 1);
  q.onResult((r) => {
    if (r === 2) throw new Error('listener boom');
  });
  await q.push(1);
  await q.push(2);
  await assert.rejects(q.drain(), /listener boom/);
  await assert.rejects(q.push(3), /listener boom/);
});
