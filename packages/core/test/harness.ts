import 'reflect-metadata';
import { mkdtempSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import pino from 'pino';
import { container as rootContainer } from 'tsyringe';
import type { DependencyContainer } from 'tsyringe';
import type { AppLauncher, ConfigComponent, Credentials, NamespaceProvider, IsolationExtra } from '../src/contracts';
import { TOKENS } from '../src/contracts';
import { ConfigValidator } from '../src/config/config-validator';
import { planContextDefaults } from '../src/config/plan-context';
import { ConfigStore } from '../src/control/config-store';
import { CERTIFICATE_STORE, CertificateStore } from '../src/control/certificate-store';
import { SCRIPT_STORE, ScriptStore } from '../src/control/script-store';
import { ControlApi } from '../src/control/control-api';
import { Controller } from '../src/control/controller';
import type { RouterFleet } from '../src/runtime/fleet/router-fleet';
import { Supervisor, type SupervisorOptions } from '../src/runtime/supervisor';

/** A launcher like app-types' `external`, enough for schema tests without depending on that package. */
export const fakeExternalLauncher: AppLauncher = {
  types: ['external', 'go'],
  schema: {
    properties: { executable: { type: 'string' }, arguments: { type: 'array', items: { type: 'string' } } },
    required: ['executable'],
  },
  launch: (app) => ({ executable: String(app.executable), argv: [String(app.executable)], env: {} }),
};

/** A namespace provider like ns-linux's boolean ones. */
export const fakeNamespace = (key: string): NamespaceProvider => ({
  key,
  cloneFlag: 0,
  schema: { type: 'boolean' },
  plan: () => undefined,
});

export interface HarnessOptions {
  launchers?: AppLauncher[];
  namespaces?: NamespaceProvider[];
  extras?: IsolationExtra[];
  components?: ConfigComponent[];
  appControl?: { restart(app: string): Promise<void>; has(app: string): boolean };
  statedir?: string;
  /** Register a CertificateStore in the state dir (loaded now), as the daemon does. */
  certificates?: boolean;
  /** Register a ScriptStore (`/js_modules`) in the state dir (loaded now), as the daemon does. */
  scripts?: boolean;
  /** The controller's logger (default: silent). */
  log?: pino.Logger;
}

/** An in-process controller + control API over a fresh child container and a temp state dir. */
export function harness(opts: HarnessOptions = {}) {
  const container: DependencyContainer = rootContainer.createChildContainer();
  for (const l of opts.launchers ?? [fakeExternalLauncher]) container.register(TOKENS.AppLauncher, { useValue: l });
  for (const n of opts.namespaces ?? []) container.register(TOKENS.NamespaceProvider, { useValue: n });
  for (const x of opts.extras ?? []) container.register(TOKENS.IsolationExtra, { useValue: x });
  for (const c of opts.components ?? []) container.register(TOKENS.ConfigComponent, { useValue: c });
  if (opts.appControl) container.register(TOKENS.AppControl, { useValue: opts.appControl });
  const statedir = opts.statedir ?? mkdtempSync(join(tmpdir(), 'warden-core-'));
  const log = opts.log ?? pino({ level: 'silent' });
  const certificates = opts.certificates ? new CertificateStore(statedir, log) : undefined;
  if (certificates) {
    certificates.init();
    container.register(CERTIFICATE_STORE, { useValue: certificates });
  }
  const scripts = opts.scripts ? new ScriptStore(statedir, log) : undefined;
  if (scripts) {
    scripts.init();
    container.register(SCRIPT_STORE, { useValue: scripts });
  }
  const validator = new ConfigValidator(container, planContextDefaults({ tmpdir: tmpdir() }));
  const store = new ConfigStore(statedir);
  store.init();
  const controller = new Controller(container, validator, store, log);
  const api = new ControlApi(controller);
  const req = (method: string, url: string, body?: string | Buffer) =>
    api.handle(method, url, body === undefined ? undefined : Buffer.isBuffer(body) ? body : Buffer.from(body));
  return {
    container,
    statedir,
    validator,
    store,
    certificates,
    scripts,
    controller,
    api,
    req,
    cleanup: () => rmSync(statedir, { recursive: true, force: true }),
  };
}

export const DONE = { success: 'Reconfiguration done.' };

/** The test's own user as an app's credentials: an app started with them runs as that user, root or not. */
export function ownCredentials(home: string): Credentials {
  return { user: 'self', uid: process.getuid!(), group: 'self', gid: process.getgid!(), groups: [], home };
}

/**
 * A supervisor on `fleet` whose one app type, `external`, runs `fixtures/channel-app.js` (a minimal app on the
 * transport's app end that notes its environment and its end in `env.CHANNEL_APP_EVENTS`) with `env` as the
 * launcher's environment, as the test's own user.
 */
export function channelAppSupervisor(
  fleet: RouterFleet,
  dir: string,
  env: Record<string, string>,
  options: Pick<SupervisorOptions, 'inheritedEnv' | 'drainGraceMs'> = {},
): Supervisor {
  const app = join(__dirname, 'fixtures', 'channel-app.js');
  const launcher: AppLauncher = {
    types: ['external'],
    schema: { properties: {}, required: [] },
    launch: () => ({ executable: process.execPath, argv: [process.execPath, app], env }),
  };
  const container = rootContainer.createChildContainer();
  container.register(TOKENS.AppLauncher, { useValue: launcher });
  return new Supervisor(container, pino({ level: 'silent' }), {
    contextFor: (appName) => ({
      appName,
      daemonUid: 0,
      daemonGid: 0,
      defaultUser: 'nobody',
      defaultGroup: 'nogroup',
      tmpdir: dir,
      credentials: ownCredentials(dir),
    }),
    fleet,
    ...options,
  });
}
