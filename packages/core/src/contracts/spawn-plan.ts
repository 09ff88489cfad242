import type { LaunchSpec } from './plugin';

/**
 * An operation the C helper performs in the child, between clone and exec, from its fixed vocabulary. ns-linux
 * documents the vocabulary; `op` selects it, the remaining fields are its arguments. Ops run in ascending `phase`.
 */
export interface ChildOp {
  op: string;
  phase: number;
  [arg: string]: unknown;
}

/** Work wardend does on the host after the clone and before the child is released (id maps, cgroup placement). */
export interface ParentHook {
  name: string;
  phase: number;
  /** `pid` is the child's pid as seen from the host. */
  run(pid: number): Promise<void>;
  /** Undo on failure or when the app goes away (e.g. remove an empty cgroup). */
  cleanup?(): Promise<void>;
}

/** Well-known phases: providers declare phases, never each other's names. */
export const PHASE = {
  /** Parent: id maps (must precede everything that needs privileges in the new user ns). */
  IDMAP: 100,
  /** Parent: cgroup placement. */
  CGROUP: 150,
  /** Child: set up credentials inside the user ns (setgroups/setgid/setuid happen late, see DROP_PRIVS). */
  NAMESPACE_SETUP: 200,
  /** Child: mounts inside the new mount ns. */
  MOUNT: 300,
  /** Child: pivot_root / chroot. */
  ROOT: 400,
  /** Child: hostname, loopback. */
  HOST: 500,
  /** Child: rlimits, capabilities, no_new_privs, then setgid/setuid. */
  DROP_PRIVS: 900,
} as const;

/** Collects the plan for one application: every provider and extra adds to it. */
export interface SpawnPlanBuilder {
  /** Union of CLONE_NEW* flags. */
  cloneFlags: number;
  childOps: ChildOp[];
  parentHooks: ParentHook[];
  addCloneFlag(flag: number): void;
  addChildOp(op: ChildOp): void;
  addParentHook(hook: ParentHook): void;
}

/** A finished plan as handed to the spawner. */
export interface SpawnPlan {
  cloneFlags: number;
  childOps: ChildOp[];
  parentHooks: ParentHook[];
  /** Credentials the app runs with, as seen inside its user namespace (or on the host without one). */
  uid: number;
  gid: number;
  groups: number[];
}

/** A running process of an application. */
export interface AppProcess {
  /** Pid as seen from the host. */
  readonly pid: number;
  /** Resolves when the process exits: exit code or signal name. */
  readonly exited: Promise<{ code: number | null; signal: string | null }>;
  kill(signal?: NodeJS.Signals): void;
}

/**
 * The prototype of one isolated application: its namespaces exist as long as it lives, and every process of the
 * app is started through it (so all share one set of namespaces).
 */
export interface AppPrototype {
  /** Host pid of the prototype (PID 1 in the app's pid namespace when `pid` is on). */
  readonly pid: number;
  /**
   * Start one app process. `fds` are extra file descriptors (the shared-memory channel) the process inherits at
   * fd 3, 4, ... in order.
   */
  spawn(spec: LaunchSpec, fds: number[]): Promise<AppProcess>;
  /** Stop every process and the prototype, run parent-hook cleanups. */
  close(): Promise<void>;
  /**
   * Resolves when the prototype has exited, for whatever reason (its processes are gone with it). The supervisor
   * recreates a prototype that exits without being closed.
   */
  readonly done?: Promise<unknown>;
}

/** Registered by ns-linux: creates prototypes for apps with an `isolation` object. */
export interface ProcessSpawner {
  createPrototype(appName: string, plan: SpawnPlan): Promise<AppPrototype>;
}
