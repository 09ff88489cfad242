import type { Logger } from 'pino';
import { RouterChannel } from '@warden/shm-transport';
import type { AppConfig, AppLauncher, AppPrototype, LaunchSpec, PlanContext, ProcessSpawner, SpawnPlan } from '../contracts';
import { ApplyError } from '../contracts';
import { AppWorker, describeExit } from './app-worker';

/** Process-count policy of one app: Unit's `processes` as an integer (static) or `{max, spare, idle_timeout}`. */
export interface PoolPolicy {
  /** Processes started up front and kept (static N, or `spare` but at least 1 at start). */
  initial: number;
  max: number;
  spare: number;
  /** Stop idle processes beyond `spare` after this long; 0 = never (static pools). */
  idleTimeoutMs: number;
  /** `limits.requests`: replace a process after this many requests (0 = never). */
  maxRequests: number;
  /** `limits.timeout`: answer 503 when the app has not responded within this (0 = no limit). */
  timeoutMs: number;
}

/** Unit's defaults: `processes` absent = `{max: 1, spare: 0, idle_timeout: 15}`. */
export function poolPolicy(app: AppConfig): PoolPolicy {
  const p = app.processes;
  const limits = app.limits ?? {};
  const common = { maxRequests: limits.requests ?? 0, timeoutMs: Math.round((limits.timeout ?? 0) * 1000) };
  if (typeof p === 'number') return { initial: p, max: p, spare: p, idleTimeoutMs: 0, ...common };
  const max = p?.max ?? 1;
  const spare = p?.spare ?? 0;
  return { initial: Math.max(1, spare), max, spare, idleTimeoutMs: (p?.idle_timeout ?? 15) * 1000, ...common };
}

/** Everything a pool needs from the daemon, resolved once per app. */
export interface PoolDeps {
  launcher: AppLauncher;
  ctx: PlanContext;
  /** Present when the app has an `isolation` object. */
  isolation?: { spawner: ProcessSpawner; plan: SpawnPlan };
  log: Logger;
  readyTimeoutMs: number;
  drainGraceMs: number;
}

type Waiter = (worker: AppWorker | undefined) => void;

/** Longest queue of requests waiting for a process before new ones get 503. */
const MAX_WAITING = 4096;

/**
 * The processes of one application: starts them (through the isolation prototype when the app is isolated),
 * scales between `spare` and `max`, replaces crashed processes with backoff, replaces a process after
 * `limits.requests`, and drains gracefully.
 */
export class AppPool {
  readonly policy: PoolPolicy;
  readonly workers: AppWorker[] = [];
  private starting = 0;
  private readonly waiting: Waiter[] = [];
  private prototype?: AppPrototype;
  private spec!: LaunchSpec;
  private closed = false;
  private failures = 0;
  /**
   * Processes killed for breaking the channel protocol in this pool's life. Unlike `failures` (reset by every start
   * that reaches READY), it keeps growing, so an app that misbehaves right after READY is replaced with a growing delay.
   */
  private violations = 0;
  private restartTimer?: NodeJS.Timeout;
  private idleTimer?: NodeJS.Timeout;
  private readonly lastBusy = new WeakMap<AppWorker, number>();

  constructor(
    readonly name: string,
    readonly config: AppConfig,
    private readonly deps: PoolDeps,
  ) {
    this.policy = poolPolicy(config);
  }

  /** Starts the prototype (if isolated) and the initial processes; rejects with an ApplyError if any fails. */
  async start(): Promise<void> {
    this.spec = this.deps.launcher.launch(this.config, this.deps.ctx);
    if (this.deps.isolation) {
      this.prototype = await this.deps.isolation.spawner.createPrototype(this.name, this.deps.isolation.plan);
    }
    try {
      const starts: Promise<AppWorker>[] = [];
      for (let i = 0; i < this.policy.initial; i++) starts.push(this.startWorker());
      const results = await Promise.allSettled(starts);
      const failed = results.find((r) => r.status === 'rejected') as PromiseRejectedResult | undefined;
      if (failed) throw failed.reason;
    } catch (err) {
      await this.close(0);
      throw err;
    }
    if (this.policy.idleTimeoutMs > 0) {
      const every = Math.max(250, Math.min(this.policy.idleTimeoutMs / 2, 5000));
      this.idleTimer = setInterval(() => this.reapIdle(), every);
      this.idleTimer.unref();
    }
  }

  /**
   * Hands a process to `cb` for one request: the least busy running one, or the next that becomes ready (starting
   * one if allowed). `cb(undefined)` when the app cannot take the request (closed, or too many waiting).
   */
  acquire(cb: Waiter): void {
    const worker = this.pick();
    if (worker) {
      cb(worker);
      return;
    }
    if (this.closed || this.waiting.length >= MAX_WAITING) {
      cb(undefined);
      return;
    }
    this.waiting.push(cb);
    if (this.starting === 0 && this.workers.length < this.policy.max) this.spawnInBackground();
  }

  private pick(): AppWorker | undefined {
    let best: AppWorker | undefined;
    let bestActive = Infinity;
    let running = 0;
    for (const w of this.workers) {
      if (w.state !== 'running') continue;
      running++;
      const a = w.active;
      if (a < bestActive) {
        best = w;
        bestActive = a;
      }
    }
    if (!best) return undefined;
    // Every process busy and room to grow: start one more for the requests to come.
    if (bestActive > 0 && this.starting === 0 && running + this.starting < this.policy.max && !this.closed) {
      this.spawnInBackground();
    }
    best.served++;
    this.lastBusy.set(best, Date.now());
    if (this.policy.maxRequests > 0 && best.served >= this.policy.maxRequests) this.retire(best, 'request limit');
    return best;
  }

  /** Stops taking requests on `worker`, lets its in-flight requests finish, and starts a replacement. */
  private retire(worker: AppWorker, why: string): void {
    worker.state = 'draining';
    this.deps.log.info({ app_pid: worker.pid, served: worker.served }, `replacing app process (${why})`);
    const stillNeeded = this.workers.filter((w) => w.state === 'running').length < Math.max(1, this.policy.spare);
    if (stillNeeded) this.spawnInBackground();
    // Defer the shutdown so that the request this worker was just picked for is sent first.
    setImmediate(() => void worker.stop(this.deps.drainGraceMs));
  }

  private startWorker(): Promise<AppWorker> {
    const channel = RouterChannel.create({ logger: this.deps.log });
    const worker = new AppWorker(channel, this.deps.log);
    this.workers.push(worker);
    this.starting++;
    const started = worker
      .start(this.name, this.spec, this.deps.ctx.credentials, this.prototype, this.deps.readyTimeoutMs)
      .then(
        () => {
          this.starting--;
          this.lastBusy.set(worker, Date.now());
          this.flushWaiting();
          return worker;
        },
        (err: unknown) => {
          this.starting--;
          this.remove(worker);
          throw err;
        },
      );
    worker.exited.then((exit) => this.onWorkerExit(worker, exit));
    return started;
  }

  private spawnInBackground(): void {
    this.startWorker().then(
      () => (this.failures = 0),
      (err: Error) => {
        this.deps.log.error({ err: err.message }, 'app process failed to start');
        this.scheduleRecovery();
      },
    );
  }

  private flushWaiting(): void {
    while (this.waiting.length > 0) {
      const worker = this.pick();
      if (!worker) return;
      this.waiting.shift()!(worker);
    }
  }

  private onWorkerExit(worker: AppWorker, exit: { code: number | null; signal: string | null; expected: boolean }): void {
    this.remove(worker);
    if (this.closed) return;
    if (!exit.expected) {
      this.deps.log.error({ app_pid: worker.pid, code: exit.code, signal: exit.signal }, `app process exited unexpectedly (${describeExit(exit)})`);
      this.failures++;
    }
    if (worker.brokeProtocol) this.violations++;
    this.scheduleRecovery();
  }

  /** Keeps the pool at its minimum (and serves waiting requests), restarting with exponential backoff after failures. */
  private scheduleRecovery(): void {
    if (this.closed || this.restartTimer) return;
    const live = this.workers.filter((w) => w.state === 'running' || w.state === 'starting').length;
    const want = Math.max(this.policy.spare, this.waiting.length > 0 ? 1 : 0, this.policy.initial > 0 && typeof this.config.processes === 'number' ? this.policy.initial : 0);
    if (live >= want) return;
    const n = Math.max(this.failures, this.violations);
    const delay = n === 0 ? 0 : Math.min(100 * 2 ** (n - 1), 5000);
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      const now = this.workers.filter((w) => w.state === 'running' || w.state === 'starting').length;
      for (let i = now; i < want && !this.closed; i++) this.spawnInBackground();
    }, delay);
  }

  private reapIdle(): void {
    const now = Date.now();
    let idle = this.workers.filter((w) => w.state === 'running' && w.active === 0);
    for (const w of idle) {
      if (idle.length <= this.policy.spare) break;
      if (now - (this.lastBusy.get(w) ?? now) >= this.policy.idleTimeoutMs) {
        this.deps.log.info({ app_pid: w.pid }, 'stopping idle app process');
        void w.stop(this.deps.drainGraceMs);
        idle = idle.filter((x) => x !== w);
      }
    }
  }

  private remove(worker: AppWorker): void {
    const i = this.workers.indexOf(worker);
    if (i >= 0) this.workers.splice(i, 1);
  }

  /** Unit's `/status/applications/<name>` shape. */
  status(): { processes: { running: number; starting: number; idle: number }; requests: { active: number } } {
    let running = 0;
    let idle = 0;
    let active = 0;
    for (const w of this.workers) {
      if (w.state !== 'running') continue;
      running++;
      const a = w.active;
      active += a;
      if (a === 0) idle++;
    }
    return { processes: { running, starting: this.starting, idle }, requests: { active } };
  }

  /** Host pids of the live processes (for logs and tests). */
  pids(): number[] {
    return this.workers.filter((w) => w.state === 'running').map((w) => w.pid);
  }

  /** Graceful stop: in-flight requests finish (up to `graceMs`), then the prototype goes. */
  async close(graceMs = this.deps.drainGraceMs): Promise<void> {
    this.closed = true;
    clearTimeout(this.restartTimer);
    clearInterval(this.idleTimer);
    for (const cb of this.waiting.splice(0)) cb(undefined);
    await Promise.all(this.workers.map((w) => w.stop(graceMs)));
    if (this.prototype) {
      await this.prototype.close().catch((err: Error) => this.deps.log.warn({ err: err.message }, 'closing the prototype failed'));
    }
  }
}

/** Convert an unexpected error from a pool start into an ApplyError naming the app. */
export function asApplyError(app: string, err: unknown): ApplyError {
  if (err instanceof ApplyError) return err.app ? err : new ApplyError(err.message, app, err.step, err.errno, err.code);
  const e = err as { message?: string; step?: string; errno?: number };
  return new ApplyError(e?.message ?? String(err), app, e?.step ?? 'start', e?.errno);
}
