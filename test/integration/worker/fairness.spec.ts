import Redis from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { BullJobQueue, FairDispatcher, importQueueName } from '@gw/jobs';
import { testEnv, uniqueName } from '@gw/testing';

const redises: Redis[] = [];
function connect(name: string): Redis {
  const r = new Redis(testEnv().redisUrl, { maxRetriesPerRequest: null, connectionName: name });
  redises.push(r);
  return r;
}
afterAll(() => {
  for (const r of redises) r.disconnect();
});

async function clientsNamed(admin: Redis, name: string): Promise<number> {
  const list = (await admin.client('LIST')) as string;
  return list.split('\n').filter((l) => l.includes(` name=${name} `)).length;
}

describe('fair dispatch across per-collection queues', () => {
  it('starts the only job of a small collection within a few jobs of a 5,000-job collection', async () => {
    const prefix = `${testEnv().queuePrefix}-fair-${uniqueName()}`;
    const conn = connect('igw-fair-producer');
    const producer = new BullJobQueue(conn, { prefix, attempts: 1, timeoutMs: 30_000 });
    const big = uniqueName('big');
    const small = uniqueName('small');
    const ids = Array.from({ length: 5_000 }, (_, i) => `job-${String(i).padStart(22, '0')}`);
    for (let i = 0; i < ids.length; i += 500) {
      await Promise.all(ids.slice(i, i + 500).map((id) => producer.enqueue('default', big, id)));
    }
    await producer.enqueue('default', small, 'job-smallsmallsmallsmall00');

    const order: string[] = [];
    const consumer = connect('igw-fair-consumer');
    const dispatcher = new FairDispatcher(
      consumer,
      { prefix, slots: 2, lockDurationMs: 30_000, stalledIntervalMs: 30_000, idleDelayMs: 20 },
      async ({ jobId }) => {
        order.push(jobId);
        await new Promise((r) => setTimeout(r, 2));
      },
    );
    dispatcher.start();
    await expect.poll(() => order.includes('job-smallsmallsmallsmall00'), { timeout: 20_000, interval: 20 }).toBe(true);
    const position = order.indexOf('job-smallsmallsmallsmall00');
    await dispatcher.stop(2_000);
    await producer.close();
    console.log(`small collection's job started as number ${position + 1} of ${order.length} processed`);
    expect(position).toBeLessThan(5);
    // Per-collection order: the big collection's jobs ran in creation order.
    const bigOrder = order.filter((j) => j !== 'job-smallsmallsmallsmall00');
    expect(bigOrder).toEqual(ids.slice(0, bigOrder.length));
  }, 120_000);

  it('uses one Redis connection per process whatever the number of collections (1,000 with work)', async () => {
    const prefix = `${testEnv().queuePrefix}-conn-${uniqueName()}`;
    const admin = connect('igw-conn-admin');
    const producerName = `igw-p-${uniqueName()}`;
    const consumerName = `igw-c-${uniqueName()}`;
    const producer = new BullJobQueue(connect(producerName), { prefix, attempts: 1, timeoutMs: 30_000 });
    const collections = Array.from({ length: 1_000 }, (_, i) => `coll_${i}`);
    for (let i = 0; i < collections.length; i += 100) {
      await Promise.all(
        collections
          .slice(i, i + 100)
          .map((c, k) => producer.enqueue('default', c, `job-${String(i + k).padStart(22, 'c')}`)),
      );
    }
    const done = new Set<string>();
    const dispatcher = new FairDispatcher(
      connect(consumerName),
      { prefix, slots: 4, lockDurationMs: 30_000, stalledIntervalMs: 60_000, idleDelayMs: 20 },
      async ({ jobId }) => {
        done.add(jobId);
      },
    );
    dispatcher.start();
    await expect.poll(() => done.size, { timeout: 60_000, interval: 50 }).toBe(1_000);
    const consumerConnections = await clientsNamed(admin, consumerName);
    const producerConnections = await clientsNamed(admin, producerName);
    const queueNames = new Set(collections.map((c) => importQueueName('default', c)));
    await dispatcher.stop(2_000);
    await producer.close();
    console.log(
      `1,000 collections: consumer connections ${consumerConnections}, producer connections ${producerConnections}`,
    );
    expect(queueNames.size).toBe(1_000);
    expect(consumerConnections).toBe(1);
    expect(producerConnections).toBe(1);
  }, 180_000);
});
