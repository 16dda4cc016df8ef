/** The credential parts of an Azure Storage connection string. */
export interface AzureConnectionString {
  readonly accountName?: string;
  readonly accountKey?: string;
  /** SharedAccessSignature, without a leading `?`. */
  readonly sharedAccessSignature?: string;
}

const KNOWN = new Set([
  'defaultendpointsprotocol',
  'accountname',
  'accountkey',
  'sharedaccesssignature',
  'endpointsuffix',
  'blobendpoint',
  'queueendpoint',
  'tableendpoint',
  'fileendpoint',
  'usedevelopmentstorage',
  'developmentstorageproxyuri',
]);

/**
 * Parses `Key=Value;Key=Value` (keys case-insensitive, values may contain `=`, as base64 keys and
 * SAS do). Returns null for text that is not a connection string, so a plain account key is never
 * taken for one. Only credentials are kept: the object URL, not the connection string, says where
 * to connect (endpoints in it are ignored, docs/decisions/0105-azure-connection-strings.md).
 */
export function parseAzureConnectionString(text: string): AzureConnectionString | null {
  const parts = text
    .split(';')
    .map((p) => p.trim())
    .filter((p) => p !== '');
  if (parts.length === 0) return null;
  const values = new Map<string, string>();
  for (const p of parts) {
    const eq = p.indexOf('=');
    if (eq <= 0) return null;
    const key = p.slice(0, eq).trim().toLowerCase();
    if (!KNOWN.has(key)) return null;
    values.set(key, p.slice(eq + 1).trim());
  }
  const accountKey = values.get('accountkey');
  const sas = values.get('sharedaccesssignature')?.replace(/^\?/, '');
  if (accountKey === undefined && sas === undefined) return null;
  const accountName = values.get('accountname');
  return {
    ...(accountName === undefined || accountName === '' ? {} : { accountName }),
    ...(accountKey === undefined || accountKey === '' ? {} : { accountKey }),
    ...(sas === undefined || sas === '' ? {} : { sharedAccessSignature: sas }),
  };
}
