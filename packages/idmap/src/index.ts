/**
 * @warden/idmap — parse, validate, format and write the uid/gid maps of a Linux user namespace with NGINX Unit's
 * rules and messages. A leaf package: no other @warden import.
 */
export { IdMapError, MAX_ID_MAP_LINES, parseIdMap, formatIdMap, containerIdCovered, containerToHost } from './internal/id-map';
export type { IdMapEntry, IdMapField } from './internal/id-map';
export { validateIdMaps, resolveIdMaps } from './internal/validate';
export type { IdMapValidationInput, ValidatedIdMaps } from './internal/validate';
export { writeIdMaps } from './internal/write';
export type { IdMapWrite } from './internal/write';
