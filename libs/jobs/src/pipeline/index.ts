export {
  DEFAULT_MAX_QUEUED_BYTES,
  DEFAULT_PIECE_BYTES,
  stageGroup,
  stageUnits,
  type StageGroupInput,
  type StageUnit,
  type StageGroupOptions,
} from './stage-group';
export { ParsePool, parseThreadEntry } from './parse-pool';
export { ChunkQueue } from './chunk-queue';
