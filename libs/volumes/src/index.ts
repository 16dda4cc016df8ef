export { VolumesError, VolumesErrorCode, volumesErrors } from './volumes.errors';
export { checkVolumeName, checkVolumePath, isVolumeUrl, parseVolumeUrl, volumeUrl } from './volume-paths';
export { MAX_FILES_PAGE_SIZE, VolumeStore, type UploadResult, type VolumeFile, type VolumeView } from './volume-store';
