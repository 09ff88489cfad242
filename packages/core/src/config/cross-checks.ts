import type { AppConfig, WardenConfig } from '../contracts';
import { ConfigValidationError } from '../contracts';

/** Escapes a key for use in a JSON Pointer. */
export function ptr(...segs: (string | number)[]): string {
  return segs.map((s) => '/' + String(s).replace(/~/g, '~0').replace(/\//g, '~1')).join('');
}

const fail = (message: string, path: string, code: string): never => {
  throw new ConfigValidationError(message, path, code);
};

/**
 * Checks a schema-valid config's applications for what JSON Schema does not express well, in Unit's words:
 * `spare` <= `max`, process limits, environment names, arguments. (The rules of listeners, routes, upstreams and
 * `settings.http` are @warden/http-router's checkRouterConfig.)
 */
export function crossCheck(config: WardenConfig): void {
  for (const [name, app] of Object.entries(config.applications ?? {})) checkApplication(name, app);
}

/**
 * Most processes one application may have (`processes` as an integer, or `max`). Unit accepts up to 2^31-1; Warden
 * bounds it because every app process holds a 16 MiB shared-memory channel and a file descriptor in wardend, so
 * `processes: 100000` would exhaust wardend's memory and fds long before it helped anyone.
 */
export const MAX_APP_PROCESSES = 512;
const WHY_MAX = ' (Warden: each process holds a 16 MiB shared-memory channel and a file descriptor in wardend).';

function checkApplication(name: string, app: AppConfig): void {
  const processes = app.processes;
  const at = (...segs: string[]) => ptr('applications', name, 'processes', ...segs);
  if (typeof processes === 'number') {
    if (processes < 1) fail('The "processes" number must be equal to or greater than 1.', at(), 'WARDEN_ERR_CONFIG_RANGE');
    if (processes > MAX_APP_PROCESSES) fail(`The "processes" number must not exceed ${MAX_APP_PROCESSES}${WHY_MAX}`, at(), 'WARDEN_ERR_CONFIG_RANGE');
  } else if (processes !== null && typeof processes === 'object') {
    const max = processes.max ?? 1;
    const spare = processes.spare ?? 0;
    const idle = processes.idle_timeout ?? 15;
    if (spare < 0) fail('The "spare" number must not be negative.', at('spare'), 'WARDEN_ERR_CONFIG_RANGE');
    if (max < 1) fail('The "max" number must be equal to or greater than 1.', at('max'), 'WARDEN_ERR_CONFIG_RANGE');
    if (max > MAX_APP_PROCESSES) fail(`The "max" number must not exceed ${MAX_APP_PROCESSES}${WHY_MAX}`, at('max'), 'WARDEN_ERR_CONFIG_RANGE');
    if (spare > max) fail('The "spare" number must be less than or equal to "max".', at('spare'), 'WARDEN_ERR_CONFIG_RANGE');
    if (idle < 0) fail('The "idle_timeout" number must not be negative.', at('idle_timeout'), 'WARDEN_ERR_CONFIG_RANGE');
    if (idle > 2147483) fail('The "idle_timeout" number must not exceed 2147483.', at('idle_timeout'), 'WARDEN_ERR_CONFIG_RANGE');
  }
  // Seconds a Node timer holds (a longer one fires after 1 ms: every request would be 503 at once).
  const limitTimeout = (app.limits as { timeout?: number } | undefined)?.timeout;
  if (typeof limitTimeout === 'number' && limitTimeout > 2147483) {
    fail('The "timeout" number must not exceed 2147483.', ptr('applications', name, 'limits', 'timeout'), 'WARDEN_ERR_CONFIG_RANGE');
  }
  for (const [key, value] of Object.entries(app.environment ?? {})) {
    const path = ptr('applications', name, 'environment', key);
    if (key === '') fail('The environment name must not be empty.', path, 'WARDEN_ERR_CONFIG_ENVIRONMENT');
    if (key.includes('\0')) fail('The environment name must not contain null character.', path, 'WARDEN_ERR_CONFIG_ENVIRONMENT');
    if (key.includes('=')) fail("The environment name must not contain '=' character.", path, 'WARDEN_ERR_CONFIG_ENVIRONMENT');
    if (value.includes('\0')) fail(`The "${key}" environment value must not contain null character.`, path, 'WARDEN_ERR_CONFIG_ENVIRONMENT');
  }
  const args = (app as { arguments?: unknown }).arguments;
  if (Array.isArray(args) && args.some((a) => typeof a === 'string' && a.includes('\0'))) {
    fail('The "arguments" array must not contain strings with null character.', ptr('applications', name, 'arguments'), 'WARDEN_ERR_CONFIG_ARGUMENTS');
  }
}
