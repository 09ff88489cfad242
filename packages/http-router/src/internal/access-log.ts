import { closeSync, createWriteStream, type WriteStream } from 'fs';
import { promises as fsp } from 'fs';
import type { AccessLog } from './compiled-config';
import type { ListenerHost, RouterLogger } from './ports';
import type { RequestContext } from './request-context';

/** The `access_log` file: opened when a config is prepared, switched at commit, reopened on SIGUSR1, one line per request. */
export class AccessLogWriter {
  private stream: WriteStream | null = null;
  private path: string | null = null;
  private closed = false;

  constructor(
    private readonly log: RouterLogger,
    private readonly host: ListenerHost | null = null,
  ) {}

  /** `path` opened for appending: by the host when there is one (an unprivileged router), else here. */
  private async open(path: string): Promise<LogFile> {
    if (this.host === null) return fsp.open(path, 'a');
    const fd = await this.host.openAppend(path);
    return { createWriteStream: () => createWriteStream('', { fd }), close: async () => closeSync(fd) };
  }

  /**
   * Opens `path` for a config being prepared, unless it is the file in use (null then): an access log that cannot
   * be written fails the apply instead of every request.
   */
  async prepare(path: string | null): Promise<LogFile | null> {
    if (path === null || path === this.path) return null;
    return this.open(path).catch((err: NodeJS.ErrnoException) => {
      err.message = `access log "${path}": ${err.message}`;
      throw err;
    });
  }

  /** Installs the log of a committed config (`file` from prepare()). */
  install(path: string | null, file: LogFile | null): void {
    if (path === this.path) return;
    if (this.stream) void endStream(this.stream);
    this.stream = null;
    this.path = path;
    if (path === null || file === null) return;
    const stream = file.createWriteStream();
    stream.on('error', (err) => this.log.error({ err, path }, 'access log write failed'));
    this.stream = stream;
  }

  /**
   * Reopens the log at its configured path (after logrotate moved the file): lines written from now on go to a new
   * file. If the path cannot be opened, the old file stays in use and the error is thrown.
   */
  async reopen(): Promise<void> {
    const path = this.path;
    if (path === null || this.closed) return;
    const file = await this.open(path);
    if (this.path !== path || this.closed) {
      await file.close(); // reconfigured meanwhile: the new config's log is already in place
      return;
    }
    this.path = null; // makes install replace the stream for the same path
    this.install(path, file);
  }

  /** Writes the line of a completed request, as `log` (the running config's access_log) formats it. */
  write(log: AccessLog, ctx: RequestContext): void {
    if (this.stream === null) return;
    try {
      if (log.cond && !log.cond(ctx)) return;
      this.stream.write(log.format(ctx) + '\n');
    } catch (err) {
      this.log.warn({ err }, 'access log line failed');
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.stream) await endStream(this.stream);
    this.stream = null;
  }
}

function endStream(s: WriteStream): Promise<void> {
  return new Promise((resolve) => s.end(() => resolve()));
}

/** An open access log file: a node FileHandle, or an fd the host opened. */
export interface LogFile {
  createWriteStream(): WriteStream;
  close(): Promise<void>;
}
