import { openSync, closeSync } from 'fs';
import { isAbsolute, resolve } from 'path';
import type { Logger } from 'pino';
import { RouterChannel } from '@warden/shm-transport';
import type { AppPrototype, AppProcess, Credentials, LaunchSpec } from '../contracts';
import { ApplyError } from '../contracts';
import { spawnOffThread, type ThreadProcess } from './spawn-thread';

/** Said when an app process exits before it speaks the channel: the usual cause is an executable that is no Warden app. */
const SPEAK_THE_CHANNEL =
  'an app must serve through Warden\'s channel: a Go app calls warden.ListenAndServe (or unit.ListenAndServe), a Node app runs as type "node" or with unit-http';

/** Lifecycle of one app process as the pool sees it. */
export type WorkerState = 'starting' | 'running' | 'draining' | 'exited';

/** How a worker ended: exit code or signal, and whether wardend asked for it. */
export interface WorkerExit {
  code: number | null;
  signal: string | null;
  expected: boolean;
}

/**
 * A request in flight on a worker, as the gateway tracks it (an intrusive list: no allocation per request). The
 * supervisor moves the ones the app has not read yet to another process when this one stops reading.
 */
export interface InFlight {
  prev: InFlight | null;
  next: InFlight | null;
  /** The channel's write position when the request was sent (see RouterChannel.writePosition). */
  sentAt: number;
  /** Whether the request may be sent again elsewhere: no body, an idempotent method, no response yet. */
  movable(): boolean;
  /** Sends the request to `to` instead (the stream on this worker is aborted, unless release() did it already). */
  moveTo(to: AppWorker): void;
  /** Takes the request off this worker (its stream aborted) until moveTo() or giveUp(). */
  release(): void;
  /** No process took it over: the client gets 503 (unless it went away meanwhile). */
  giveUp(): void;
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
  /** Requests dispatched here and not finished (client aborts included: they end here, the app may still be busy). */
  inflight = 0;
  /** When the last request finished (or the process became ready): idle time counts from here, as in Unit. */
  idleSince = 0;
  /** Out of rotation: it has unread requests and has not read any for a while (see AppPool's health check). */
  stalled = false;
  /** Health check state: the app's read position last seen, and when it last moved (or had nothing to read). */
  lastRead = 0;
  progressAt = 0;
  /** Head of the list of requests in flight. */
  private first: InFlight | null = null;
  readonly exited: Promise<WorkerExit>;
  private resolveExit!: (exit: WorkerExit) => void;
  private stopping = false;
  /** Killed because its channel closed on a protocol violation (the pool backs off replacing such processes). */
  brokeProtocol = false;
  private process?: AppProcess;

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

  /** Counts a request dispatched to this process. */
  attach(r: InFlight): void {
    this.inflight++;
    r.prev = null;
    r.next = this.first;
    if (this.first) this.first.prev = r;
    this.first = r;
  }

  /** The request finished (answered, failed, timed out, aborted by the client) or moved elsewhere. */
  detach(r: InFlight): void {
    if (r.prev) r.prev.next = r.next;
    else if (this.first === r) this.first = r.next;
    else return; // not on this worker's list
    if (r.next) r.next.prev = r.prev;
    r.prev = r.next = null;
    if (--this.inflight === 0) this.idleSince = Date.now();
  }

  /** Requests in flight whose REQUEST frame the app has provably not read (it lies at or after its read position). */
  unread(): InFlight[] {
    const read = this.channel.readPosition();
    const out: InFlight[] = [];
    for (let r = this.first; r; r = r.next) if (((read - r.sentAt) | 0) <= 0 && r.movable()) out.push(r);
    return out;
  }

  /**
   * Starts the process and waits until its app says READY on the channel. Rejects with an ApplyError naming the
   * step when the process cannot be started, exits first, or is not ready within `readyTimeoutMs`.
   */
  async start(appName: string, spec: LaunchSpec, creds: Credentials | undefined, prototype: AppPrototype | undefined, readyTimeoutMs: number): Promise<void> {
    if (this.state !== 'starting') throw new ApplyError('the process was stopped before it started', appName, 'start');
    const env = { ...spec.env, ...this.channel.env() };
    const withEnv: LaunchSpec = { ...spec, env };
    try {
      if (prototype) {
        const proc = await prototype.spawn(withEnv, this.channel.fds);
        if ((this.state as WorkerState) === 'exited') {
          // Stopped while the prototype forked it.
          proc.kill('SIGKILL');
          throw new ApplyError('the process was stopped before it started', appName, 'start');
        }
        this.process = proc;
        this.pid = proc.pid;
        proc.exited.then(
          (e) => this.onExit(e.code, e.signal),
          () => this.onExit(null, null),
        );
      } else {
        const child = this.plainSpawn(withEnv, creds);
        this.process = child;
        void child.exited.then((e) => this.onExit(e.code, e.signal));
        try {
          await child.spawned;
        } catch (e) {
          this.stopping = true; // its exit (reported right after this) is the failed start, not a crash
          const err = e as NodeJS.ErrnoException;
          throw new ApplyError(`cannot execute "${spec.executable}": ${err.message}`, appName, 'exec', errnoOf(err));
        }
        this.pid = child.pid;
      }
    } finally {
      this.channel.closeChildFds();
    }
    this.log.info({ app_pid: this.pid }, 'app process started');
    let timer: NodeJS.Timeout | undefined;
    try {
      const exitedEarly = (e: WorkerExit) =>
        new ApplyError(`the process exited before it was ready (${describeExit(e)}); ${SPEAK_THE_CHANNEL}`, appName, 'ready');
      await Promise.race([
        // A process that exits closes its end of the channel, which may be seen before its exit status: wait for the
        // status (briefly) so that the error says the process exited, and how, rather than that the peer went away.
        this.channel.ready.catch(async (e: unknown) => {
          if ((e as { code?: string })?.code !== 'WARDEN_ERR_SHM_PEER_GONE') throw e;
          const exit = await Promise.race([this.exited, new Promise<undefined>((r) => setTimeout(() => r(undefined), 2000).unref())]);
          throw exit ? exitedEarly(exit) : e;
        }),
        this.exited.then((e) => {
          throw exitedEarly(e);
        }),
        new Promise((_, fail) => {
          timer = setTimeout(() => fail(new ApplyError(`the process was not ready within ${readyTimeoutMs} ms`, appName, 'ready')), readyTimeoutMs);
        }),
      ]);
    } catch (err) {
      this.kill('SIGKILL');
      throw err;
    } finally {
      clearTimeout(timer);
    }
    if (this.state === 'starting') this.state = 'running';
    this.idleSince = this.progressAt = Date.now();
  }

  /** Starts the process from the spawn thread (wardend's event loop never waits for fork and exec). */
  private plainSpawn(spec: LaunchSpec, creds: Credentials | undefined): ThreadProcess {
    const cwd = spec.cwd ?? process.cwd();
    const file = isAbsolute(spec.executable) ? spec.executable : resolve(cwd, spec.executable);
    const out = spec.stdout ? openSync(spec.stdout, 'a') : 'pipe';
    const err = spec.stderr ? openSync(spec.stderr, 'a') : 'pipe';
    const root = process.geteuid?.() === 0;
    const child = spawnOffThread(
      {
        file,
        argv0: spec.argv[0] ?? file,
        args: spec.argv.slice(1),
        cwd,
        env: spec.env,
        stdout: out,
        stderr: err,
        fds: this.channel.fds,
        uid: root && creds ? creds.uid : undefined,
        gid: root && creds ? creds.gid : undefined,
      },
      (stream, line) => (stream === 'stdout' ? this.log.info({ stream }, line) : this.log.warn({ stream }, line)),
    );
    const close = () => {
      if (typeof out === 'number') closeSync(out);
      if (typeof err === 'number') closeSync(err);
    };
    child.spawned.then(close, close);
    return child;
  }

  private onExit(code: number | null, signal: string | null): void {
    if (this.state === 'exited') return;
    this.state = 'exited';
    const exit = { code, signal, expected: this.stopping };
    // The exit status may come before the doorbell's EOF: what the app published before it exited (the rest of a
    // response it finished while draining) is delivered first.
    this.channel.closeAfterExit(new Error(`app process ${this.pid} exited (${describeExit(exit)})`));
    this.resolveExit(exit);
  }

  /** Graceful stop: the app finishes in-flight requests and exits; killed after `graceMs`. */
  async stop(graceMs: number): Promise<WorkerExit> {
    if (this.state === 'exited') return this.exited;
    this.stopping = true;
    if (!this.process) {
      // Not spawned yet (waiting for its prototype): nothing to wait for.
      this.onExit(null, null);
      return this.exited;
    }
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

  /** Replaces a process that stopped responding: SIGTERM now, SIGKILL after `killAfterMs` (a stopped process ignores SIGTERM). */
  terminate(killAfterMs: number): Promise<WorkerExit> {
    if (this.state === 'exited') return this.exited;
    this.state = 'draining';
    this.kill('SIGTERM');
    const hard = setTimeout(() => this.kill('SIGKILL'), killAfterMs);
    return this.exited.finally(() => clearTimeout(hard));
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
