/**
 * Where a streamed page's bytes are decompressed to: `buf[i]` holds byte `base + i` of the page.
 *
 * A page is kept whole (base stays 0) unless `slide` is on: then bytes before `keepFrom` (what the
 * page's reader has consumed) go once the buffer is full, keeping the last HISTORY bytes written
 * for Snappy's back-references. A DuckDB float-vector page is 65 MB; its rows are taken a batch at
 * a time, so a window of a take's bytes plus a step holds what a whole page buffer held (issue 12).
 */
export class PageSink {
  buf: Uint8Array;
  /** Page offset of buf[0]. */
  base = 0;
  /** Page bytes written so far. */
  written = 0;
  /** Page offset from which bytes are still needed (sliding only). */
  keepFrom = 0;
  private sliding = false;
  /** The window's base stays ≡ this mod 8 when it slides (see slide). */
  private phase = 0;

  /**
   * @param total the page's size: nothing is written past it
   * @param initial storage to start with (reused from page to page), grown when it is too small
   * @param moved called after the bytes moved (slid by `drop` bytes, or into a new buffer): views
   *   of the old positions are stale
   */
  constructor(
    readonly total: number,
    initial: Uint8Array,
    private readonly moved: (drop: number) => void = () => undefined,
  ) {
    this.buf = initial;
  }

  /**
   * From now on, bytes before keepFrom (less HISTORY) may be dropped to make room. `valuesAt`: the
   * page offset of the first value; the window keeps it at a multiple of 8 from its start once it
   * has slid, so float and double values are views, not copies, whatever the levels' length.
   */
  slide(valuesAt = 0): void {
    this.sliding = true;
    this.phase = valuesAt % 8;
  }

  /** Makes room for n more bytes at `written` (n within the page's total). */
  room(n: number): void {
    const at = this.written - this.base;
    if (at + n <= this.buf.length) return;
    if (this.sliding) {
      const target = Math.min(this.keepFrom, this.written - HISTORY);
      const drop = target - ((((target - this.phase) % 8) + 8) % 8) - this.base;
      if (drop > 0) {
        this.buf.copyWithin(0, drop, at);
        this.base += drop;
        this.moved(drop);
        if (at - drop + n <= this.buf.length) return;
      }
    }
    const kept = this.written - this.base;
    const size = Math.min(this.total - this.base, Math.max(2 * this.buf.length, kept + n, MIN_WINDOW));
    const grown = new Uint8Array(size);
    grown.set(this.buf.subarray(0, kept));
    this.buf = grown;
    this.moved(0);
  }

  write(chunk: Uint8Array): void {
    this.room(chunk.length);
    this.buf.set(chunk, this.written - this.base);
    this.written += chunk.length;
  }
}

/**
 * Bytes a sliding page keeps behind the write position: a Snappy copy reaches back at most 64 KiB
 * in what every common writer emits (the reference compressor works in 64 KiB blocks); a copy
 * reaching further than what is kept fails the page with a clear error instead of reading garbage.
 */
export const HISTORY = 1 << 20;

/** Smallest buffer a sink grows to (growth doubles from there). */
const MIN_WINDOW = 4 << 20;
