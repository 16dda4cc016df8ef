import { parseAzureConnectionString } from '@gw/config';
import type { ObjectLocation } from './location';
import { StorageError, StorageErrorCode } from './storage.errors';

/** Request credentials (spec §4). Held in memory only while a job runs; never logged. */
export interface StorageCredentials {
  accessKey?: string;
  secretKey?: string;
  token?: string;
}

/** A Google service-account key as found in `secretKey`. */
export interface ServiceAccountKey {
  type: 'service_account';
  client_email: string;
  private_key: string;
  project_id?: string;
}

const invalid = (why: string) => new StorageError(StorageErrorCode.InvalidCredentials, `invalid credentials: ${why}`);

export function parseServiceAccount(secret: string | undefined): ServiceAccountKey | undefined {
  if (secret === undefined || !secret.trimStart().startsWith('{')) return undefined;
  let v: unknown;
  try {
    v = JSON.parse(secret);
  } catch {
    return undefined;
  }
  if (typeof v !== 'object' || v === null) return undefined;
  const o = v as Record<string, unknown>;
  if (typeof o.client_email !== 'string' || typeof o.private_key !== 'string') return undefined;
  return {
    type: 'service_account',
    client_email: o.client_email,
    private_key: o.private_key,
    ...(typeof o.project_id === 'string' ? { project_id: o.project_id } : {}),
  };
}

/**
 * Checks the combinations of spec §4 and returns the credentials with blanks removed, or
 * undefined when none were given (server defaults apply). Messages never echo a value.
 * With a location, provider-specific rules apply too (Azure account must match the URL).
 */
export function validateCredentials(
  creds: StorageCredentials | undefined,
  location?: ObjectLocation,
): StorageCredentials | undefined {
  const clean = (v: string | undefined) => (v === undefined || v.trim() === '' ? undefined : v.trim());
  const accessKey = clean(creds?.accessKey);
  const secretKey = clean(creds?.secretKey);
  const token = clean(creds?.token);
  if (accessKey === undefined && secretKey === undefined && token === undefined) return undefined;
  const serviceAccount = parseServiceAccount(secretKey);
  const connection = secretKey === undefined ? null : parseAzureConnectionString(secretKey);
  if (accessKey !== undefined && secretKey === undefined) throw invalid('accessKey given without secretKey');
  if (secretKey !== undefined && accessKey === undefined && serviceAccount === undefined && connection === null) {
    throw invalid('secretKey given without accessKey');
  }
  if (location !== undefined) {
    switch (location.provider) {
      case 's3':
        if (serviceAccount !== undefined) throw invalid('a service-account key is only valid for GCS');
        if (connection !== null) throw invalid('a connection string is only valid for Azure');
        if (token !== undefined && accessKey === undefined)
          throw invalid('token (session token) needs accessKey and secretKey');
        break;
      case 'gcs':
        if (connection !== null) throw invalid('a connection string is only valid for Azure');
        if (serviceAccount !== undefined && accessKey !== undefined) {
          throw invalid('a service-account key in secretKey is used without accessKey');
        }
        break;
      case 'azure':
        if (serviceAccount !== undefined) throw invalid('a service-account key is only valid for GCS');
        if (accessKey !== undefined && accessKey !== location.account) {
          throw invalid('accessKey must be the storage account of the URL');
        }
        if (connection !== null && connection.accountName !== location.account) {
          throw invalid('the connection string must be for the storage account of the URL');
        }
        break;
      case 'http':
        break;
    }
  }
  return {
    ...(accessKey === undefined ? {} : { accessKey }),
    ...(secretKey === undefined ? {} : { secretKey }),
    ...(token === undefined ? {} : { token }),
  };
}
