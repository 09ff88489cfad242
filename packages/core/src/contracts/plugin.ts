import type { DependencyContainer } from 'tsyringe';
import type { AppConfig } from './config';
import type { SpawnPlanBuilder } from './spawn-plan';

/** A JSON Schema fragment (draft 2020-12 / ajv). Schemas are data, compiled once at start. */
export type JsonSchema = Record<string, unknown>;

/**
 * A plugin module: `export function register(container) { ... }`. It registers implementations under the tokens
 * of {@link TOKENS}. Core loads plugins by module name and never imports them statically.
 */
export interface WardenPlugin {
  register(container: DependencyContainer): void | Promise<void>;
}

/** Facts about the daemon a plugin may need while validating or planning. */
export interface PlanContext {
  /** Name of the application (key under `applications`). */
  appName: string;
  /** The daemon's effective uid/gid; privileged = 0. */
  daemonUid: number;
  daemonGid: number;
  /** Default user/group for apps (`--user`/`--group`; `nobody` and its group when wardend runs as root). */
  defaultUser: string;
  defaultGroup: string;
  /** Directory for wardend's runtime files (`--tmpdir`). */
  tmpdir: string;
  /** The app's credentials, resolved from the host's user database (`user`/`group` or the defaults). */
  credentials: Credentials;
  /**
   * Host paths the app's language runtime needs (its launcher's `LaunchSpec.languageDeps`), filled in by the
   * supervisor before the isolation plan is built: with a `rootfs`, `automount.language_deps` binds them read-only.
   */
  languageDeps?: readonly string[];
}

/** An app's user and group, resolved. Inside a credential namespace these ids are the ids inside it. */
export interface Credentials {
  user: string;
  uid: number;
  group: string;
  gid: number;
  /** Supplementary groups of the user (including `gid`). */
  groups: number[];
  /** Home directory from the user database. */
  home: string;
}

/**
 * One namespace type, keyed by `isolation.namespaces.<key>` (`credential`, `pid`, `mount`, ...). The six Unit keys
 * and Warden's `ipc` are providers like any other; a third party adds e.g. `time` the same way.
 */
export interface NamespaceProvider {
  /** Key under `isolation.namespaces`. */
  readonly key: string;
  /** Its CLONE_NEW* flag. */
  readonly cloneFlag: number;
  /** Schema of the value (usually `{type: 'boolean'}`). */
  readonly schema: JsonSchema;
  /** Semantic checks beyond the schema; throw {@link ConfigValidationError}. */
  validate?(app: AppConfig, value: unknown, ctx: PlanContext): void;
  /** Adds this namespace's clone flag, child-side operations and parent-side hooks to the plan (only when enabled). */
  plan(app: AppConfig, value: unknown, plan: SpawnPlanBuilder, ctx: PlanContext): void;
}

/** Any other key of the isolation object: `uidmap`/`gidmap`, `rootfs`+`automount`, `new_privs`, `cgroup`, ... */
export interface IsolationExtra {
  /** The isolation keys this extra owns (e.g. `['uidmap', 'gidmap']`). */
  readonly keys: readonly string[];
  /** Schema of each owned key. */
  readonly schema: Record<string, JsonSchema>;
  validate?(app: AppConfig, ctx: PlanContext): void;
  /** Called for every app that has an `isolation` object, whether or not its keys are set (defaults apply). */
  plan(app: AppConfig, plan: SpawnPlanBuilder, ctx: PlanContext): void;
}

/** What to exec for one application process. */
export interface LaunchSpec {
  /** Absolute path, or relative to `cwd` (no PATH lookup). Resolved inside the rootfs when there is one. */
  executable: string;
  /** argv, including argv[0]. */
  argv: string[];
  env: Record<string, string>;
  cwd?: string;
  /** Files to append stdout/stderr to; undefined = wardend's log. */
  stdout?: string;
  stderr?: string;
  /**
   * Absolute host paths (files or directories) the runtime needs at run time besides the app itself: interpreter,
   * shared libraries, runtime modules. With a `rootfs` they are bound read-only at the same paths inside it unless
   * `automount.language_deps` is false (Unit's rule for language modules).
   */
  languageDeps?: string[];
}

/** One application `type`. */
export interface AppLauncher {
  /** `type` values this launcher serves (`['external', 'go']`, `['node']`). */
  readonly types: readonly string[];
  /** Schema of the type-specific keys (merged with core's common application keys). */
  readonly schema: { properties: Record<string, JsonSchema>; required?: string[] };
  validate?(app: AppConfig, ctx: PlanContext): void;
  launch(app: AppConfig, ctx: PlanContext): LaunchSpec;
}
