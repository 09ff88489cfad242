import pino from 'pino';
import type { Logger } from 'pino';

/**
 * The daemon's single pino logger: JSON lines to stderr, or appended to `file` (`--log`). Writes are synchronous so
 * that the readiness line and the last lines before an exit are never lost. Read them with `pino-pretty`.
 */
export function createLogger(file?: string, level = process.env.WARDEN_LOG_LEVEL ?? 'info'): Logger {
  const dest = file ? pino.destination({ dest: file, sync: true, mkdir: true, append: true }) : pino.destination({ fd: 2, sync: true });
  return pino({ name: 'wardend', level, base: { pid: process.pid } }, dest);
}
