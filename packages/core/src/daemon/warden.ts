import 'reflect-metadata';
import { unlinkSync, writeFileSync } from 'fs';
import type { Logger } from 'pino';
import { container as rootContainer } from 'tsyringe';
import type { DependencyContainer } from 'tsyringe';
import type { AppConfig, PlanContext } from '../contracts';
import { TOKENS } from '../contracts';
import { ConfigValidator } from '../config/config-validator';
import { buildPlanContext, planContextDefaults } from '../config/plan-context';
import type { PlanContextDefaults } from '../config/plan-context';
import { ConfigStore } from '../control/config-store';
import { ControlApi } from '../control/control-api';
import { ControlServer, parseControlAddress } from '../control/control-server';
import { Controller } from '../control/controller';
import { DEFAULT_PLUGINS, loadPlugins } from '../plugins/plugin-loader';
import type { PluginRequest } from '../plugins/plugin-loader';
import { registerRuntime } from '../runtime';
import type { DaemonOptions } from './daemon-options';
import { createLogger, reopenLogFile } from './logger';

/** A running wardend: its container, controller and control server. */
export interface Warden {
  readonly container: DependencyContainer;
  readonly controller: Controller;
  readonly validator: ConfigValidator;
  /** The control address actually bound (`unix:/path` or `IP:port`). */
  readonly control: string;
  readonly log: Logger;
  /** Stops cleanly: control server closed and socket removed, components shut down, pid file removed. */
  stop(): Promise<void>;
  /** Reopens the daemon's log file and the components' files (the access log), as on SIGUSR1. */
  reopenLogs(): Promise<void>;
}

/** The plugin list for a command line: the defaults (optional) then every `--plugin` (required). */
export function pluginRequests(options: Pick<DaemonOptions, 'plugins' | 'noDefaultPlugins'>): PluginRequest[] {
  const defaults = options.noDefaultPlugins ? [] : DEFAULT_PLUGINS.map((module) => ({ module, required: false }));
  return [...defaults, ...options.plugins.map((module) => ({ module, required: true }))];
}

/**
 * The composition root without the control server: registers the logger and options, loads the plugins, registers
 * the runtime (router, supervisor) and compiles the schema. `wardend --print-schema` stops here.
 */
export async function composeContainer(
  options: DaemonOptions,
  deps: { container?: DependencyContainer; log?: Logger } = {},
): Promise<{ container: DependencyContainer; log: Logger; validator: ConfigValidator }> {
  const container = deps.container ?? rootContainer.createChildContainer();
  const log = deps.log ?? createLogger(options.log);
  container.register(TOKENS.Logger, { useValue: log });
  container.register(TOKENS.DaemonOptions, { useValue: options });
  await loadPlugins(container, pluginRequests(options), log);
  await registerRuntime(container);
  const validator = new ConfigValidator(container, planContextDefaultsFor(options));
  return { container, log, validator };
}

const defaultsCache = new WeakMap<object, PlanContextDefaults>();

/** The daemon-wide PlanContext defaults of a command line (computed once per options object). */
export function planContextDefaultsFor(options: Pick<DaemonOptions, 'user' | 'group' | 'tmpdir'>): PlanContextDefaults {
  let d = defaultsCache.get(options);
  if (!d) {
    d = planContextDefaults({ user: options.user, group: options.group, tmpdir: options.tmpdir });
    defaultsCache.set(options, d);
  }
  return d;
}

/**
 * The PlanContext factory the supervisor must use, identical to the one validation uses: reads TOKENS.DaemonOptions
 * from the container.
 */
export function planContextFor(container: DependencyContainer): (appName: string, app: AppConfig) => PlanContext {
  const options = container.resolve<DaemonOptions>(TOKENS.DaemonOptions);
  return (appName, app) => buildPlanContext(appName, app, planContextDefaultsFor(options));
}

/**
 * Starts wardend in this process: compose the container, restore the saved config (or `--config`), start the
 * control server, write the pid file and log the readiness line `wardend ready`.
 */
export async function startWarden(options: DaemonOptions, deps: { container?: DependencyContainer; log?: Logger } = {}): Promise<Warden> {
  const { container, log, validator } = await composeContainer(options, deps);
  const controller = new Controller(container, validator, new ConfigStore(options.statedir), log.child({ component: 'controller' }));
  const address = parseControlAddress(options.control);
  await controller.restore(options.config);
  const server = new ControlServer(new ControlApi(controller), log.child({ component: 'control' }), {
    mode: options.controlMode,
    user: options.controlUser,
    group: options.controlGroup,
  });
  try {
    await server.listen(address);
  } catch (e) {
    await controller.shutdown();
    throw e;
  }
  if (options.pid) writeFileSync(options.pid, `${process.pid}\n`);
  const control = server.boundAddress!;
  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      log.info('wardend stopping');
      await server.close();
      await controller.shutdown();
      if (options.pid) {
        try {
          unlinkSync(options.pid);
        } catch {
          /* already gone */
        }
      }
      log.info('wardend stopped');
    })());
  const reopenLogs = async () => {
    try {
      reopenLogFile(log);
    } catch (e) {
      // The old file stays in use: nothing is lost, the operator sees why in it.
      log.error({ err: e, file: options.log }, 'cannot reopen the log file');
    }
    await controller.reopenLogs();
    log.info('log files reopened');
  };
  log.info({ control, statedir: options.statedir }, 'wardend ready');
  return { container, controller, validator, control, log, stop, reopenLogs };
}
