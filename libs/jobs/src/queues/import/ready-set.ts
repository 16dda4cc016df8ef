import type Redis from 'ioredis';

/**
 * The set of collections (queue names) that may have import work, scored by a counter so that
 * claiming re-scores a collection to the back: round robin across collections
 * (../shared/notes/bullmq-per-collection.md). Redis holds dispatch state only; the reconciler
 * rebuilds it from Postgres after a loss.
 */
export function readyKeys(prefix: string): { ready: string; seq: string } {
  return { ready: `${prefix}:igw:ready`, seq: `${prefix}:igw:ready-seq` };
}

const MARK = `
if redis.call('ZSCORE', KEYS[1], ARGV[1]) == false then
  redis.call('ZADD', KEYS[1], redis.call('INCR', KEYS[2]), ARGV[1])
end
return 1`;

/**
 * Returns the first collection at the head of the ready set that has a job it may start now
 * (waiting, or a delayed job that is due, and under its global concurrency), re-scored to the
 * back. Collections with nothing left are dropped; ones with only active or future work are
 * moved to the back so they do not block the head.
 */
const CLAIM = `
local names = redis.call('ZRANGE', KEYS[1], 0, tonumber(ARGV[2]) - 1)
local now = tonumber(ARGV[3])
for _, name in ipairs(names) do
  local base = ARGV[1] .. ':' .. name .. ':'
  local waiting = redis.call('LLEN', base .. 'wait') + redis.call('ZCARD', base .. 'prioritized')
  local active = redis.call('LLEN', base .. 'active')
  if waiting == 0 then
    local first = redis.call('ZRANGE', base .. 'delayed', 0, 0, 'WITHSCORES')
    if #first > 0 and tonumber(first[2]) < (now + 1) * 4096 then
      waiting = 1
    elseif #first == 0 and active == 0 then
      redis.call('ZREM', KEYS[1], name)
    else
      redis.call('ZADD', KEYS[1], redis.call('INCR', KEYS[2]), name)
    end
  end
  if waiting > 0 then
    local limit = tonumber(redis.call('HGET', base .. 'meta', 'concurrency') or '0') or 0
    if limit == 0 or active < limit then
      redis.call('ZADD', KEYS[1], redis.call('INCR', KEYS[2]), name)
      return name
    end
  end
end
return false`;

export class ReadySet {
  private readonly keys: { ready: string; seq: string };

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {
    this.keys = readyKeys(prefix);
  }

  async mark(queueName: string): Promise<void> {
    await this.redis.eval(MARK, 2, this.keys.ready, this.keys.seq, queueName);
  }

  /** One fair claim: a queue name to take a job from, or null when no collection has startable work. */
  async claim(scan = 64): Promise<string | null> {
    const r = await this.redis.eval(CLAIM, 2, this.keys.ready, this.keys.seq, this.prefix, scan, Date.now());
    return typeof r === 'string' ? r : null;
  }

  async size(): Promise<number> {
    return this.redis.zcard(this.keys.ready);
  }
}
