/**
 * `@warden/core`'s public API: what a plugin author and an embedder may rely on. Everything else is internal
 * (`@warden/core/internal` holds it for Warden's own tests; it is not part of the API). `test/public-api.test.ts`
 * pins this list, so that a new export is a deliberate decision.
 */
import 'reflect-metadata';
// The plugin contract: tokens, phases, provider/launcher/spawner interfaces, config and spawn-plan types, errors.
export * from './contracts';
// Validating and planning an application outside the daemon (what `warden-isolate` does).
export { ConfigValidator } from './config/config-validator';
export { buildPlanContext, planContextDefaults } from './config/plan-context';
export type { PlanContextDefaults } from './config/plan-context';
export { buildSpawnPlan } from './isolation';
export { loadPlugins, DEFAULT_PLUGINS } from './plugins/plugin-loader';
export type { PluginRequest, LoadedPlugin } from './plugins/plugin-loader';
// Embedding: wardend in this process.
export { startWarden } from './daemon/warden';
export type { Warden, WardenOptions } from './daemon/warden';
export { parseDaemonArgs, defaultPaths } from './daemon/daemon-options';
export type { DaemonOptions } from './daemon/daemon-options';
// Starting a process without fork() (wardend starts plain apps so; a spawner plugin starts its helper so).
export { spawnProcess } from '@warden/shm-transport';
export { outputLines, MAX_OUTPUT_LINE } from './runtime/output-lines';
export type { SpawnOptions, SpawnedProcess } from '@warden/shm-transport';
