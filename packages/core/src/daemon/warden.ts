import 'reflect-metadata';
import { stat } from 'fs/promises';
import type { Logger } from 'pino';
import { container as rootContainer } from 'tsyringe';
import type { DependencyContainer } from 'tsyringe';
import { TOKENS } from '../contracts';
import { ConfigValidator } from '../config/config-validator';
import { planContextDefaultsFor } from '../config/plan-context';
import { ConfigStore } from '../control/config-store';
import { ControlApi, OBSERVABILITY } from '../control/control-api';
import type { ObservabilityEndpoints } from '../control/control-api';
import { claimControlAddress, ControlServer, parseControlAddress } from '../control/control-server';
import { Controller } from '../control/controller';
import { DEFAULT_PLUGINS, loadPlugins } from '../plugins/plugin-loader';
import type { PluginRequest } from '../plugins/plugin-loader';
import { registerRuntime } from '../runtime';
import { parseDaemonArgs } from './daemon-options';
import type { DaemonOptions } from './daemon-options';
import { createLogger, reopenLogFile } from './logger';
import { claimPidFile, releasePidFile } from './pid-file';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const VERSION: string = require('../../package.json').version;

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
  const log = deps.log ?? createLogger(options.log, { format: options.logFormat });
  container.register(TOKENS.Logger, { useValue: log });
  container.register(TOKENS.DaemonOptions, { useValue: options });
  await loadPlugins(container, pluginRequests(options), log);
  registerRuntime(container);
  const validator = new ConfigValidator(container, planContextDefaultsFor(options));
  return { container, log, validator };
}

/**
 * What an embedder passes to {@link startWarden}: any of wardend's options (its command line, parsed); those left
 * out take wardend's defaults, as `parseDaemonArgs([])` gives them.
 */
export type WardenOptions = Partial<DaemonOptions>;

function withDefaults(options: WardenOptions): DaemonOptions {
  const given = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined));
  return { ...parseDaemonArgs([]), ...given };
}

/** How long a stop waits for control requests in progress (a PUT being applied) to be answered. */
const CONTROL_CLOSE_GRACE_MS = 5000;

/**
 * Starts wardend in this process, in Unit's order: refuse if another wardend owns the pid file or the control socket
 * (stale ones left by a killed wardend are replaced), write the pid file, restore the saved config (or `--config`),
 * then create the control socket and log the readiness line `wardend ready`. So the pid file exists before the
 * control socket appears: a script that waits for the socket can read the pid file. A failure removes the pid file.
 * The embedder's entry: `startWarden({ control: 'unix:/run/app/w.sock', statedir })`; `deps.log` replaces the
 * logger (a pino logger), `deps.container` the parent container.
 */
export async function startWarden(given: WardenOptions = {}, deps: { container?: DependencyContainer; log?: Logger } = {}): Promise<Warden> {
  const options = withDefaults(given);
  const { container, log, validator } = await composeContainer(options, deps);
  log.info({ version: VERSION }, `wardend ${VERSION} started`);
  const address = parseControlAddress(options.control);
  if (options.pid) claimPidFile(options.pid, log);
  const releasePid = () => options.pid && releasePidFile(options.pid);
  const controller = new Controller(container, validator, new ConfigStore(options.statedir), log.child({ component: 'controller' }));
  const observability = container.isRegistered(OBSERVABILITY, true) ? container.resolve<ObservabilityEndpoints>(OBSERVABILITY) : undefined;
  const server = new ControlServer(new ControlApi(controller, observability), log.child({ component: 'control' }), {
    mode: options.controlMode,
    user: options.controlUser,
    group: options.controlGroup,
  });
  try {
    await claimControlAddress(address);
    log.info('router started');
    // What a first PUT would otherwise pay for (62 -> 47 ms of a first start, on a 2-core VM): V8's first compile of
    // the validation, libuv's thread pool, which starts at its first use (the config's write), and V8's date cache and
    // time zone, first needed by the Date header of the first control answer (6 ms).
    validator.warmUp();
    void new Date().toUTCString();
    await stat(options.statedir).catch(() => undefined);
    await controller.restore(options.config);
    try {
      await server.listen(address);
    } catch (e) {
      await controller.shutdown();
      throw e;
    }
  } catch (e) {
    releasePid();
    throw e;
  }
  log.info({ control: server.boundAddress }, 'controller started');
  const control = server.boundAddress!;
  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      log.info('wardend stopping');
      // An apply in progress is aborted first: its control request then gets its answer while the server closes,
      // instead of holding the close for the whole grace.
      controller.abortChanges();
      await server.close(CONTROL_CLOSE_GRACE_MS);
      await controller.shutdown();
      releasePid();
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
