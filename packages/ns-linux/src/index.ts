/**
 * @warden/ns-linux — Linux namespace isolation for Warden: the namespace providers and isolation extras (a
 * plugin: `register(container)`), the ProcessSpawner built on the C helper in native/, and `warden-isolate`.
 */
export { register, namespaceProviders, isolationExtras } from './register';
export { LinuxProcessSpawner } from './internal/spawner/linux-process-spawner';
export type { LinuxSpawnerOptions } from './internal/spawner/linux-process-spawner';
export { LinuxPrototype } from './internal/spawner/linux-prototype';
export type { LoggerLike } from './internal/spawner/logger';
export { CLONE } from './internal/clone-flags';
