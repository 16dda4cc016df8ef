import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import type { ObjectWriter } from '../object-writer';
import type { S3Driver } from './s3';

/** Parts of a multipart upload: S3's minimum is 5 MiB; 8 MiB keeps memory per upload bounded and small. */
export const S3_PART_BYTES = 8 * 1024 * 1024;

/**
 * Streams into S3 in parts: a body shorter than one part is a single PutObject, anything longer a
 * multipart upload completed at the end (so the object appears only whole) and aborted on any
 * failure. At most one part is held in memory.
 */
export function s3Writer(driver: S3Driver, bucket: string, prefix: string): ObjectWriter {
  const fail = (e: unknown, key: string): never => {
    throw driver.storageError(e, key);
  };
  return {
    async put(key, body) {
      const Key = prefix + key;
      let part: Buffer[] = [];
      let partBytes = 0;
      let size = 0;
      let uploadId: string | undefined;
      const parts: { ETag: string; PartNumber: number }[] = [];
      const flush = async () => {
        const Body = Buffer.concat(part, partBytes);
        part = [];
        partBytes = 0;
        if (uploadId === undefined) {
          const created = await driver.send((c) => c.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key })));
          uploadId = created.UploadId;
        }
        const PartNumber = parts.length + 1;
        const r = await driver.send((c) =>
          c.send(new UploadPartCommand({ Bucket: bucket, Key, UploadId: uploadId, PartNumber, Body })),
        );
        parts.push({ ETag: r.ETag ?? '', PartNumber });
      };
      try {
        for await (const chunk of body) {
          part.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length));
          partBytes += chunk.length;
          size += chunk.length;
          if (partBytes >= S3_PART_BYTES) await flush();
        }
        if (uploadId === undefined) {
          const Body = Buffer.concat(part, partBytes);
          await driver.send((c) => c.send(new PutObjectCommand({ Bucket: bucket, Key, Body })));
          return { size };
        }
        if (partBytes > 0) await flush();
        await driver.send((c) =>
          c.send(
            new CompleteMultipartUploadCommand({
              Bucket: bucket,
              Key,
              UploadId: uploadId,
              MultipartUpload: { Parts: parts },
            }),
          ),
        );
        return { size };
      } catch (e) {
        if (uploadId !== undefined) {
          const id = uploadId;
          await driver
            .send((c) => c.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key, UploadId: id })))
            .catch(() => undefined);
        }
        return fail(e, key);
      }
    },
    async delete(key) {
      try {
        await driver.send((c) => c.send(new DeleteObjectCommand({ Bucket: bucket, Key: prefix + key })));
        return true;
      } catch (e) {
        return fail(e, key);
      }
    },
    async deletePrefix(sub) {
      let token: string | undefined;
      do {
        const page = await driver.send((c) =>
          c.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix + sub, ContinuationToken: token })),
        );
        const keys = (page.Contents ?? []).flatMap((o) => (o.Key === undefined ? [] : [{ Key: o.Key }]));
        for (const { Key } of keys) {
          // One by one: DeleteObjects needs Content-MD5, which S3-compatible stores handle unevenly.
          await driver.send((c) => c.send(new DeleteObjectCommand({ Bucket: bucket, Key })));
        }
        token = page.IsTruncated === true ? page.NextContinuationToken : undefined;
      } while (token !== undefined);
    },
    close() {
      driver.close();
    },
  };
}
