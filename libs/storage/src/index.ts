export { StorageError, StorageErrorCode, isStorageError } from './storage.errors';
export type { ClosableObjectSource, ObjectSource, ObjectStat, ReadPin, RetryOptions } from './object-source';
export { DEFAULT_RETRY } from './object-source';
export {
  parseObjectLocation,
  stripQuery,
  type ObjectLocation,
  type StorageConfig,
  type StorageProvider,
} from './location';
export { validateCredentials, type StorageCredentials } from './credentials';
export {
  EgressGuard,
  checkHostName,
  classifyAddress,
  egressPolicyFrom,
  isAddressAllowed,
  pinnedLookup,
  systemResolver,
  type AddressClass,
  type EgressPolicy,
  type ResolvedAddress,
  type Resolver,
} from './egress';
export { guarded } from './guarded';
export { groupObjects, assertFileSize, expandFolder, type FileGroup, type FileGroupKind } from './groups';
export { openObjectSource, openObjectWriter, keyDisplay, type ObjectSourceDeps } from './factory';
export { openLocalSource } from './drivers/local';
export { openLocalWriter, UPLOAD_TEMP_PREFIX, type ObjectWriter } from './object-writer';
export { MAX_RELATIVE_KEY_BYTES, relativeKeyProblem } from './relative-key';
export { presignS3Put } from './presign';
