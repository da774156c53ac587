import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LocalQueue } from './queue';

const tick = (ms = 5) => new Promise((r) => setTimeout(r, ms));

test('runs every job with bounded concurrency and drains', async () => {
  let running = 0;
  let peak = 0;
  const done: number[] = [];
  const q = new LocalQueue<number>(async (n) => {
    running++;
    peak = Math.max(peak, running);
    await tick();
    running--;
    done.push(n);
  }, 2, 1);
  for (let i = 0; i < 10; i++) await q.push(i);
  await q.drain();
  assert.equal(done.length, 10);
  assert.deepEqual([...done].sort((a, b) => a - b), [...Array(10).keys()]);
  assert.equal(peak, 2);
});

test('a failing job rejects drain and later pushes, and stops further work', async () => {
  const done: number[] = [];
  const q = new LocalQueue<number>(async (n) => {
    await tick();
    if (n === 1) throw new Error('boom');
    done.push(n);
  }, 1, 1);
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
