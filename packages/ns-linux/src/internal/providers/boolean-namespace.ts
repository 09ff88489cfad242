import type { AppConfig, JsonSchema, NamespaceProvider, PlanContext, SpawnPlanBuilder } from '@warden/core';

/** Schema of every namespace key: a boolean, default false (Unit). */
export const BOOLEAN_SCHEMA: JsonSchema = { type: 'boolean' };

/** A namespace that is just its clone flag, plus optional child ops when enabled. */
export class BooleanNamespaceProvider implements NamespaceProvider {
  readonly schema = BOOLEAN_SCHEMA;
  constructor(
    readonly key: string,
    readonly cloneFlag: number,
    private readonly extra?: (app: AppConfig, plan: SpawnPlanBuilder, ctx: PlanContext) => void,
  ) {}

  plan(app: AppConfig, value: unknown, plan: SpawnPlanBuilder, ctx: PlanContext): void {
    if (value !== true) return;
    plan.addCloneFlag(this.cloneFlag);
    this.extra?.(app, plan, ctx);
  }
}
