import { tmpdir as osTmpdir } from 'os';
import type { DependencyContainer } from 'tsyringe';
import type { AppConfig, PlanContext } from '../contracts';
import { ConfigValidationError, TOKENS, WardenError } from '../contracts';
import type { DaemonOptions } from '../daemon/daemon-options';
import { defaultAppUser, resolveCredentials } from '../isolation';
import type { UserDatabase } from '../isolation';
import { ptr } from './cross-checks';

/** The daemon-wide facts every PlanContext shares (from `--user`, `--group`, `--tmpdir`). */
export interface PlanContextDefaults {
  defaultUser: string;
  defaultGroup: string;
  tmpdir: string;
}

/**
 * Defaults as Unit picks them: the daemon's own user when unprivileged, `nobody` and its group as root; `--user`
 * without `--group` means that user's primary group. Throws WardenError when `--user`/`--group` do not exist.
 */
export function planContextDefaults(options: { user?: string; group?: string; tmpdir?: string } = {}, db?: UserDatabase): PlanContextDefaults {
  const tmpdir = options.tmpdir ?? osTmpdir();
  if (options.user === undefined) {
    const fallback = defaultAppUser(db);
    const group = options.group ?? fallback.group;
    if (options.group !== undefined) checkDefault(() => resolveCredentials(fallback.user, group, db), '--group', group);
    return { defaultUser: fallback.user, defaultGroup: group, tmpdir };
  }
  const user = options.user;
  const creds = checkDefault(
    () => resolveCredentials(user, options.group, db),
    options.group === undefined ? '--user' : '--user/--group',
    options.group ?? user,
  );
  return { defaultUser: user, defaultGroup: creds.group, tmpdir };
}

function checkDefault<T>(resolve: () => T, flag: string, value: string): T {
  try {
    return resolve();
  } catch (e) {
    throw new WardenError('WARDEN_ERR_USAGE', `${flag} "${value}": ${(e as Error).message} Give an existing user/group for applications.`);
  }
}

/**
 * The PlanContext of one application, exactly as validation and the supervisor see it: the app's credentials
 * (its `user`/`group`, else the defaults; an explicit `user` without `group` takes that user's primary group), the
 * daemon's effective ids and the daemon-wide defaults. Throws ConfigValidationError (with the JSON path) when the
 * user or group does not exist.
 */
export function buildPlanContext(appName: string, app: AppConfig, defaults: PlanContextDefaults, db?: UserDatabase): PlanContext {
  const user = app.user ?? defaults.defaultUser;
  const group = app.group ?? (app.user !== undefined ? undefined : defaults.defaultGroup);
  let credentials;
  try {
    credentials = resolveCredentials(user, group, db);
  } catch (e) {
    if (e instanceof ConfigValidationError) {
      const key = e.code === 'WARDEN_ERR_CREDENTIALS_GROUP' ? 'group' : 'user';
      throw new ConfigValidationError(e.message, e.path ?? ptr('applications', appName, key), e.code);
    }
    throw e;
  }
  return {
    appName,
    daemonUid: process.geteuid?.() ?? 0,
    daemonGid: process.getegid?.() ?? 0,
    defaultUser: defaults.defaultUser,
    defaultGroup: defaults.defaultGroup,
    tmpdir: defaults.tmpdir,
    credentials,
  };
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
