import { Queue } from 'bullmq';
import type Redis from 'ioredis';
import { z } from 'zod';

/** The queue whose jobs are schedule ticks; BullMQ's job schedulers (one per schedule) fill it. */
export const SCHEDULE_QUEUE = 'import-schedules';
export const SCHEDULE_TICK_NAME = 'tick';

/** A tick carries the schedule's public id only; the schedule itself is read from PostgreSQL. */
export const scheduleTickData = z.object({ scheduleId: z.string().min(1).max(64) });
export type ScheduleTickData = z.infer<typeof scheduleTickData>;

/**
 * BullMQ job schedulers of import schedules (decision 1402). PostgreSQL holds the schedules; this
 * only makes Redis produce one tick per interval, and can be rebuilt from the table at any time.
 */
export class ScheduleQueue {
  readonly queue: Queue;

  constructor(connection: Redis, prefix: string) {
    this.queue = new Queue(SCHEDULE_QUEUE, { connection, prefix });
    this.queue.on('error', () => undefined); // reported by the callers' failed calls
  }

  /** Creates or updates the schedule's job scheduler: a tick every `intervalMs`. */
  async upsert(scheduleId: string, intervalMs: number): Promise<void> {
    const data: ScheduleTickData = { scheduleId };
    await this.queue.upsertJobScheduler(
      scheduleId,
      { every: intervalMs },
      { name: SCHEDULE_TICK_NAME, data, opts: { removeOnComplete: true, removeOnFail: { count: 100 } } },
    );
  }

  async remove(scheduleId: string): Promise<void> {
    await this.queue.removeJobScheduler(scheduleId);
  }

  /**
   * Makes Redis hold exactly the schedulers of `schedules` (a worker's start and every reconcile
   * pass): missing ones are created — a flushed Redis loses no schedule — and those of dropped
   * schedules removed. Existing ones are left alone, so their next tick keeps its time.
   */
  async restore(schedules: readonly { scheduleId: string; intervalMs: number }[]): Promise<number> {
    const present = new Map<string, number | undefined>();
    const total = await this.queue.getJobSchedulersCount();
    for (let start = 0; start < total; start += 500) {
      for (const s of await this.queue.getJobSchedulers(start, start + 499, true)) {
        present.set(s.key, s.every);
      }
    }
    let created = 0;
    const wanted = new Set<string>();
    for (const s of schedules) {
      wanted.add(s.scheduleId);
      if (present.get(s.scheduleId) === s.intervalMs) continue;
      await this.upsert(s.scheduleId, s.intervalMs);
      created++;
    }
    for (const id of present.keys()) if (!wanted.has(id)) await this.remove(id);
    return created;
  }

  async close(): Promise<void> {
    await this.queue.close();
  }
}
