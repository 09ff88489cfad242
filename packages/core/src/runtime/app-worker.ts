import { openSync, closeSync } from 'fs';
import { isAbsolute, resolve } from 'path';
import type { Logger } from 'pino';
import type { AppPrototype, AppProcess, Credentials, LaunchSpec } from '../contracts';
import { ApplyError } from '../contracts';
import { spawnApp } from './process-spawn';
import type { ProcessActivity } from './fleet/protocol';
import type { ProcessChannels, ProcessPeer, RouterFleet } from './fleet/router-fleet';

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
 * One process of an application with its shared-memory channel. Started either with a plain spawn (apps without
 * `isolation`) or through the app's isolation prototype, so that every process of an isolated app shares its
 * namespaces.
 */
export class AppWorker implements ProcessPeer {
  state: WorkerState = 'starting';
  /** Host pid, known once spawned. */
  pid = 0;
  /** When the process became ready (idle time counts from here until a router reports requests). */
  private readyAt = 0;
  /** Each router's numbers for this process (its requests in flight, served, idle since, stalled, back-pressure). */
  private readonly byRouter = new Map<number, ProcessActivity>();
  readonly exited: Promise<WorkerExit>;
  private resolveExit!: (exit: WorkerExit) => void;
  private stopping = false;
  /** While draining until idle: starts the grace when no request is in flight, stops it when one is (see stop()). */
  private drainClock?: () => void;
  /** Killed because a router saw it break the channel protocol (the pool backs off replacing such processes). */
  brokeProtocol = false;
  private process?: AppProcess;
  private channels?: ProcessChannels;
  /** Aborted when the process is stopped before it was spawned: its start stops waiting for the routers. */
  private readonly unstarted = new AbortController();
  /** What the pool does when a router asks to replace this process. */
  onReplace: (why: 'stalled' | 'protocol' | 'requests') => void = () => undefined;

  constructor(
    readonly token: number,
    private readonly fleet: RouterFleet,
    private readonly pool: number,
    private readonly log: Logger,
  ) {
    this.exited = new Promise((r) => (this.resolveExit = r));
  }

  // ProcessPeer: what the routers report.
  activity(router: number, a: ProcessActivity): void {
    this.byRouter.set(router, a);
    this.drainClock?.();
  }

  routerGone(router: number): void {
    const a = this.byRouter.get(router);
    if (!a) return;
    // Its requests in flight on this process failed with it.
    this.byRouter.set(router, { ...a, inflight: 0, stalled: false });
    this.drainClock?.();
  }

  replace(why: 'stalled' | 'protocol' | 'requests'): void {
    if (this.state === 'exited') return;
    this.onReplace(why);
  }

  /** Requests in flight on it, over all routers. */
  get inflight(): number {
    let n = 0;
    for (const a of this.byRouter.values()) n += a.inflight;
    return n;
  }

  /** Requests the routers sent it. */
  get served(): number {
    let n = 0;
    for (const a of this.byRouter.values()) n += a.served;
    return n;
  }

  /** When its last request finished on any router (or it became ready): idle time counts from here, as in Unit. */
  get idleSince(): number {
    let t = this.readyAt;
    for (const a of this.byRouter.values()) if (a.idleSince > t) t = a.idleSince;
    return t;
  }

  /** Out of rotation on some router: it has unread requests there and has not read any for a while. */
  get stalled(): boolean {
    for (const a of this.byRouter.values()) if (a.stalled) return true;
    return false;
  }

  /** Back-pressure counters of its channels, summed over the routers (metrics). */
  get channel(): { ringFullWaits: number; creditWaits: number } {
    let ringFullWaits = 0;
    let creditWaits = 0;
    for (const a of this.byRouter.values()) {
      ringFullWaits += a.ringFullWaits;
      creditWaits += a.creditWaits;
    }
    return { ringFullWaits, creditWaits };
  }

  /** The router asked to replace it for breaking the protocol: killed now, counted as a crash. */
  killForProtocol(): void {
    if (this.stopping || this.state === 'exited') return;
    this.log.error({ app_pid: this.pid }, 'app process broke the channel protocol: replacing it');
    if (this.state === 'running') this.state = 'draining';
    this.brokeProtocol = true;
    try {
      this.process?.kill('SIGKILL');
    } catch {
      /* already gone */
    }
  }

  /**
   * Starts the process and waits until its app says READY on the channel. Rejects with an ApplyError naming the
   * step when the process cannot be started, exits first, or is not ready within `readyTimeoutMs`.
   */
  async start(appName: string, spec: LaunchSpec, creds: Credentials | undefined, prototype: AppPrototype | undefined, readyTimeoutMs: number): Promise<void> {
    if (this.state !== 'starting') throw new ApplyError('the process was stopped before it started', appName, 'start');
    const channels = await this.fleet.openChannels(this, this.pool, this.unstarted.signal).catch((e: Error) => {
      throw e instanceof ApplyError ? new ApplyError(e.message, appName, e.step) : e;
    });
    this.channels = channels;
    const env = { ...spec.env, ...channels.env };
    const withEnv: LaunchSpec = { ...spec, env };
    try {
      if ((this.state as WorkerState) === 'exited') throw new ApplyError('the process was stopped before it started', appName, 'start');
      if (prototype) {
        const proc = await prototype.spawn(withEnv, channels.fds);
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
        const child = this.plainSpawn(appName, withEnv, creds);
        this.process = child;
        this.pid = child.pid;
        void child.exited.then((e) => this.onExit(e.code, e.signal));
      }
      channels.started(this.pid);
    } finally {
      channels.closeChildFds();
    }
    this.log.info({ app_pid: this.pid }, 'app process started');
    let timer: NodeJS.Timeout | undefined;
    try {
      const exitedEarly = (e: WorkerExit) =>
        new ApplyError(`the process exited before it was ready (${describeExit(e)}); ${SPEAK_THE_CHANNEL}`, appName, 'ready');
      await Promise.race([
        // A process that exits closes its end of the channel, which may be seen before its exit status: wait for the
        // status (briefly) so that the error says the process exited, and how, rather than that the peer went away.
        channels.ready.catch(async (e: unknown) => {
          // A channel that closed before READY (on any router) most often means the process exited: say how.
          const code = (e as { code?: string })?.code;
          if (code !== 'WARDEN_ERR_SHM_PEER_GONE' && code !== 'WARDEN_ERR_SHM_CLOSED') throw e;
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
    this.readyAt = Date.now();
  }

  /** Starts the process (without fork(): see spawnApp); a failed exec is the failed start, reported as ApplyError. */
  private plainSpawn(appName: string, spec: LaunchSpec, creds: Credentials | undefined): AppProcess {
    const cwd = spec.cwd ?? process.cwd();
    const file = isAbsolute(spec.executable) ? spec.executable : resolve(cwd, spec.executable);
    const out = spec.stdout ? openSync(spec.stdout, 'a') : 'pipe';
    const err = spec.stderr ? openSync(spec.stderr, 'a') : 'pipe';
    const root = process.geteuid?.() === 0;
    try {
      return spawnApp(
        {
          file,
          argv0: spec.argv[0] ?? file,
          args: spec.argv.slice(1),
          cwd,
          env: spec.env,
          stdout: out,
          stderr: err,
          fds: this.channels!.fds,
          uid: root && creds ? creds.uid : undefined,
          gid: root && creds ? creds.gid : undefined,
          // The user's supplementary groups, as Unit's nxt_process_creds_set gives them (getgrouplist).
          groups: root && creds ? creds.groups : undefined,
        },
        (stream, line) => (stream === 'stdout' ? this.log.info({ stream }, line) : this.log.warn({ stream }, line)),
      );
    } catch (e) {
      this.stopping = true; // the exit reported now is the failed start, not a crash
      this.onExit(null, null);
      const error = e as NodeJS.ErrnoException;
      throw new ApplyError(`cannot execute "${spec.executable}": ${error.message}`, appName, 'exec', errnoOf(error));
    } finally {
      // The child has its copies (or there is no child).
      if (typeof out === 'number') closeSync(out);
      if (typeof err === 'number') closeSync(err);
    }
  }

  private onExit(code: number | null, signal: string | null): void {
    if (this.state === 'exited') return;
    this.state = 'exited';
    const exit = { code, signal, expected: this.stopping };
    // Each router closes its channel once it read what the app published before it exited (the rest of a response
    // it finished while draining).
    this.fleet.gone(this.token, `app process ${this.pid} exited (${describeExit(exit)})`);
    this.resolveExit(exit);
  }

  /**
   * Stops taking requests on it and tells it to quit once its requests are done. It gets SIGTERM `graceMs` after
   * that (SIGKILL 2 s later) if it has not exited: counted from now, or with `untilIdle` from when the routers report
   * no request in flight on it, so that a long request (an upload, a report) finishes however long it takes, as Unit
   * quits only processes without responses pending (nxt_router_app_quit); the clock stops while one is in flight.
   */
  async stop(graceMs: number, untilIdle = false): Promise<WorkerExit> {
    if (this.state === 'exited') return this.exited;
    this.stopping = true;
    if (!this.process) {
      // Not spawned yet (waiting for its prototype or its channels): nothing to wait for, and its start fails now.
      this.unstarted.abort();
      this.onExit(null, null);
      return this.exited;
    }
    this.state = 'draining';
    this.fleet.retire(this.token);
    let timer: NodeJS.Timeout | undefined;
    let hard: NodeJS.Timeout | undefined;
    const arm = (on: boolean) => {
      if (on === (timer !== undefined)) return;
      if (on) {
        timer = setTimeout(() => this.kill('SIGTERM'), graceMs);
        hard = setTimeout(() => this.kill('SIGKILL'), graceMs + 2000);
      } else {
        clearTimeout(timer);
        clearTimeout(hard);
        timer = hard = undefined;
      }
    };
    if (untilIdle) {
      this.drainClock = () => arm(this.inflight === 0);
      this.drainClock();
    } else arm(true);
    try {
      return await this.exited;
    } finally {
      this.drainClock = undefined;
      arm(false);
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
