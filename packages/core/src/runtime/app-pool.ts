import type { Logger } from 'pino';
import type { AppConfig, AppLauncher, AppPrototype, LaunchSpec, PlanContext, ProcessSpawner, SpawnPlan } from '../contracts';
import { ApplyError } from '../contracts';
import { performance } from 'perf_hooks';
import { appEnvironment, startupEnvironment } from './app-environment';
import { AppWorker, describeExit, type WorkerExit } from './app-worker';
import type { AppStats } from './warden-metrics';
import type { PoolPeer, RouterFleet } from './fleet/router-fleet';
import type { RouterPoolPolicy } from './fleet/protocol';

/**
 * Process-count policy of one app, Unit's `processes`: absent or an integer N means N processes started with the
 * config and kept (max = spare = N, never stopped for idleness); an object `{max, spare, idle_timeout}` (defaults
 * 1, 0, 15 s) keeps `spare` processes idle (the routers ask for one more while fewer are idle or starting), starts more
 * on demand up to `max`, and stops idle ones above `spare`.
 */
export interface PoolPolicy {
  /** Processes started with the config and kept running: `spare` (0 = none until the first request). */
  initial: number;
  max: number;
  spare: number;
  /** Stop idle processes beyond `spare` after this long (counted from the end of their last request); 0 = never. */
  idleTimeoutMs: number;
  /** `limits.requests`: replace a process after this many requests (0 = never). */
  maxRequests: number;
  /** `limits.timeout`: answer 503 when the app has not responded within this (0 = no limit). */
  timeoutMs: number;
}

/** Unit's mapping (nxt_router.c): `processes` absent = 1; an integer N = `{max: N, spare: N}`; an object's keys default to 1, 0, 15. */
export function poolPolicy(app: AppConfig): PoolPolicy {
  const p = app.processes;
  const limits = app.limits ?? {};
  const common = { maxRequests: limits.requests ?? 0, timeoutMs: Math.round((limits.timeout ?? 0) * 1000) };
  if (p === undefined || p === null || typeof p === 'number') {
    const n = typeof p === 'number' ? p : 1;
    return { initial: n, max: n, spare: n, idleTimeoutMs: 0, ...common };
  }
  const max = p.max ?? 1;
  const spare = p.spare ?? 0;
  return { initial: spare, max, spare, idleTimeoutMs: (p.idle_timeout ?? 15) * 1000, ...common };
}

/** Everything a pool needs from the daemon, resolved once per app. */
export interface PoolDeps {
  launcher: AppLauncher;
  ctx: PlanContext;
  /** Present when the app has an `isolation` object; `plan()` builds a fresh plan for each prototype. */
  isolation?: { spawner: ProcessSpawner; plan: () => SpawnPlan };
  log: Logger;
  readyTimeoutMs: number;
  drainGraceMs: number;
  /** The app's counters for the metrics (restarts, spawn latency, back-pressure of retired channels). */
  stats?: AppStats;
  /** The router processes: they dispatch to this pool's processes over their own channels. */
  fleet: RouterFleet;
  /** What the app's processes inherit, the launcher's `env` going over it (default: wardend's environment at start). */
  inheritedEnv?: Readonly<Record<string, string>>;
}

let nextPoolId = 1;
/** Without `limits.timeout`, a process that stays stalled this long is replaced (with it, after `limits.timeout`). */
export const HEALTH_DEADLINE_MS = 10_000;
/** A process being replaced gets SIGTERM, then SIGKILL after this long (a stopped process only dies of SIGKILL). */
export const KILL_GRACE_MS = 2000;
/** Processes started at the same time; each spawn is its own event-loop turn, so listeners keep serving. */
export const START_CONCURRENCY = 4;
/** How often the pool looks at its processes (idle processes). */
const CHECK_MS = 100;
/** Backoff between failed starts (of processes or of the prototype): 100 ms doubling up to 5 s. */
const backoff = (failures: number) => (failures === 0 ? 0 : Math.min(100 * 2 ** (failures - 1), 5000));

/**
 * The processes of one application: starts them (through the isolation prototype when the app is isolated, which is
 * recreated with backoff when it dies), scales between `spare` and `max`, dispatches to the least busy process,
 * takes processes that stopped reading their requests out of rotation and replaces them, replaces crashed processes
 * with backoff, replaces a process after `limits.requests`, and drains gracefully.
 */
export class AppPool implements PoolPeer {
  readonly id = nextPoolId++;
  readonly policy: PoolPolicy;
  readonly workers: AppWorker[] = [];
  /** Processes being started (spawned, not ready yet). */
  private starting = 0;
  /** Starts asked for but not begun yet (at most START_CONCURRENCY run at once). */
  private queued = 0;
  private pumping = false;
  private prototype?: AppPrototype;
  private protoStart?: Promise<AppPrototype>;
  private readonly origin = new WeakMap<AppWorker, AppPrototype>();
  private spec!: LaunchSpec;
  private closed = false;
  private failures = 0;
  /**
   * Processes killed for breaking the channel protocol in this pool's life. Unlike `failures` (reset by every start
   * that reaches READY), it keeps growing, so an app that misbehaves right after READY is replaced with a growing delay.
   */
  private violations = 0;
  private restartTimer?: NodeJS.Timeout;
  private timer?: NodeJS.Timeout;
  /** Longest wait for a process before a request gets 503: `limits.timeout`, else the time a process may take to start. */
  private readonly waitMs: number;
  private readonly healthDeadlineMs: number;

  constructor(
    readonly name: string,
    readonly config: AppConfig,
    private readonly deps: PoolDeps,
  ) {
    this.policy = poolPolicy(config);
    this.waitMs = this.policy.timeoutMs || deps.readyTimeoutMs;
    this.healthDeadlineMs = this.policy.timeoutMs || HEALTH_DEADLINE_MS;
    deps.fleet.registerPool(this, name, this.routerPolicy());
  }

  /** What the routers need to dispatch to this pool. */
  private routerPolicy(): RouterPoolPolicy {
    const p = this.policy;
    return { max: p.max, spare: p.spare, timeoutMs: p.timeoutMs, maxRequests: p.maxRequests, waitMs: this.waitMs, healthDeadlineMs: this.healthDeadlineMs };
  }

  /** PoolPeer: a router has requests waiting, or all processes busy: one more process, if `max` allows. */
  demand(): void {
    if (this.closed) return;
    if (this.starting + this.queued === 0 && this.live() < this.policy.max) this.requestStart(1);
  }

  /**
   * Starts the prototype (if isolated) and the first processes (up to START_CONCURRENCY of `spare`); rejects with an
   * ApplyError if any fails. The rest of `spare` start in the background, so that a large pool neither holds the
   * change lock nor blocks the event loop while it starts. With `spare: 0` no process starts until a request comes.
   */
  async start(): Promise<void> {
    try {
      const launched = this.deps.launcher.launch(this.config, this.deps.ctx);
      this.spec = { ...launched, env: appEnvironment(this.deps.inheritedEnv ?? startupEnvironment(), launched.env) };
      if (this.deps.isolation) await this.ensurePrototype(true);
      const first = Math.min(this.policy.initial, START_CONCURRENCY);
      const starts: Promise<AppWorker>[] = [];
      for (let i = 0; i < first; i++) starts.push(this.startWorker());
      const results = await Promise.allSettled(starts);
      const failed = results.find((r) => r.status === 'rejected') as PromiseRejectedResult | undefined;
      if (failed) throw failed.reason;
      if (this.closed) throw new ApplyError('the application was stopped while it started', this.name, 'start');
    } catch (err) {
      await this.close(0);
      throw err;
    }
    this.timer = setInterval(() => this.tick(), CHECK_MS);
    this.timer.unref();
    this.scheduleRecovery();
  }

  /** Stops taking requests on `worker`, lets its in-flight requests finish, and starts a replacement. */
  private retire(worker: AppWorker, why: string): void {
    if (worker.state !== 'running' && worker.state !== 'starting') return;
    worker.state = 'draining';
    this.deps.log.info({ app_pid: worker.pid, served: worker.served }, `replacing app process (${why})`);
    if (this.running() < Math.max(1, this.policy.spare)) this.requestStart(1);
    // Defer the shutdown so that the request this worker was just picked for is sent first.
    setImmediate(() => void worker.stop(this.deps.drainGraceMs, true));
  }

  private running(): number {
    let n = 0;
    for (const w of this.workers) if (w.state === 'running') n++;
    return n;
  }

  /** Processes running or on their way. */
  private live(): number {
    let n = this.queued;
    for (const w of this.workers) if (w.state === 'running' || w.state === 'starting') n++;
    return n;
  }

  private requestStart(n: number): void {
    if (this.closed) return;
    this.queued += n;
    this.pumpStarts();
  }

  /** Begins queued starts, one per event-loop turn, at most START_CONCURRENCY at once. */
  private pumpStarts(): void {
    if (this.pumping || this.closed || this.queued === 0 || this.starting >= START_CONCURRENCY) return;
    this.pumping = true;
    setImmediate(() => {
      this.pumping = false;
      if (this.closed || this.queued === 0 || this.starting >= START_CONCURRENCY) return;
      this.queued--;
      this.startWorker().then(
        () => (this.failures = 0),
        (err: Error) => this.onStartFailed(err),
      );
      this.pumpStarts();
    });
  }

  private onStartFailed(err: Error): void {
    if (this.closed) return;
    this.failures++;
    this.deps.log.error({ err: err.message, attempt: this.failures }, 'app process failed to start');
    // Nothing serves: the requests waiting for this start fail now (503, as in Unit) rather than at their deadline.
    if (this.live() === 0) this.deps.fleet.poolFailed(this.id);
    this.scheduleRecovery();
  }

  private startWorker(): Promise<AppWorker> {
    const worker = new AppWorker(this.deps.fleet.newToken(), this.deps.fleet, this.id, this.deps.log);
    worker.onReplace = (why) => this.onReplace(worker, why);
    this.workers.push(worker);
    this.starting++;
    void worker.exited.then((exit) => this.onWorkerExit(worker, exit));
    const run = async () => {
      const proto = this.deps.isolation ? await this.ensurePrototype(false) : undefined;
      if (this.closed) throw new ApplyError('the application was stopped while it started', this.name, 'start');
      if (proto) this.origin.set(worker, proto);
      const t0 = performance.now();
      await worker.start(this.name, this.spec, this.deps.ctx.credentials, proto, this.deps.readyTimeoutMs);
      this.deps.stats?.spawn.observe((performance.now() - t0) / 1000);
    };
    return run().then(
      () => {
        this.starting--;
        this.pumpStarts();
        return worker;
      },
      (err: unknown) => {
        this.starting--;
        this.remove(worker);
        this.deps.fleet.gone(worker.token, 'the process did not start');
        this.pumpStarts();
        throw err;
      },
    );
  }

  /** The live prototype, or the one being (re)created. The first (at apply) fails fast; later ones retry with backoff. */
  private ensurePrototype(first: boolean): Promise<AppPrototype> {
    if (this.prototype) return Promise.resolve(this.prototype);
    this.protoStart ??= this.createPrototype(first).finally(() => (this.protoStart = undefined));
    return this.protoStart;
  }

  private async createPrototype(first: boolean, previous?: AppPrototype): Promise<AppPrototype> {
    const iso = this.deps.isolation!;
    if (previous) {
      // Its cleanups (the cgroup) run before the new one sets up the same things again.
      await previous.close().catch((err: Error) => this.deps.log.warn({ err: err.message }, 'closing the dead prototype failed'));
    }
    for (let attempt = 1; ; attempt++) {
      if (this.closed) throw new ApplyError('the application was stopped while it started', this.name, 'prototype');
      if (!first) this.deps.log.info({ attempt }, 'starting the prototype of the application');
      try {
        const proto = await iso.spawner.createPrototype(this.name, iso.plan());
        if (this.closed) {
          await proto.close();
          throw new ApplyError('the application was stopped while it started', this.name, 'prototype');
        }
        this.prototype = proto;
        void proto.done?.then(() => this.onPrototypeExit(proto));
        return proto;
      } catch (err) {
        if (first || this.closed) throw err;
        const delay = backoff(attempt);
        this.deps.log.error({ err: (err as Error).message, attempt, retry_in_ms: delay }, 'the prototype failed to start');
        await new Promise((r) => setTimeout(r, delay).unref());
      }
    }
  }

  /** The prototype died (killed, crashed): its processes went with it; a new one is created at once, then with backoff. */
  private onPrototypeExit(proto: AppPrototype): void {
    if (this.prototype !== proto) return;
    this.prototype = undefined;
    if (this.closed) return;
    this.deps.log.error({ prototype_pid: proto.pid }, 'the prototype of the application exited; recreating it');
    this.protoStart ??= this.createPrototype(false, proto).finally(() => (this.protoStart = undefined));
    this.protoStart.catch(() => undefined);
    this.scheduleRecovery();
  }

  private onWorkerExit(worker: AppWorker, exit: WorkerExit): void {
    this.remove(worker);
    if (this.closed) return;
    // Its prototype died and took it along: not a failure of the app (the prototype is being recreated).
    const proto = this.origin.get(worker);
    const withPrototype = proto !== undefined && proto !== this.prototype;
    if (!exit.expected && !withPrototype) {
      this.deps.log.error({ app_pid: worker.pid, code: exit.code, signal: exit.signal }, `app process exited unexpectedly (${describeExit(exit)})`);
      this.failures++;
      if (this.deps.stats) this.deps.stats.crashes++;
    }
    if (worker.brokeProtocol) this.violations++;
    this.scheduleRecovery();
  }

  /** Keeps the pool at `spare` processes (and one for waiting requests), restarting with exponential backoff after failures. */
  private scheduleRecovery(): void {
    if (this.closed || this.restartTimer) return;
    const want = () => this.policy.spare;
    if (this.live() >= want()) return;
    this.restartTimer = setTimeout(
      () => {
        this.restartTimer = undefined;
        const missing = want() - this.live();
        if (missing > 0) this.requestStart(missing);
      },
      backoff(Math.max(this.failures, this.violations)),
    );
  }

  private tick(): void {
    if (this.policy.idleTimeoutMs > 0) this.reapIdle(Date.now());
  }

  /** A router asks to replace `w`: it served `limits.requests`, stopped reading its requests, or broke the protocol. */
  private onReplace(w: AppWorker, why: 'stalled' | 'protocol' | 'requests'): void {
    if (this.closed || w.state === 'exited') return;
    if (why === 'requests') {
      this.retire(w, 'request limit');
      return;
    }
    if (why === 'protocol') {
      w.killForProtocol();
      return;
    }
    if (w.state !== 'running') return;
    if (this.deps.stats) this.deps.stats.stalls++;
    void w.terminate(KILL_GRACE_MS);
    this.scheduleRecovery();
  }

  /** Stops the processes idle for `idle_timeout` beyond `spare`, those idle longest first (Unit's idle_ports order). */
  private reapIdle(now: number): void {
    const idle = this.workers.filter((w) => w.state === 'running' && w.inflight === 0);
    let excess = idle.length - this.policy.spare;
    if (excess <= 0) return;
    idle.sort((a, b) => a.idleSince - b.idleSince);
    for (const w of idle) {
      if (excess <= 0 || now - w.idleSince < this.policy.idleTimeoutMs) break;
      this.deps.log.info({ app_pid: w.pid, idle_ms: now - w.idleSince }, 'stopping idle app process');
      void w.stop(this.deps.drainGraceMs, true);
      excess--;
    }
  }

  private remove(worker: AppWorker): void {
    const i = this.workers.indexOf(worker);
    if (i < 0) return;
    this.workers.splice(i, 1);
    const stats = this.deps.stats;
    if (stats) {
      const c = worker.channel;
      stats.retiredRingFull += c.ringFullWaits;
      stats.retiredCreditWaits += c.creditWaits;
    }
  }

  /** Unit's `/status/applications/<name>` shape. */
  status(): { processes: { running: number; starting: number; idle: number }; requests: { active: number } } {
    let running = 0;
    let idle = 0;
    let active = 0;
    for (const w of this.workers) {
      if (w.state !== 'running') continue;
      running++;
      active += w.inflight;
      if (w.inflight === 0) idle++;
    }
    return { processes: { running, starting: this.starting + this.queued, idle }, requests: { active } };
  }

  /** Host pids of the live processes (for logs and tests). */
  pids(): number[] {
    return this.workers.filter((w) => w.state === 'running').map((w) => w.pid);
  }

  /** Host pid of the prototype, if the app is isolated and its prototype runs (for tests). */
  prototypePid(): number | undefined {
    return this.prototype?.pid;
  }

  /**
   * Graceful stop, then the prototype goes. Without `graceMs` (the app removed or replaced by a change) every
   * request in flight finishes however long it takes, and a process that has none left gets the drain grace to exit;
   * with it (wardend stopping; 0: at once) in-flight requests have `graceMs` from now.
   */
  async close(graceMs?: number): Promise<void> {
    this.closed = true;
    this.queued = 0;
    clearTimeout(this.restartTimer);
    clearInterval(this.timer);
    await Promise.all(this.workers.map((w) => w.stop(graceMs ?? this.deps.drainGraceMs, graceMs === undefined)));
    this.deps.fleet.closePool(this.id);
    const proto = this.prototype;
    this.prototype = undefined;
    if (proto) {
      await proto.close().catch((err: Error) => this.deps.log.warn({ err: err.message }, 'closing the prototype failed'));
    }
  }
}

/** Convert an unexpected error from a pool start into an ApplyError naming the app. */
export function asApplyError(app: string, err: unknown): ApplyError {
  if (err instanceof ApplyError) return err.app ? err : new ApplyError(err.message, app, err.step, err.errno, err.code);
  const e = err as { message?: string; step?: string; errno?: number };
  return new ApplyError(e?.message ?? String(err), app, e?.step ?? 'start', e?.errno);
}
