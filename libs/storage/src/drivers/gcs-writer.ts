import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { File } from '@google-cloud/storage';
import type { ObjectWriter } from '../object-writer';
import { statusError } from '../resilient';
import { StorageError, StorageErrorCode } from '../storage.errors';
import type { GcsDriver } from './gcs';

/** The SDK's request options as its interceptors see them (the type itself is not exported). */
type RequestOptions = ReturnType<File['interceptors'][number]['request']>;

/**
 * Chunks of a resumable upload: GCS wants multiples of 256 KiB and recommends at least 8 MiB. The
 * SDK holds one chunk per upload in memory (plus the first, held here to choose the upload kind).
 */
export const GCS_CHUNK_BYTES = 8 * 1024 * 1024;

/**
 * Streams into GCS: a body shorter than one chunk is a single multipart upload (metadata and
 * bytes in one request); anything longer a resumable session fed one chunk per request, whose
 * last request (the only one declaring the total size) is what makes the object exist. A body
 * that fails midway never sends that request, so nothing appears; the open session is abandoned
 * (GCS expires it after a week; it holds no object). Both kinds are checked against the
 * store's CRC32C by the SDK. Server credentials only (the driver is built with them).
 */
export function gcsWriter(driver: GcsDriver, prefix: string): ObjectWriter {
  const fail = (e: unknown, key: string): never => {
    const mapped = driver.storageError(e, key);
    // The resumable path reports HTTP failures as a plain Error with the status as `code`.
    if (mapped instanceof Error && mapped.name === 'Upload failed') {
      const code = (mapped as Error & { code?: unknown }).code;
      if (typeof code === 'number' && code > 0) throw statusError(code, driver.display(key), mapped);
    }
    throw mapped;
  };
  return {
    async put(key, body) {
      const iterator = body[Symbol.asyncIterator]();
      const head: Buffer[] = [];
      let headBytes = 0;
      let size = 0;
      let done = false;
      try {
        const file = await driver.file(prefix + key);
        while (headBytes < GCS_CHUNK_BYTES) {
          const next = await iterator.next();
          if (next.done === true) {
            done = true;
            break;
          }
          head.push(Buffer.from(next.value.buffer, next.value.byteOffset, next.value.length));
          headBytes += next.value.length;
        }
        size = headBytes;
        if (done) {
          await file.save(Buffer.concat(head, headBytes), {
            resumable: false,
            validation: 'crc32c',
            contentType: 'application/octet-stream',
          });
          return { size };
        }
        async function* all(): AsyncIterable<Uint8Array> {
          yield* head;
          head.length = 0;
          for (;;) {
            const next = await iterator.next();
            if (next.done === true) return;
            size += next.value.length;
            yield next.value;
          }
        }
        const authorization = await driver.customEndpointAuthorization();
        if (authorization !== undefined) {
          // One token per upload: an upload outliving it (about an hour) fails and is retried whole.
          file.interceptors.push({
            request(o: RequestOptions): RequestOptions {
              o.headers = { ...o.headers, Authorization: authorization };
              return o;
            },
          });
        }
        await pipeline(
          Readable.from(all(), { objectMode: false }),
          file.createWriteStream({
            resumable: true,
            chunkSize: GCS_CHUNK_BYTES,
            validation: 'crc32c',
            contentType: 'application/octet-stream',
          }),
        );
        return { size };
      } catch (e) {
        // A refused upload (size limit, client gone) keeps its own error, as for S3 and Azure.
        if (!done) await iterator.return?.().catch(() => undefined);
        return fail(e, key);
      }
    },
    async delete(key) {
      try {
        await (await driver.file(prefix + key)).delete();
        return true;
      } catch (e) {
        const mapped = driver.storageError(e, key);
        if (mapped instanceof StorageError && mapped.code === StorageErrorCode.NotFound) return false;
        return fail(e, key);
      }
    },
    async deletePrefix(sub) {
      let token: string | undefined;
      do {
        const page = await driver.filesPage(prefix + sub, token).catch((e: unknown) => fail(e, sub));
        for (const f of page.files) {
          // Gone already (a concurrent delete) is what we want.
          await f.delete({ ignoreNotFound: true }).catch((e: unknown) => fail(e, f.name.slice(prefix.length)));
        }
        token = page.next;
      } while (token !== undefined);
    },
    close() {},
  };
}
