import { closeSync, mkdirSync, openSync } from 'fs';
import { dirname } from 'path';
import { isatty } from 'tty';
import pino from 'pino';
import type { DestinationStream, Logger } from 'pino';
import { unitLogLine } from './unit-log-format';

/**
 * How log lines are written: `json` (one pino JSON object per line: every field kept, what log pipelines and `jq`
 * read) or `unit` (NGINX Unit's error-log lines, `YYYY/MM/DD HH:MM:SS [level] pid#tid message`, with Unit's wording
 * where Unit logs the same event). `auto` picks `unit` when the log goes to a terminal and `json` otherwise.
 */
export type LogFormat = 'json' | 'unit';

/** The `--log-format` values. */
export const LOG_FORMATS: readonly (LogFormat | 'auto')[] = ['auto', 'json', 'unit'];

/** Options of {@link createLogger}. */
export interface LoggerOptions {
  /** Default `auto`. */
  format?: LogFormat | 'auto';
  /** pino level; default `$WARDEN_LOG_LEVEL` or `info`. */
  level?: string;
}

/**
 * `auto` → `unit` when the log goes to a terminal (people read it there), `json` otherwise (a file, a pipe, journald,
 * a container runtime: a program reads it, and JSON keeps every field).
 */
export function resolveLogFormat(format: LogFormat | 'auto', toTerminal: boolean): LogFormat {
  if (format !== 'auto') return format;
  return toTerminal ? 'unit' : 'json';
}

/**
 * The daemon's single pino logger: to stderr, or appended to `file` (`--log`), in the chosen format. Writes are
 * synchronous so that the readiness line and the last lines before an exit are never lost.
 */
export function createLogger(file?: string, options: LoggerOptions = {}): Logger {
  const level = options.level ?? process.env.WARDEN_LOG_LEVEL ?? 'info';
  const dest = file ? pino.destination({ dest: file, sync: true, mkdir: true, append: true }) : pino.destination({ fd: 2, sync: true });
  const format = resolveLogFormat(options.format ?? 'auto', file === undefined && isatty(2));
  const log = pino({ name: 'wardend', level, base: { pid: process.pid } }, format === 'unit' ? unitStream(dest) : dest);
  if (file) logFiles.set(log, { reopen: () => reopenChecked(dest, file) });
  return log;
}

/** A stream that turns each pino JSON line into a Unit line before writing it to `dest`. */
function unitStream(dest: DestinationStream): DestinationStream {
  return {
    write(line: string) {
      let text: string;
      try {
        text = unitLogLine(JSON.parse(line));
      } catch {
        text = line; // never lose a line to a formatting problem
      }
      dest.write(text);
    },
  };
}

/**
 * Reopens `dest` at `file` only once the path is known to open (Unit's SIGUSR1 opens the new file first and keeps the
 * old one on any failure): a path that cannot be opened (a directory there, a dangling symlink) made the destination
 * raise its error again as an uncaught exception, which stopped wardend. Throws that error; the old file stays in use.
 */
function reopenChecked(dest: { reopen(file?: string): void }, file: string): void {
  mkdirSync(dirname(file), { recursive: true }); // a removed log directory is made again, as at the start
  closeSync(openSync(file, 'a'));
  dest.reopen();
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
