export { PlanBuilder, buildSpawnPlan, validateIsolation, isolationPlugins } from './plan-builder';
export { resolveCredentials, readUserDatabase, getentUserDatabase, defaultAppUser } from './credentials';
export type { UserDatabase } from './credentials';
