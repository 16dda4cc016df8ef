import { Queue } from 'bullmq';
import Redis from 'ioredis';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { BullJobQueue } from '@gw/jobs';
import { testEnv, uniqueName } from '@gw/testing';

const redis = new Redis(testEnv().redisUrl, { maxRetriesPerRequest: null });
afterAll(() => redis.disconnect());

describe('enqueue groups (one addBulk for the jobs of a collection that arrive together)', () => {
  it('adds every job once, in arrival order per collection, in fewer Redis calls than jobs', async () => {
    const prefix = `${testEnv().queuePrefix}-enq-${uniqueName()}`;
    const producer = new BullJobQueue(redis, { prefix, attempts: 1, timeoutMs: 30_000 });
    const collections = [uniqueName('a'), uniqueName('b'), uniqueName('c')];
    const ids = (c: number) => Array.from({ length: 100 }, (_, i) => `job-${c}-${String(i).padStart(20, '0')}`);
    const addBulk = vi.spyOn(Queue.prototype, 'addBulk');
    try {
      // Interleaved across collections, all in flight at once; each id twice (the reconciler re-adds).
      const calls: Promise<void>[] = [];
      for (let i = 0; i < 100; i++) {
        for (let c = 0; c < collections.length; c++)
          calls.push(producer.enqueue('default', collections[c]!, ids(c)[i]!));
      }
      await Promise.all(calls);
      await Promise.all(collections.map((name, c) => producer.enqueue('default', name, ids(c)[7]!)));
      // Every enqueue went through addBulk, in groups: at least one per collection, far fewer than jobs.
      expect(addBulk.mock.calls.reduce((n, [jobs]) => n + jobs.length, 0)).toBe(calls.length + 3);
      expect(addBulk.mock.calls.length).toBeGreaterThanOrEqual(3);
      expect(addBulk.mock.calls.length).toBeLessThan(calls.length / 10);
    } finally {
      addBulk.mockRestore();
    }
    for (let c = 0; c < collections.length; c++) {
      const q = producer.queueFor('default', collections[c]!);
      expect(await q.getJobCounts('wait', 'prioritized', 'active')).toEqual({ wait: 100, prioritized: 0, active: 0 });
      // getWaiting answers oldest first: that is arrival order, as the fair dispatcher takes them.
      const waiting = (await q.getWaiting(0, 99)).map((j) => j.id);
      expect(waiting).toEqual(ids(c));
    }
    expect(await producer.ready.size()).toBe(3);
    await producer.close();
  }, 60_000);
});
