import type { AppConfig, AppLauncher, JsonSchema, LaunchSpec, PlanContext } from '@warden/core';
import { ARGUMENTS_SCHEMA, appArguments, appEnvironment, noPathLookup, requireString, validateCommon } from './internal/app-validation';

/**
 * Unit's `external` application type (and `go`, its alias): runs `executable` directly with `arguments`. The
 * executable is never looked up in PATH; a relative one is relative to `working_directory` (inside `rootfs` when the
 * app has one). The app talks to wardend over the channel whose fds and env var the supervisor adds.
 */
export class ExternalLauncher implements AppLauncher {
  readonly types = ['external', 'go'] as const;
  readonly schema: { properties: Record<string, JsonSchema>; required: string[] } = {
    properties: {
      executable: { type: 'string', minLength: 1 },
      arguments: ARGUMENTS_SCHEMA,
    },
    required: ['executable'],
  };

  validate(app: AppConfig, ctx: PlanContext): void {
    requireString(app, 'executable', ctx);
    validateCommon(app, ctx);
  }

  launch(app: AppConfig, ctx: PlanContext): LaunchSpec {
    this.validate(app, ctx);
    const executable = noPathLookup(app.executable as string);
    return {
      executable,
      argv: [app.executable as string, ...appArguments(app)],
      env: appEnvironment(app),
      cwd: app.working_directory,
      stdout: app.stdout,
      stderr: app.stderr,
    };
  }
}
