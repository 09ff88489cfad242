import type { AppConfig, JsonSchema, NamespaceProvider, PlanContext, SpawnPlanBuilder } from '@warden/core';

/** Schema of every namespace key: a boolean, default false (Unit). */
export const BOOLEAN_SCHEMA: JsonSchema = { type: 'boolean' };

type PlanStep = (app: AppConfig, plan: SpawnPlanBuilder, ctx: PlanContext) => void;

/**
 * A namespace that is its clone flag, plus optional child ops, when enabled. `create` replaces adding the clone flag
 * (for a namespace made later by an `unshare` op).
 */
export class BooleanNamespaceProvider implements NamespaceProvider {
  readonly schema = BOOLEAN_SCHEMA;
  constructor(
    readonly key: string,
    readonly cloneFlag: number,
    private readonly extra?: PlanStep,
    private readonly create?: PlanStep,
  ) {}

  plan(app: AppConfig, value: unknown, plan: SpawnPlanBuilder, ctx: PlanContext): void {
    if (value !== true) return;
    if (this.create) this.create(app, plan, ctx);
    else plan.addCloneFlag(this.cloneFlag);
    this.extra?.(app, plan, ctx);
  }
}
