import { Readable } from 'node:stream';
import type { ObjectWriter } from '../object-writer';
import type { AzureDriver } from './azure';

/** Blocks staged per upload: 4 MiB each, two in flight — at most ~8 MiB of an upload in memory. */
const BLOCK_BYTES = 4 * 1024 * 1024;
const BLOCKS_IN_FLIGHT = 2;

/**
 * Streams into Azure Blob as staged blocks committed by one Put Block List at the end, so the blob
 * appears only whole; a failed upload commits nothing (Azure drops uncommitted blocks itself).
 */
export function azureWriter(driver: AzureDriver, prefix: string): ObjectWriter {
  const fail = (e: unknown, key: string): never => {
    throw driver.storageError(e, key);
  };
  return {
    async put(key, body) {
      let size = 0;
      async function* counted(): AsyncIterable<Uint8Array> {
        for await (const c of body) {
          size += c.length;
          yield c;
        }
      }
      try {
        await driver.client
          .getBlockBlobClient(prefix + key)
          .uploadStream(Readable.from(counted(), { objectMode: false }), BLOCK_BYTES, BLOCKS_IN_FLIGHT);
        return { size };
      } catch (e) {
        return fail(e, key);
      }
    },
    async delete(key) {
      try {
        return (await driver.client.getBlockBlobClient(prefix + key).deleteIfExists()).succeeded;
      } catch (e) {
        return fail(e, key);
      }
    },
    async deletePrefix(sub) {
      for await (const b of driver.client.listBlobsFlat({ prefix: prefix + sub })) {
        await driver.client.getBlockBlobClient(b.name).deleteIfExists();
      }
    },
    close() {
      driver.close();
    },
  };
}
