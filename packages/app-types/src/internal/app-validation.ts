import { ConfigValidationError, type AppConfig, type JsonSchema, type PlanContext } from '@warden/core';

/** Schema of `arguments`: an array of strings (Unit's form). */
export const ARGUMENTS_SCHEMA: JsonSchema = { type: 'array', items: { type: 'string' } };

/** JSON path of a key of an application, for error messages. */
export function appPath(ctx: PlanContext, ...keys: (string | number)[]): string {
  return ['', 'applications', ctx.appName, ...keys].map((k) => String(k).replace(/~/g, '~0').replace(/\//g, '~1')).join('/');
}

/**
 * Checks the keys every launcher shares with Unit's `external` type: `environment` names are non-empty and contain
 * neither `=` nor NUL, values are strings; `arguments` is an array of strings without NUL; `working_directory` is a
 * non-empty string. The schema already rejects wrong types; these checks repeat the type tests so that `validate`
 * is safe on input that did not pass the schema.
 */
export function validateCommon(app: AppConfig, ctx: PlanContext): void {
  const env = app.environment;
  if (env !== undefined) {
    if (env === null || typeof env !== 'object' || Array.isArray(env)) {
      throw new ConfigValidationError('The "environment" value must be an object.', appPath(ctx, 'environment'));
    }
    for (const [name, value] of Object.entries(env)) {
      const path = appPath(ctx, 'environment', name);
      if (name.length === 0) {
        throw new ConfigValidationError('The environment name must not be empty.', path);
      }
      if (name.includes('=')) {
        throw new ConfigValidationError(`The environment name "${name}" must not contain "=".`, path);
      }
      if (name.includes('\0')) {
        throw new ConfigValidationError('The environment name must not contain a null character.', path);
      }
      if (typeof value !== 'string') {
        throw new ConfigValidationError(`The "${name}" environment value must be a string.`, path);
      }
      if (value.includes('\0')) {
        throw new ConfigValidationError(`The "${name}" environment value must not contain a null character.`, path);
      }
    }
  }
  validateArguments(app, ctx);
  const wd = app.working_directory;
  if (wd !== undefined && (typeof wd !== 'string' || wd.length === 0 || wd.includes('\0'))) {
    throw new ConfigValidationError('The "working_directory" value must be a non-empty string.', appPath(ctx, 'working_directory'));
  }
}

function validateArguments(app: AppConfig, ctx: PlanContext): void {
  const args = app.arguments;
  if (args === undefined) return;
  if (!Array.isArray(args)) {
    throw new ConfigValidationError('The "arguments" value must be an array of strings.', appPath(ctx, 'arguments'));
  }
  args.forEach((arg, i) => {
    if (typeof arg !== 'string') {
      throw new ConfigValidationError('The "arguments" array must contain only string values.', appPath(ctx, 'arguments', i));
    }
    if (arg.includes('\0')) {
      throw new ConfigValidationError('An argument must not contain a null character.', appPath(ctx, 'arguments', i));
    }
  });
}

/** Checks a required, non-empty string key (`executable`, `script`); Unit's wording for a missing one. */
export function requireString(app: AppConfig, key: string, ctx: PlanContext): string {
  const value = app[key];
  if (value === undefined) {
    throw new ConfigValidationError(`Required parameter "${key}" is missing.`, appPath(ctx, key));
  }
  if (typeof value !== 'string') {
    throw new ConfigValidationError(`The "${key}" value must be a string.`, appPath(ctx, key));
  }
  if (value.length === 0 || value.includes('\0')) {
    throw new ConfigValidationError(`The "${key}" value must be a non-empty string without null characters.`, appPath(ctx, key));
  }
  return value;
}

/**
 * `environment` as a fresh object: the launcher's `env`. wardend sets these over the environment every app inherits
 * from it (its own at start, as Unit's apps inherit unitd's), then the channel's variables over both.
 */
export function appEnvironment(app: AppConfig): Record<string, string> {
  return { ...(app.environment ?? {}) };
}

/** The `arguments` array, copied. */
export function appArguments(app: AppConfig): string[] {
  return Array.isArray(app.arguments) ? (app.arguments as string[]).slice() : [];
}

/**
 * An executable name that is never looked up in PATH: a bare name (`app`) becomes `./app`, so that exec resolves it
 * relative to the working directory, as Unit does. Absolute paths and names with a `/` are unchanged.
 */
export function noPathLookup(executable: string): string {
  return executable.includes('/') ? executable : `./${executable}`;
}
