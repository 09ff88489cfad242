export { PlanBuilder, buildSpawnPlan, validateIsolation, isolationPlugins } from './plan-builder';
export { resolveCredentials, readUserDatabase, defaultAppUser } from './credentials';
export type { UserDatabase } from './credentials';
