import type { WardenConfig } from './config';

/**
 * A part of the running server that follows the config: the router (listeners, routes) and the supervisor
 * (application pools). The controller applies a new config in two phases across all components:
 * `prepare` every component (bind new listeners, start new apps up to their first ready process) — if any throws,
 * `rollback` those prepared so far in reverse order and keep the old config; else `commit` all (switch over, stop
 * what went away).
 */
export interface ConfigComponent {
  readonly name: string;
  /** Order among components: lower prepares first and commits first. */
  readonly order: number;
  /**
   * Its prepare neither depends on nor affects what another component's prepare does: it runs at the same time as
   * the prepares of the components next to it in `order` that declare this too (commits stay one at a time, in
   * order). A failed prepare still rolls back every component that prepared.
   */
  readonly independentPrepare?: boolean;
  prepare(next: WardenConfig, current: WardenConfig): Promise<PreparedChange>;
  /** Stop everything (daemon shutdown). */
  shutdown(): Promise<void>;
  /**
   * The daemon is stopping: make a `prepare` in progress fail soon (it then rolls back), so that shutdown, which
   * waits for the change lock, is not held up by a long apply. Called before `shutdown`, outside the lock.
   */
  abort?(): void;
  /** This component's part of `GET /status`, merged into Unit's shape. */
  status?(): Record<string, unknown>;
  /** Optional: brings what status() reports up to date (asked before `/status` is answered). */
  refresh?(): Promise<void>;
  /** Reopen the files this component writes (SIGUSR1, after log rotation): the access log. */
  reopenLogs?(): Promise<void>;
}

export interface PreparedChange {
  commit(): Promise<void>;
  rollback(): Promise<void>;
}

/** Operations on running applications, used by `GET /control/applications/<name>/restart`. */
export interface AppControl {
  /** Replace every process of the app gracefully; rejects with ApplyError when the app is unknown or fails. */
  restart(app: string): Promise<void>;
  /** Whether an application of that name is running. */
  has(app: string): boolean;
}
