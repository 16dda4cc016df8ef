import { createHash, createHmac } from 'node:crypto';
import { SignatureV4 } from '@smithy/signature-v4';
import type { ObjectLocation, StorageConfig } from './location';

/** node:crypto behind the Hash interface SignatureV4 expects (the signer itself is AWS's). */
class NodeSha256 {
  private readonly h;
  constructor(secret?: string | ArrayBuffer | ArrayBufferView) {
    this.h =
      secret === undefined
        ? createHash('sha256')
        : createHmac('sha256', typeof secret === 'string' ? secret : Buffer.from(secret as ArrayBuffer));
  }
  update(data: string | ArrayBuffer | ArrayBufferView): void {
    this.h.update(typeof data === 'string' ? data : Buffer.from(data as ArrayBuffer));
  }
  digest(): Promise<Uint8Array> {
    return Promise.resolve(new Uint8Array(this.h.digest()));
  }
}

/**
 * A presigned S3 PUT URL for one key of an S3 location, signed with the server's configured keys
 * (STORAGE_S3_ACCESS_KEY / STORAGE_S3_SECRET_KEY) — the URL carries a signature, never the
 * secret. Undefined when the location is not S3 or no static keys are configured (ambient
 * credentials are temporary and would make URLs that die with them).
 */
export async function presignS3Put(
  location: ObjectLocation,
  key: string,
  config: StorageConfig,
  expiresInSeconds: number,
): Promise<{ url: string; expiresAt: Date } | undefined> {
  const { accessKey, secretKey } = config.s3;
  if (location.provider !== 's3' || accessKey === undefined || secretKey === undefined) return undefined;
  const region = location.region ?? config.s3.region ?? 'us-east-1';
  const encodedKey = key.split('/').map(encodeURIComponent).join('/');
  let origin: URL;
  let path: string;
  if (location.endpoint !== undefined && config.s3.forcePathStyle) {
    origin = new URL(location.endpoint);
    path = `/${location.bucket}/${encodedKey}`;
  } else if (location.endpoint !== undefined) {
    const ep = new URL(location.endpoint);
    origin = new URL(`${ep.protocol}//${location.bucket}.${ep.host}`);
    path = `/${encodedKey}`;
  } else {
    origin = new URL(`https://${location.bucket}.s3.${region}.amazonaws.com`);
    path = `/${encodedKey}`;
  }
  const signer = new SignatureV4({
    service: 's3',
    region,
    credentials: { accessKeyId: accessKey, secretAccessKey: secretKey },
    sha256: NodeSha256,
    uriEscapePath: false, // the path is encoded above, once
  });
  const signedAt = new Date();
  const signed = await signer.presign(
    {
      method: 'PUT',
      protocol: origin.protocol,
      hostname: origin.hostname,
      ...(origin.port === '' ? {} : { port: Number(origin.port) }),
      path,
      query: {},
      headers: { host: origin.host, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' },
    },
    {
      signingDate: signedAt,
      expiresIn: expiresInSeconds,
      // As @aws-sdk/s3-request-presigner does: S3 presigned URLs sign an unsigned payload.
      unhoistableHeaders: new Set(['x-amz-content-sha256']),
      unsignableHeaders: new Set(['x-amz-content-sha256']),
    },
  );
  const query = Object.entries(signed.query ?? {})
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`)
    .join('&');
  return { url: `${origin.origin}${path}?${query}`, expiresAt: new Date(signedAt.getTime() + expiresInSeconds * 1000) };
}
