/**
 * Groups work items by key so that each key has at most one flush in flight: items arriving while
 * a key's flush runs wait and go together in the next one (at most `maxBatch`). No timer: a lone
 * item is flushed at once, and under load batches form by themselves from the items that arrive
 * during one round trip (group commit). Every item gets its own result or error.
 */
interface Waiting<T, R> {
  item: T;
  ok: (r: R) => void;
  fail: (e: unknown) => void;
}

export class GroupCommit<T, R> {
  private readonly keys = new Map<string, { waiting: Waiting<T, R>[] }>();

  constructor(
    private readonly maxBatch: number,
    /** Returns one result per item, in order; a throw fails every item of the batch. */
    private readonly flush: (items: T[]) => Promise<R[]>,
  ) {}

  submit(key: string, item: T): Promise<R> {
    return new Promise<R>((ok, fail) => {
      const entry = this.keys.get(key);
      if (entry !== undefined) {
        entry.waiting.push({ item, ok, fail });
        return;
      }
      const fresh = { waiting: [{ item, ok, fail }] };
      this.keys.set(key, fresh);
      void this.drain(key, fresh);
    });
  }

  private async drain(key: string, entry: { waiting: Waiting<T, R>[] }): Promise<void> {
    while (entry.waiting.length > 0) {
      const batch = entry.waiting.splice(0, this.maxBatch);
      try {
        const results = await this.flush(batch.map((b) => b.item));
        batch.forEach((b, i) => b.ok(results[i]!));
      } catch (e) {
        for (const b of batch) b.fail(e);
      }
    }
    this.keys.delete(key);
  }
}
