import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';

/** Object-store credentials of a request; they live encrypted in Postgres until the job ends. */
export interface StoredCredentials {
  accessKey?: string;
  secretKey?: string;
  token?: string;
  /** Full URLs of paths given with a signed query string (presigned S3/GCS, Azure SAS), by display form. */
  signedUrls?: Record<string, string>;
}

export interface SealedCredentials {
  keyId: string;
  iv: Buffer;
  ciphertext: Buffer;
  authTag: Buffer;
}

/** Identifies a key without revealing it, so rotated keys can still open older rows. */
export function keyIdOf(key: Buffer): string {
  return createHash('sha256').update('igw-credentials-key').update(key).digest('hex').slice(0, 16);
}

/** AES-256-GCM under GATEWAY_SECRET_KEY; the key id is authenticated as additional data. */
export class CredentialsCipher {
  private readonly keys: Map<string, Buffer>;
  private readonly currentId: string;

  constructor(current: Buffer, previous: readonly Buffer[] = []) {
    this.currentId = keyIdOf(current);
    this.keys = new Map([[this.currentId, current], ...previous.map((k) => [keyIdOf(k), k] as const)]);
  }

  seal(creds: StoredCredentials): SealedCredentials {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.keys.get(this.currentId)!, iv);
    cipher.setAAD(Buffer.from(this.currentId));
    const ciphertext = Buffer.concat([cipher.update(JSON.stringify(creds), 'utf8'), cipher.final()]);
    return { keyId: this.currentId, iv, ciphertext, authTag: cipher.getAuthTag() };
  }

  open(sealed: SealedCredentials): StoredCredentials {
    const key = this.keys.get(sealed.keyId);
    if (key === undefined) {
      throw new Error(`credentials were sealed with key ${sealed.keyId}, which is not configured`);
    }
    const decipher = createDecipheriv('aes-256-gcm', key, sealed.iv);
    decipher.setAAD(Buffer.from(sealed.keyId));
    decipher.setAuthTag(sealed.authTag);
    const text = Buffer.concat([decipher.update(sealed.ciphertext), decipher.final()]).toString('utf8');
    return JSON.parse(text) as StoredCredentials;
  }
}
