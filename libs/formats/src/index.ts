export { FormatError, FormatErrorCode, locationMessage } from './formats.errors';
export type { FormatErrorLocation } from './formats.errors';
export { byteInputFromBuffer, byteInputFromFile } from './byte-input';
export type { ByteInput } from './byte-input';
export { formatOf, formatOfPath, validateCsvOptions } from './format-of';
export type { FileFormat } from './format-of';
export type { FileGroupReader, ReadOptions, RejectedRow } from './reader';
export { openFileGroup } from './open-file-group';
export { MAX_RAW_BYTES, MAX_ROW_BYTES, rawText } from './text';
