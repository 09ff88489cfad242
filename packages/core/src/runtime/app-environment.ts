/**
 * Variables of wardend's environment that its apps do not inherit, because wardend set them for its own plumbing:
 * `WARDEN_READY_FD`, the fd on which a daemonising wardend's foreground child says it is ready (meaningless, or
 * another file, in an app). `WARDEN_CHANNEL` and `WARDEN_CONTROL` are not listed: wardend always sets both for the
 * app's channel, over anything inherited or configured (a `WARDEN_CONTROL=unix:...` exported for the `warden` CLI
 * therefore never reaches an app). Everything else is passed on, `NODE_OPTIONS` included, as Unit passes unitd's.
 */
export const NOT_INHERITED: readonly string[] = ['WARDEN_READY_FD'];

/** What an app inherits of `env`: its defined variables, without {@link NOT_INHERITED}. */
export function inheritableEnvironment(env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) if (value !== undefined && !NOT_INHERITED.includes(name)) out[name] = value;
  return out;
}

/**
 * wardend's environment as it was when it started (when this module loaded, as wardend's code was loaded), without
 * {@link NOT_INHERITED}: what later changes to `process.env` do (a plugin's, main deleting `WARDEN_READY_FD`) never
 * reaches an app.
 */
const STARTUP_ENVIRONMENT = Object.freeze(inheritableEnvironment(process.env));

/** A copy of wardend's environment at start, as every app inherits it (see {@link appEnvironment}). */
export function startupEnvironment(): Record<string, string> {
  return { ...STARTUP_ENVIRONMENT };
}

/**
 * The environment of an app process, as in Unit (its prototype `setenv()`s the app's `environment` into the
 * environment it inherited from unitd, and execs the app with it): wardend's environment at start (`inherited`),
 * then the launcher's variables (the config's `environment`) over it. The channel's variables go over both when the
 * process is spawned.
 */
export function appEnvironment(inherited: Readonly<Record<string, string>>, configured: Readonly<Record<string, string>>): Record<string, string> {
  return { ...inherited, ...configured };
}
