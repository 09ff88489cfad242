import type { Logger } from 'pino';
import type { DependencyContainer } from 'tsyringe';
import type {
  AppConfig,
  AppControl,
  AppLauncher,
  ConfigComponent,
  PlanContext,
  PreparedChange,
  ProcessSpawner,
  WardenConfig,
} from '../contracts';
import { ApplyError, ConfigValidationError, TOKENS } from '../contracts';
import { buildSpawnPlan } from '../isolation';
import { AppPool, asApplyError } from './app-pool';

/** Options of the supervisor that are not part of the config. */
export interface SupervisorOptions {
  /** Builds the plan context (credentials, daemon ids, defaults) of one app. */
  contextFor(appName: string, app: AppConfig): PlanContext;
  /** How long a new process may take to say READY. */
  readyTimeoutMs?: number;
  /** How long draining processes may take to finish in-flight requests. */
  drainGraceMs?: number;
}

/**
 * One pool per application. Follows the config transactionally: `prepare` starts pools for new and changed apps
 * (up to their first ready processes) and keeps unchanged ones running; `commit` switches to the new set and drains
 * what went away; `rollback` stops what prepare started.
 */
export class Supervisor implements ConfigComponent, AppControl {
  readonly name = 'applications';
  readonly order = 10;
  private pools = new Map<string, AppPool>();
  /** Canonical JSON of each running app's config, to tell changed apps from unchanged ones. */
  private keys = new Map<string, string>();
  private readonly readyTimeoutMs: number;
  private readonly drainGraceMs: number;

  constructor(
    private readonly container: DependencyContainer,
    private readonly log: Logger,
    private readonly options: SupervisorOptions,
  ) {
    this.readyTimeoutMs = options.readyTimeoutMs ?? 15000;
    this.drainGraceMs = options.drainGraceMs ?? 10000;
  }

  /** The pool serving `app`, if it runs. Hot path: a map lookup. */
  pool(app: string): AppPool | undefined {
    return this.pools.get(app);
  }

  has(app: string): boolean {
    return this.pools.has(app);
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
    const results = await Promise.allSettled(
      started.map((pool) => pool.start().catch((err) => Promise.reject(asApplyError(pool.name, err)))),
    );
    const failed = results.find((r) => r.status === 'rejected') as PromiseRejectedResult | undefined;
    if (failed) {
      await Promise.all(started.map((p) => p.close(0)));
      throw failed.reason;
    }
    return {
      commit: async () => {
        const previous = this.pools;
        this.pools = nextPools;
        this.keys = nextKeys;
        for (const [name, pool] of previous) {
          if (nextPools.get(name) === pool) continue;
          this.log.info({ app: name }, 'draining application');
          void pool.close().catch((err: Error) => this.log.error({ app: name, err: err.message }, 'drain failed'));
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
    let isolation: { spawner: ProcessSpawner; plan: ReturnType<typeof buildSpawnPlan> } | undefined;
    if (app.isolation) {
      if (!this.container.isRegistered(TOKENS.ProcessSpawner, true)) {
        throw new ApplyError('isolation needs the @warden/ns-linux plugin, which is not loaded', name, 'isolation');
      }
      const spawner = this.container.resolve<ProcessSpawner>(TOKENS.ProcessSpawner);
      const languageDeps = app.isolation.rootfs !== undefined ? launcher.launch(app, ctx).languageDeps : undefined;
      isolation = { spawner, plan: buildSpawnPlan(this.container, app, languageDeps ? { ...ctx, languageDeps } : ctx) };
    }
    return new AppPool(name, app, {
      launcher,
      ctx,
      isolation,
      log: this.log.child({ app: name }),
      readyTimeoutMs: this.readyTimeoutMs,
      drainGraceMs: this.drainGraceMs,
    });
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
    await fresh.start().catch((err) => Promise.reject(asApplyError(app, err)));
    if (this.pools.get(app) !== current) {
      await fresh.close(0);
      throw new ApplyError('the application was reconfigured during the restart', app, 'restart');
    }
    this.pools.set(app, fresh);
    this.log.info({ app }, 'application restarted');
    void current.close();
  }

  status(): Record<string, unknown> {
    const applications: Record<string, unknown> = {};
    for (const [name, pool] of this.pools) applications[name] = pool.status();
    return { applications };
  }

  async shutdown(): Promise<void> {
    const pools = [...this.pools.values()];
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
