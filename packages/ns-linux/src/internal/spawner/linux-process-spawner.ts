import type { AppPrototype, ProcessSpawner, SpawnPlan } from '@warden/core';
import { LinuxPrototype } from './linux-prototype';
import { LoggerLike, SILENT_LOGGER } from './logger';

/** Options of {@link LinuxProcessSpawner}. */
export interface LinuxSpawnerOptions {
  /** See PrototypeOptions.stdio: `'pipe'` (default, app output goes to the logger) or `'inherit'`. */
  stdio?: 'pipe' | 'inherit';
  /** A pino logger (or anything with info/warn/error); a child per app is made when it has `child()`. */
  logger?: LoggerLike | (() => LoggerLike | undefined);
  closeTimeoutMs?: number;
  startTimeoutMs?: number;
}

/** The ProcessSpawner of ns-linux: one helper + prototype per isolated application. */
export class LinuxProcessSpawner implements ProcessSpawner {
  constructor(private readonly options: LinuxSpawnerOptions = {}) {}

  createPrototype(appName: string, plan: SpawnPlan): Promise<AppPrototype> {
    const base = (typeof this.options.logger === 'function' ? this.options.logger() : this.options.logger) ?? SILENT_LOGGER;
    const logger = base.child ? base.child({ component: 'ns-linux', app: appName }) : base;
    return LinuxPrototype.start(appName, plan, {
      stdio: this.options.stdio,
      logger,
      closeTimeoutMs: this.options.closeTimeoutMs,
      startTimeoutMs: this.options.startTimeoutMs,
    });
  }
}
