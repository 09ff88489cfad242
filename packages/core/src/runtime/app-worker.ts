import { spawn, type ChildProcess } from 'child_process';
import { openSync, closeSync } from 'fs';
import { isAbsolute, resolve } from 'path';
import type { Logger } from 'pino';
import { RouterChannel } from '@warden/shm-transport';
import type { AppPrototype, AppProcess, Credentials, LaunchSpec } from '../contracts';
import { ApplyError } from '../contracts';

/** Lifecycle of one app process as the pool sees it. */
export type WorkerState = 'starting' | 'running' | 'draining' | 'exited';

/** How a worker ended: exit code or signal, and whether wardend asked for it. */
export interface WorkerExit {
  code: number | null;
  signal: string | null;
  expected: boolean;
}

/**
 * One process of an application with its shared-memory channel. Started either with a plain spawn (apps without
 * `isolation`) or through the app's isolation prototype, so that every process of an isolated app shares its
 * namespaces.
 */
export class AppWorker {
  state: WorkerState = 'starting';
  /** Requests dispatched to this worker since it started (for `limits.requests`). */
  served = 0;
  /** Host pid, known once spawned. */
  pid = 0;
  readonly exited: Promise<WorkerExit>;
  private resolveExit!: (exit: WorkerExit) => void;
  private stopping = false;
  /** Killed because its channel closed on a protocol violation (the pool backs off replacing such processes). */
  brokeProtocol = false;
  private process?: AppProcess | ChildProcess;

  constructor(
    readonly channel: RouterChannel,
    private readonly log: Logger,
  ) {
    this.exited = new Promise((r) => (this.resolveExit = r));
    channel.on('close', (err?: Error) => this.onChannelClosed(err));
  }

  /**
   * The router end closed the channel on an error while the process runs (a protocol violation such as a malformed
   * frame or a doorbell flood, or one of our listeners threw): the process can serve nothing more. It leaves rotation
   * and is killed; its exit counts as unexpected, so the pool replaces it with the crash backoff. A peer that went
   * away (`WARDEN_ERR_SHM_PEER_GONE`) is exiting: its exit does the rest.
   */
  private onChannelClosed(err?: Error): void {
    const code = (err as { code?: string } | undefined)?.code;
    if (code !== 'WARDEN_ERR_SHM_PROTOCOL' && code !== 'WARDEN_ERR_SHM_LISTENER') return;
    if (this.stopping || this.state === 'exited') return;
    this.log.error({ app_pid: this.pid, err: err!.message }, 'app process broke the channel protocol: replacing it');
    if (this.state === 'running') this.state = 'draining';
    this.brokeProtocol = true;
    try {
      this.process?.kill('SIGKILL');
    } catch {
      /* already gone */
    }
  }

  /** Active streams on this worker's channel. */
  get active(): number {
    return this.channel.activeStreams;
  }

  /**
   * Starts the process and waits until its app says READY on the channel. Rejects with an ApplyError naming the
   * step when the process cannot be started, exits first, or is not ready within `readyTimeoutMs`.
   */
  async start(
    appName: string,
    spec: LaunchSpec,
    creds: Credentials | undefined,
    prototype: AppPrototype | undefined,
    readyTimeoutMs: number,
  ): Promise<void> {
    const env = { ...spec.env, ...this.channel.env() };
    const withEnv: LaunchSpec = { ...spec, env };
    try {
      if (prototype) {
        const proc = await prototype.spawn(withEnv, this.channel.fds);
        this.process = proc;
        this.pid = proc.pid;
        proc.exited.then((e) => this.onExit(e.code, e.signal), () => this.onExit(null, null));
      } else {
        const child = this.plainSpawn(withEnv, creds);
        this.process = child;
        this.pid = child.pid ?? 0;
        child.on('exit', (code, signal) => this.onExit(code, signal));
        await new Promise<void>((ok, fail) => {
          child.once('spawn', ok);
          child.once('error', (err: NodeJS.ErrnoException) =>
            fail(new ApplyError(`cannot execute "${spec.executable}": ${err.message}`, appName, 'exec', errnoOf(err))),
          );
        });
      }
    } finally {
      this.channel.closeChildFds();
    }
    this.log.info({ app_pid: this.pid }, 'app process started');
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        this.channel.ready,
        this.exited.then((e) => {
          throw new ApplyError(
            `the process exited before it was ready (${describeExit(e)})`,
            appName,
            'ready',
          );
        }),
        new Promise((_, fail) => {
          timer = setTimeout(
            () => fail(new ApplyError(`the process was not ready within ${readyTimeoutMs} ms`, appName, 'ready')),
            readyTimeoutMs,
          );
        }),
      ]);
    } catch (err) {
      this.kill('SIGKILL');
      throw err;
    } finally {
      clearTimeout(timer);
    }
    if (this.state === 'starting') this.state = 'running';
  }

  private plainSpawn(spec: LaunchSpec, creds: Credentials | undefined): ChildProcess {
    const cwd = spec.cwd ?? process.cwd();
    const file = isAbsolute(spec.executable) ? spec.executable : resolve(cwd, spec.executable);
    const out = spec.stdout ? openSync(spec.stdout, 'a') : 'pipe';
    const err = spec.stderr ? openSync(spec.stderr, 'a') : 'pipe';
    const root = process.geteuid?.() === 0;
    try {
      const child = spawn(file, spec.argv.slice(1), {
        argv0: spec.argv[0] ?? file,
        cwd,
        env: spec.env,
        stdio: ['ignore', out, err, ...this.channel.fds],
        uid: root && creds ? creds.uid : undefined,
        gid: root && creds ? creds.gid : undefined,
      });
      forwardLines(child.stdout, (line) => this.log.info({ stream: 'stdout' }, line));
      forwardLines(child.stderr, (line) => this.log.warn({ stream: 'stderr' }, line));
      return child;
    } finally {
      if (typeof out === 'number') closeSync(out);
      if (typeof err === 'number') closeSync(err);
    }
  }

  private onExit(code: number | null, signal: string | null): void {
    if (this.state === 'exited') return;
    this.state = 'exited';
    const exit = { code, signal, expected: this.stopping };
    this.channel.close(new Error(`app process ${this.pid} exited (${describeExit(exit)})`));
    this.resolveExit(exit);
  }

  /** Graceful stop: the app finishes in-flight requests and exits; killed after `graceMs`. */
  async stop(graceMs: number): Promise<WorkerExit> {
    if (this.state === 'exited') return this.exited;
    this.stopping = true;
    this.state = 'draining';
    this.channel.shutdown();
    const timer = setTimeout(() => this.kill('SIGTERM'), graceMs);
    const hard = setTimeout(() => this.kill('SIGKILL'), graceMs + 2000);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
      clearTimeout(hard);
    }
  }

  kill(signal: NodeJS.Signals): void {
    this.stopping = true;
    try {
      this.process?.kill(signal);
    } catch {
      /* already gone */
    }
  }
}

/** "exit code 2" / "signal SIGKILL". */
export function describeExit(e: { code: number | null; signal: string | null }): string {
  return e.signal ? `signal ${e.signal}` : `exit code ${e.code}`;
}

function errnoOf(err: NodeJS.ErrnoException): number | undefined {
  return typeof err.errno === 'number' ? Math.abs(err.errno) : undefined;
}

function forwardLines(stream: NodeJS.ReadableStream | null, emit: (line: string) => void): void {
  if (!stream) return;
  let rest = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    const lines = (rest + chunk).split('\n');
    rest = lines.pop() ?? '';
    for (const line of lines) if (line) emit(line);
    if (rest.length > 16384) {
      emit(rest);
      rest = '';
    }
  });
  stream.on('end', () => rest && emit(rest));
}
