import { FormatError, FormatErrorCode, type FormatErrorLocation } from './formats.errors';

/** IMPORT_MAX_PAGE_BYTES's default (docs/decisions/0801-declared-sizes.md). */
export const DEFAULT_MAX_PAGE_BYTES = 256 * 1024 * 1024;

/**
 * Highest ratio of a page's declared decompressed size to its stored size. Snappy cannot pass ~21,
 * LZ4 ~255 and deflate ~1032; zstd and brotli can reach millions, which is how a 70 KB page asks
 * for 2 GiB. Writers that page by size (DuckDB, Arrow, Spark: ~1 MB pages) stay far below.
 */
export const MAX_DECOMPRESSION_RATIO = 1024;

/**
 * Pages that decompress to at most this much are not held to the ratio: a DuckDB page is a whole
 * column chunk (122,880 rows × 128 floats = 63 MB), and regular or constant data (all-zero
 * vectors) compresses past 1024:1. Memory stays bounded by IMPORT_MAX_PAGE_BYTES across the
 * columns of a row group (PageBudget).
 */
export const RATIO_FREE_BYTES = 64 << 20;

/**
 * Largest Parquet footer read: it is parsed into objects several times its size, so it gets a
 * tighter bound than a page (a footer of 100,000 row groups × 10 columns is ~20 MB).
 */
export const MAX_FOOTER_BYTES = 64 * 1024 * 1024;

/** The limit a reader applies: ReadOptions.maxPageBytes or the default. */
export function maxPageBytesOf(opts: { readonly maxPageBytes?: number }): number {
  return opts.maxPageBytes ?? DEFAULT_MAX_PAGE_BYTES;
}

/** The error for a declared size refused before allocation; `what` says what declared it. */
export function tooLarge(loc: FormatErrorLocation, problem: string): FormatError {
  return new FormatError(FormatErrorCode.TooLarge, loc, problem);
}
