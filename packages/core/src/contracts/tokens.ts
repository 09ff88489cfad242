/**
 * Injection tokens of the Warden container. Plugins register implementations under these tokens
 * (several per token: tsyringe multi-registration), core collects them with `container.resolveAll`.
 * Tokens are strings so that two copies of @warden/core in one process still agree on them.
 */
export const TOKENS = {
  /** {@link NamespaceProvider}: one per `isolation.namespaces.<key>`. */
  NamespaceProvider: 'warden:NamespaceProvider',
  /** {@link IsolationExtra}: one per other `isolation.<key>` (uidmap, rootfs, cgroup, ...). */
  IsolationExtra: 'warden:IsolationExtra',
  /** {@link AppLauncher}: one per application `type`. */
  AppLauncher: 'warden:AppLauncher',
  /** {@link ProcessSpawner}: starts the processes of apps that have an `isolation` object. At most one. */
  ProcessSpawner: 'warden:ProcessSpawner',
  /** {@link ConfigComponent}: a part of the running server that applies config changes transactionally. */
  ConfigComponent: 'warden:ConfigComponent',
  /** {@link AppControl}: restart applications (the supervisor registers it). */
  AppControl: 'warden:AppControl',
  /** The root pino logger. */
  Logger: 'warden:Logger',
  /** {@link DaemonOptions}: the parsed wardend command line. */
  DaemonOptions: 'warden:DaemonOptions',
} as const;
