import type { AppConfig, PlanContext } from '@warden/core';
import { ConfigValidationError } from '@warden/core';

/** Whether `isolation.namespaces.<key>` is true. */
export function namespaceOn(app: AppConfig, key: string): boolean {
  return app.isolation?.namespaces?.[key] === true;
}

/** JSON path of an isolation key of the app, for error messages. */
export function isolationPath(ctx: PlanContext, sub: string): string {
  return `/applications/${ctx.appName}/isolation/${sub}`;
}

/** A ConfigValidationError about `isolation.<sub>`. */
export function invalid(ctx: PlanContext, sub: string, message: string, code: string): ConfigValidationError {
  return new ConfigValidationError(message, isolationPath(ctx, sub), code);
}
