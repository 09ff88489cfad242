import pino from 'pino';
import type { Logger } from 'pino';

/**
 * The daemon's single pino logger: JSON lines to stderr, or appended to `file` (`--log`). Writes are synchronous so
 * that the readiness line and the last lines before an exit are never lost. Read them with `pino-pretty`.
 */
export function createLogger(file?: string, level = process.env.WARDEN_LOG_LEVEL ?? 'info'): Logger {
  const dest = file ? pino.destination({ dest: file, sync: true, mkdir: true, append: true }) : pino.destination({ fd: 2, sync: true });
  const log = pino({ name: 'wardend', level, base: { pid: process.pid } }, dest);
  if (file) logFiles.set(log, dest);
  return log;
}

/** Log files opened by createLogger, by logger (stderr loggers have none). */
const logFiles = new WeakMap<Logger, { reopen(file?: string): void }>();

/**
 * Reopens the log file of a logger made by createLogger (SIGUSR1, as Unit does, after logrotate moved the file):
 * later lines go to a new file at the same path. False when the logger writes to stderr. Throws if the path cannot
 * be opened any more.
 */
export function reopenLogFile(log: Logger): boolean {
  const dest = logFiles.get(log);
  if (!dest) return false;
  dest.reopen();
  return true;
}
