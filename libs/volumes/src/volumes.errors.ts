import { CodedError } from '@gw/errors';

/** Errors of the volume routes and store; mapped to the Milvus envelope in apps/api (one table). */
export enum VolumesErrorCode {
  /** bad name, bad path, bad paging (1100) */
  InvalidParameter = 'VOLUMES_INVALID_PARAMETER',
  MissingParameter = 'VOLUMES_MISSING_PARAMETER',
  VolumeNotFound = 'VOLUMES_NOT_FOUND',
  VolumeExists = 'VOLUMES_EXISTS',
  /** an active import job reads the volume */
  VolumeInUse = 'VOLUMES_IN_USE',
  FileNotFound = 'VOLUMES_FILE_NOT_FOUND',
  /** an upload beyond VOLUMES_MAX_FILE_BYTES (413 / 1102) */
  FileTooLarge = 'VOLUMES_FILE_TOO_LARGE',
  /** the backend refused or failed (permissions, network) */
  BackendFailed = 'VOLUMES_BACKEND_FAILED',
}

export class VolumesError extends CodedError<VolumesErrorCode> {}

export const volumesErrors = {
  invalid: (detail: string) => new VolumesError(VolumesErrorCode.InvalidParameter, `invalid parameter: ${detail}`),
  missing: (names: readonly string[]) =>
    new VolumesError(VolumesErrorCode.MissingParameter, `missing required parameters: ${names.join(', ')}`),
  notFound: (name: string) => new VolumesError(VolumesErrorCode.VolumeNotFound, `volume not found: ${name}`),
  exists: (name: string) => new VolumesError(VolumesErrorCode.VolumeExists, `volume already exists: ${name}`),
  inUse: (name: string) =>
    new VolumesError(VolumesErrorCode.VolumeInUse, `volume ${name} is read by an active import job; try again later`),
  fileNotFound: (name: string, path: string) =>
    new VolumesError(VolumesErrorCode.FileNotFound, `file not found: ${path} in volume ${name}`),
  tooLarge: (max: number) =>
    new VolumesError(VolumesErrorCode.FileTooLarge, `file too large: at most ${max} bytes (VOLUMES_MAX_FILE_BYTES)`),
  backend: (detail: string, cause?: unknown) =>
    new VolumesError(VolumesErrorCode.BackendFailed, `volume storage failed: ${detail}`, { cause }),
};
