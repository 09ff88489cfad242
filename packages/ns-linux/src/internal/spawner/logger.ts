/** The part of a pino logger the spawner uses (structural, so ns-linux needs no pino dependency). */
export interface LoggerLike {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
  child?(bindings: object): LoggerLike;
}

/** A logger that drops everything (when wardend gives none, e.g. in library use). */
export const SILENT_LOGGER: LoggerLike = { info() {}, warn() {}, error() {} };
