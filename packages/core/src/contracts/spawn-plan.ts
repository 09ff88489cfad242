import type { ChildOp, ParentPhase } from './child-ops';
import type { LaunchSpec } from './plugin';

/** Work wardend does on the host after the clone and before the child is released (id maps, cgroup placement). */
export interface ParentHook {
  name: string;
  phase: ParentPhase;
  /** `pid` is the child's pid as seen from the host. */
  run(pid: number): Promise<void>;
  /** Undo on failure or when the app goes away (e.g. remove an empty cgroup). */
  cleanup?(): Promise<void>;
}

/** Collects the plan for one application: every provider and extra adds to it. */
export interface SpawnPlanBuilder {
  /** Union of CLONE_NEW* flags. */
  cloneFlags: number;
  childOps: ChildOp[];
  parentHooks: ParentHook[];
  addCloneFlag(flag: number): void;
  /** Adds a child op; throws `ChildOpError` when it is not one of `CHILD_OPS` with valid arguments. */
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
