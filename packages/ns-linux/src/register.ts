import { join } from 'path';
import type { DependencyContainer } from 'tsyringe';
import type { IsolationExtra, NamespaceProvider } from '@warden/core';
import { TOKENS } from '@warden/core';
import { sweepStaleCgroups, useCgroupRegistry } from './internal/cgroup/cgroup-placement';
import { CgroupExtra } from './internal/extras/cgroup.extra';
import { HostnameExtra } from './internal/extras/hostname.extra';
import { IdMapExtra } from './internal/extras/id-map.extra';
import { CapabilitiesExtra, NewPrivsExtra, RlimitsExtra } from './internal/extras/privileges.extra';
import { RootfsExtra } from './internal/extras/rootfs.extra';
import { SeccompExtra } from './internal/extras/seccomp.extra';
import { CgroupNamespaceProvider } from './internal/providers/cgroup-namespace.provider';
import { CredentialNamespaceProvider } from './internal/providers/credential-namespace.provider';
import { IpcNamespaceProvider } from './internal/providers/ipc-namespace.provider';
import { MountNamespaceProvider } from './internal/providers/mount-namespace.provider';
import { NetworkNamespaceProvider } from './internal/providers/network-namespace.provider';
import { PidNamespaceProvider } from './internal/providers/pid-namespace.provider';
import { UnameNamespaceProvider } from './internal/providers/uname-namespace.provider';
import { LinuxProcessSpawner, LinuxSpawnerOptions } from './internal/spawner/linux-process-spawner';
import type { LoggerLike } from './internal/spawner/logger';

/** The seven namespace providers: Unit's six plus Warden's `ipc`. */
export function namespaceProviders(): NamespaceProvider[] {
  return [
    new CgroupNamespaceProvider(),
    new CredentialNamespaceProvider(),
    new PidNamespaceProvider(),
    new MountNamespaceProvider(),
    new NetworkNamespaceProvider(),
    new UnameNamespaceProvider(),
    new IpcNamespaceProvider(),
  ];
}

/** The isolation extras (every isolation key that is not a namespace). */
export function isolationExtras(): IsolationExtra[] {
  return [
    new IdMapExtra(),
    new HostnameExtra(),
    new RootfsExtra(),
    new NewPrivsExtra(),
    new CapabilitiesExtra(),
    new RlimitsExtra(),
    new CgroupExtra(),
    new SeccompExtra(),
  ];
}

/**
 * Plugin entry point: registers the namespace providers, the isolation extras and the ProcessSpawner under core's
 * tokens. `options` is for embedders (the CLI passes `stdio: 'inherit'`); wardend calls `register(container)`.
 */
export function register(container: DependencyContainer, options: LinuxSpawnerOptions = {}): void {
  for (const p of namespaceProviders()) container.register(TOKENS.NamespaceProvider, { useValue: p });
  for (const x of isolationExtras()) container.register(TOKENS.IsolationExtra, { useValue: x });
  const logger = options.logger ?? (() => (container.isRegistered(TOKENS.Logger, true) ? container.resolve<LoggerLike>(TOKENS.Logger) : undefined));
  container.register(TOKENS.ProcessSpawner, { useValue: new LinuxProcessSpawner({ ...options, logger }) });
  if (container.isRegistered(TOKENS.DaemonOptions, true)) {
    // The cgroups of apps are listed in the state dir; those a killed wardend left (empty) are removed now.
    useCgroupRegistry(join(container.resolve<{ statedir: string }>(TOKENS.DaemonOptions).statedir, 'cgroups'));
    const removed = sweepStaleCgroups();
    const log = typeof logger === 'function' ? logger() : logger;
    if (removed.length > 0) log?.warn({ removed }, 'removed the cgroups a previous wardend left behind');
  }
}
