export {
  DEFAULT_MAX_QUEUED_BYTES,
  DEFAULT_PIECE_BYTES,
  stageGroup,
  type StageGroupInput,
  type StageGroupOptions,
} from './stage-group';
export { ParsePool, parseThreadEntry } from './parse-pool';
export { ChunkQueue } from './chunk-queue';
