import type { Logger } from 'pino';
import type { DependencyContainer } from 'tsyringe';
import type { AppConfig, AppControl, AppLauncher, ConfigComponent, PlanContext, PreparedChange, ProcessSpawner, WardenConfig } from '../contracts';
import { ApplyError, ConfigValidationError, TOKENS } from '../contracts';
import { buildSpawnPlan } from '../isolation';
import { AppPool, asApplyError } from './app-pool';
import type { WardenMetrics } from './warden-metrics';
import type { RouterFleet } from './fleet/router-fleet';

/** Options of the supervisor that are not part of the config. */
export interface SupervisorOptions {
  /** Builds the plan context (credentials, daemon ids, defaults) of one app. */
  contextFor(appName: string, app: AppConfig): PlanContext;
  /** How long a new process may take to say READY. */
  readyTimeoutMs?: number;
  /** How long draining processes may take to finish in-flight requests. */
  drainGraceMs?: number;
  /** How long an apply may take to start its new apps before it fails and rolls back (default 30 s). */
  applyDeadlineMs?: number;
  /** Where the pools count restarts, spawn latency and back-pressure (absent: not counted). */
  metrics?: WardenMetrics;
  /** The router processes, which dispatch requests to the pools' processes. */
  fleet: RouterFleet;
  /**
   * The environment every app inherits, its `environment` going over it (default: wardend's environment as it was at
   * start, without wardend's own plumbing: see app-environment.ts).
   */
  inheritedEnv?: Readonly<Record<string, string>>;
}

/**
 * One pool per application. Follows the config transactionally: `prepare` starts pools for new and changed apps
 * (up to their first ready processes) and keeps unchanged ones running; `commit` switches to the new set and drains
 * what went away; `rollback` stops what prepare started.
 */
export class Supervisor implements ConfigComponent, AppControl {
  readonly name = 'applications';
  readonly order = 10;
  /** Starting processes needs no listener or route of the new config: it runs alongside the routers' prepare. */
  readonly independentPrepare = true;
  private pools = new Map<string, AppPool>();
  /** Canonical JSON of each running app's config, to tell changed apps from unchanged ones. */
  private keys = new Map<string, string>();
  private readonly readyTimeoutMs: number;
  private readonly drainGraceMs: number;
  private readonly applyDeadlineMs: number;
  /** Pools being started by a prepare or restart in progress (closed at once by shutdown()). */
  private readonly inProgress = new Set<AppPool>();
  /** Pools replaced by a change or a restart, draining their requests in flight (however long: see AppPool.close). */
  private readonly draining = new Set<AppPool>();
  private stopping = false;

  constructor(
    private readonly container: DependencyContainer,
    private readonly log: Logger,
    private readonly options: SupervisorOptions,
  ) {
    this.readyTimeoutMs = options.readyTimeoutMs ?? 15000;
    this.drainGraceMs = options.drainGraceMs ?? 10000;
    this.applyDeadlineMs = options.applyDeadlineMs ?? 30000;
  }

  /**
   * Starts new pools within the apply deadline. A pool that fails, or is not up when the deadline passes, fails
   * the whole start: every pool started here is closed again and the error (an ApplyError naming the app) thrown.
   */
  private async startPools(pools: AppPool[]): Promise<void> {
    if (this.stopping && pools.length > 0) throw new ApplyError('wardend is stopping', pools[0]!.name, 'start');
    for (const p of pools) this.inProgress.add(p);
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, fail) => {
      timer = setTimeout(() => {
        const late = pools.find((p) => this.inProgress.has(p));
        fail(new ApplyError(`the application did not start within the apply deadline of ${this.applyDeadlineMs} ms`, late?.name ?? '', 'deadline'));
      }, this.applyDeadlineMs);
    });
    try {
      const starts = pools.map((pool) =>
        pool.start().then(
          () => void this.inProgress.delete(pool),
          (err) => Promise.reject(asApplyError(pool.name, err)),
        ),
      );
      await Promise.race([Promise.all(starts), deadline]);
    } catch (err) {
      await Promise.all(pools.map((p) => p.close(0)));
      throw err;
    } finally {
      clearTimeout(timer);
      for (const p of pools) this.inProgress.delete(p);
    }
  }

  /** SIGTERM during an apply: the pools it is starting stop now, so the apply fails and rolls back at once. */
  abort(): void {
    this.stopping = true;
    for (const p of this.inProgress) void p.close(0);
  }

  /** The pool serving `app`, if it runs. Hot path: a map lookup. */
  pool(app: string): AppPool | undefined {
    return this.pools.get(app);
  }

  has(app: string): boolean {
    return this.pools.has(app);
  }

  /** The running pools by application name (status page, metrics). */
  runningPools(): ReadonlyMap<string, AppPool> {
    return this.pools;
  }

  async prepare(next: WardenConfig): Promise<PreparedChange> {
    const apps = next.applications ?? {};
    const nextPools = new Map<string, AppPool>();
    const nextKeys = new Map<string, string>();
    const started: AppPool[] = []; // created by this change: started below, stopped again on failure or rollback
    for (const [name, app] of Object.entries(apps)) {
      const key = canonicalJson(app);
      nextKeys.set(name, key);
      const current = this.pools.get(name);
      if (current && this.keys.get(name) === key) {
        nextPools.set(name, current);
        continue;
      }
      const pool = this.createPool(name, app); // may throw: no pool has been started yet, nothing to stop
      nextPools.set(name, pool);
      started.push(pool);
    }
    await this.startPools(started);
    return {
      commit: async () => {
        const previous = this.pools;
        this.pools = nextPools;
        this.keys = nextKeys;
        this.announce();
        for (const [name, pool] of previous) {
          if (nextPools.get(name) === pool) continue;
          this.log.info({ app: name }, 'draining application');
          this.drain(name, pool);
        }
      },
      rollback: async () => {
        await Promise.all(started.map((p) => p.close(0)));
      },
    };
  }

  private createPool(name: string, app: AppConfig): AppPool {
    const launcher = this.launcherFor(app.type);
    if (!launcher) {
      throw new ConfigValidationError(`Unknown application type "${app.type}".`, `/applications/${name}/type`);
    }
    const ctx = this.options.contextFor(name, app);
    let isolation: { spawner: ProcessSpawner; plan: () => ReturnType<typeof buildSpawnPlan> } | undefined;
    if (app.isolation) {
      if (!this.container.isRegistered(TOKENS.ProcessSpawner, true)) {
        throw new ApplyError('isolation needs the @warden/ns-linux plugin, which is not loaded', name, 'isolation');
      }
      const spawner = this.container.resolve<ProcessSpawner>(TOKENS.ProcessSpawner);
      const languageDeps = app.isolation.rootfs !== undefined ? launcher.launch(app, ctx).languageDeps : undefined;
      const planCtx = languageDeps ? { ...ctx, languageDeps } : ctx;
      const first = buildSpawnPlan(this.container, app, planCtx); // may throw: before any pool starts
      let fresh = true;
      // A fresh plan for each prototype: a recreated prototype must not share parent-hook state with the dead one.
      const plan = () => {
        if (fresh) {
          fresh = false;
          return first;
        }
        return buildSpawnPlan(this.container, app, planCtx);
      };
      isolation = { spawner, plan };
    }
    return new AppPool(name, app, {
      launcher,
      ctx,
      isolation,
      log: this.log.child({ app: name }),
      readyTimeoutMs: this.readyTimeoutMs,
      drainGraceMs: this.drainGraceMs,
      stats: this.options.metrics?.app(name),
      fleet: this.options.fleet,
      inheritedEnv: this.options.inheritedEnv,
    });
  }

  /** Tells the routers which pool serves each application name now. */
  private announce(): void {
    // Null-prototype maps: an application may be named `__proto__` (Unit takes any name).
    const apps: Record<string, number> = Object.create(null) as Record<string, number>;
    for (const [name, pool] of this.pools) apps[name] = pool.id;
    this.options.fleet.setApps(apps);
  }

  private launcherFor(type: string): AppLauncher | undefined {
    if (!this.container.isRegistered(TOKENS.AppLauncher, true)) return undefined;
    return this.container.resolveAll<AppLauncher>(TOKENS.AppLauncher).find((l) => l.types.includes(type));
  }

  /** Replaces every process of `app` (a fresh pool, then the old one drains); other apps are untouched. */
  async restart(app: string): Promise<void> {
    const current = this.pools.get(app);
    if (!current) throw new ApplyError(`application "${app}" does not exist`, app, 'restart');
    const fresh = this.createPool(app, current.config);
    await this.startPools([fresh]);
    if (this.pools.get(app) !== current) {
      await fresh.close(0);
      throw new ApplyError('the application was reconfigured during the restart', app, 'restart');
    }
    this.pools.set(app, fresh);
    this.announce();
    if (this.options.metrics) this.options.metrics.app(app).restarts += current.workers.length;
    this.log.info({ app }, 'application restarted');
    this.drain(app, current);
  }

  /** Lets a replaced pool finish its requests in the background; wardend stopping bounds what is left (shutdown). */
  private drain(app: string, pool: AppPool): void {
    this.draining.add(pool);
    void pool
      .close()
      .catch((err: Error) => this.log.error({ app, err: err.message }, 'drain failed'))
      .finally(() => this.draining.delete(pool));
  }

  status(): Record<string, unknown> {
    const applications: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
    for (const [name, pool] of this.pools) applications[name] = pool.status();
    return { applications };
  }

  async shutdown(): Promise<void> {
    this.abort();
    const pools = [...this.pools.values(), ...this.draining];
    this.pools = new Map();
    this.keys = new Map();
    await Promise.all(pools.map((p) => p.close(Math.min(this.drainGraceMs, 5000))));
  }
}

/** JSON with object keys sorted, so that two equal configs compare equal whatever their key order. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : v,
  );
}
