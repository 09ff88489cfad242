import type { DependencyContainer } from 'tsyringe';
import type { AppConfig, ChildOp, IsolationExtra, NamespaceProvider, ParentHook, PlanContext, SpawnPlan, SpawnPlanBuilder } from '../contracts';
import { ConfigValidationError, encodeChildOp, PHASE_ORDER, TOKENS, type Phase } from '../contracts';

/** Mutable plan that providers add to; {@link finish} sorts it by phase. */
export class PlanBuilder implements SpawnPlanBuilder {
  cloneFlags = 0;
  childOps: ChildOp[] = [];
  parentHooks: ParentHook[] = [];

  addCloneFlag(flag: number): void {
    this.cloneFlags |= flag;
  }
  addChildOp(op: ChildOp): void {
    encodeChildOp(op); // a bad op from a (JavaScript) plugin fails here, naming the op, before anything starts
    this.childOps.push(op);
  }
  addParentHook(hook: ParentHook): void {
    this.parentHooks.push(hook);
  }

  /** The finished plan; ops and hooks in PHASE order, stable within a step (insertion order). */
  finish(ctx: PlanContext): SpawnPlan {
    const byPhase = <T extends { phase: Phase }>(xs: T[]) =>
      xs
        .map((x, i) => [x, i] as const)
        .sort((a, b) => PHASE_ORDER[a[0].phase] - PHASE_ORDER[b[0].phase] || a[1] - b[1])
        .map(([x]) => x);
    return {
      cloneFlags: this.cloneFlags,
      childOps: byPhase(this.childOps),
      parentHooks: byPhase(this.parentHooks),
      uid: ctx.credentials.uid,
      gid: ctx.credentials.gid,
      groups: ctx.credentials.groups,
    };
  }
}

/** The namespace providers and isolation extras registered in a container (empty lists when none are). */
export function isolationPlugins(container: DependencyContainer): {
  providers: NamespaceProvider[];
  extras: IsolationExtra[];
} {
  const all = <T>(token: string): T[] => (container.isRegistered(token, true) ? container.resolveAll<T>(token) : []);
  return { providers: all<NamespaceProvider>(TOKENS.NamespaceProvider), extras: all<IsolationExtra>(TOKENS.IsolationExtra) };
}

/** CLONE_NEWUSER: the flag of the provider that gives an app a user namespace (Unit's `credential`). */
const CLONE_NEWUSER = 0x10000000;

/**
 * Whether the app gets a user namespace of its own: some namespace it enables belongs to a provider whose clone flag
 * is CLONE_NEWUSER (core knows the flag, not the provider's key). Its ids are then the ids inside that namespace.
 */
export function hasUserNamespace(container: DependencyContainer, app: AppConfig): boolean {
  const namespaces = app.isolation?.namespaces ?? {};
  return isolationPlugins(container).providers.some(
    (p) => (p.cloneFlag & CLONE_NEWUSER) !== 0 && namespaces[p.key] !== undefined && namespaces[p.key] !== false,
  );
}

/**
 * Runs every provider's and extra's semantic validation for one app. Throws {@link ConfigValidationError}
 * (Unit's wording) on the first problem.
 */
export function validateIsolation(container: DependencyContainer, app: AppConfig, ctx: PlanContext): void {
  const isolation = app.isolation;
  if (!isolation) return;
  const { providers, extras } = isolationPlugins(container);
  for (const [key, value] of Object.entries(isolation.namespaces ?? {})) {
    const provider = providers.find((p) => p.key === key);
    if (!provider) {
      throw new ConfigValidationError(`Unknown parameter "${key}".`, `/applications/${ctx.appName}/isolation/namespaces/${key}`);
    }
    provider.validate?.(app, value, ctx);
  }
  for (const extra of extras) extra.validate?.(app, ctx);
}

/**
 * Builds the spawn plan of an app that has an `isolation` object: each enabled namespace's provider, then every
 * extra, add their steps; the result is ordered by phase. Providers never see each other.
 */
export function buildSpawnPlan(container: DependencyContainer, app: AppConfig, ctx: PlanContext): SpawnPlan {
  const builder = new PlanBuilder();
  const { providers, extras } = isolationPlugins(container);
  const namespaces = app.isolation?.namespaces ?? {};
  for (const provider of providers) {
    const value = namespaces[provider.key];
    if (value === undefined || value === false) continue;
    provider.plan(app, value, builder, ctx);
  }
  for (const extra of extras) extra.plan(app, builder, ctx);
  return builder.finish(ctx);
}
