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
 * Checks a schema-valid config for what JSON Schema does not express well, in Unit's words: listener addresses,
 * `pass` targets, one action per route step, `spare` <= `max`, environment names.
 */
export function crossCheck(config: WardenConfig): void {
  for (const [name, listener] of Object.entries(config.listeners ?? {})) {
    checkListenerAddress(name);
    if (listener.pass !== undefined) checkPass(config, listener.pass, ptr('listeners', name, 'pass'));
  }
  const routes = config.routes;
  if (Array.isArray(routes)) checkSteps(config, routes, ['routes']);
  else if (routes && typeof routes === 'object') {
    for (const [name, steps] of Object.entries(routes as Record<string, unknown[]>)) checkSteps(config, steps, ['routes', name]);
  }
  for (const [name, app] of Object.entries(config.applications ?? {})) checkApplication(name, app);
}

function checkListenerAddress(name: string): void {
  const path = ptr('listeners', name);
  if (name.startsWith('unix:')) {
    if (!name.slice(5).startsWith('/')) fail(`The listener address "${name}" is invalid: a unix socket path must be absolute.`, path, 'WARDEN_ERR_CONFIG_LISTENER');
    return;
  }
  const m = /^(?:(\*|\[[0-9A-Fa-f:.]+\]|\d{1,3}(?:\.\d{1,3}){3}):)?(\d+)$/.exec(name);
  const port = m ? Number(m[2]) : NaN;
  if (!m || !(port >= 1 && port <= 65535) || (m[1] && /^\d/.test(m[1]) && m[1].split('.').some((o) => Number(o) > 255))) {
    fail(`The listener address "${name}" is invalid. Use "IP:port", "*:port", "[IPv6]:port" or "unix:/path".`, path, 'WARDEN_ERR_CONFIG_LISTENER');
  }
}

/** `pass` targets: `applications/<app>[/<target>]`, `upstreams/<name>`, `routes` (array form), `routes/<name>`. */
function checkPass(config: WardenConfig, pass: string, path: string): void {
  if (pass.includes('$')) return; // Variables are resolved per request, as in Unit.
  const invalid = () => fail(`Request "pass" points to invalid location "${pass}".`, path, 'WARDEN_ERR_CONFIG_PASS');
  const parts = pass.split('/').map((p) => {
    try {
      return decodeURIComponent(p);
    } catch {
      return invalid();
    }
  });
  const has = (o: unknown, k: string) => !!o && typeof o === 'object' && Object.prototype.hasOwnProperty.call(o, k);
  switch (parts[0]) {
    case 'applications': {
      if (parts.length < 2 || parts.length > 3 || !has(config.applications, parts[1])) invalid();
      if (parts.length === 3) {
        const targets = (config.applications as Record<string, AppConfig>)[parts[1]].targets;
        if (!has(targets, parts[2])) invalid();
      }
      return;
    }
    case 'upstreams':
      if (parts.length !== 2 || !has(config.upstreams, parts[1])) invalid();
      return;
    case 'routes':
      if (parts.length === 1 && Array.isArray(config.routes)) return;
      if (parts.length === 2 && !Array.isArray(config.routes) && has(config.routes, parts[1])) return;
      invalid();
      return;
    default:
      invalid();
  }
}

function checkSteps(config: WardenConfig, steps: unknown[], at: string[]): void {
  steps.forEach((step, i) => {
    const action = (step as { action: Record<string, unknown> }).action;
    checkAction(config, action, ptr(...at, i, 'action'));
  });
}

const MAIN_ACTIONS = ['pass', 'share', 'proxy', 'return'];
const SHARE_ONLY = ['index', 'types', 'fallback', 'chroot', 'follow_symlinks', 'traverse_mounts'];

function checkAction(config: WardenConfig, action: Record<string, unknown>, path: string): void {
  const present = MAIN_ACTIONS.filter((k) => action[k] !== undefined);
  if (present.length !== 1) {
    fail(
      present.length === 0
        ? 'The "action" object must have either "pass", "share", "proxy", or "return" option set.'
        : `The "action" object must have only one of "pass", "share", "proxy", or "return" options set, but it has ${present.map((k) => `"${k}"`).join(' and ')}.`,
      path,
      'WARDEN_ERR_CONFIG_ACTION',
    );
  }
  for (const k of SHARE_ONLY) {
    if (action[k] !== undefined && action.share === undefined) fail(`The "${k}" option can only be used with "share".`, `${path}/${k}`, 'WARDEN_ERR_CONFIG_ACTION');
  }
  if (action.location !== undefined && action.return === undefined) fail('The "location" option can only be used with "return".', `${path}/location`, 'WARDEN_ERR_CONFIG_ACTION');
  if (typeof action.pass === 'string') checkPass(config, action.pass, `${path}/pass`);
  if (typeof action.proxy === 'string' && !action.proxy.includes('$') && !/^http:\/\/(unix:\/.+|[^/]+:\d+|[^/]+)$/.test(action.proxy)) {
    fail(`The "proxy" address is invalid "${action.proxy}".`, `${path}/proxy`, 'WARDEN_ERR_CONFIG_ACTION');
  }
  const headers = action.response_headers as Record<string, unknown> | undefined;
  for (const h of Object.keys(headers ?? {})) {
    if (h.toLowerCase() === 'content-length') fail('The "Content-Length" response header cannot be set.', `${path}/response_headers/${h}`, 'WARDEN_ERR_CONFIG_ACTION');
  }
  if (action.fallback) checkAction(config, action.fallback as Record<string, unknown>, `${path}/fallback`);
}

function checkApplication(name: string, app: AppConfig): void {
  const processes = app.processes;
  if (processes !== null && typeof processes === 'object') {
    const max = processes.max ?? 1;
    const spare = processes.spare ?? 0;
    if (max < 1) fail('The "max" number must be greater than 0.', ptr('applications', name, 'processes', 'max'), 'WARDEN_ERR_CONFIG_RANGE');
    if (spare > max) fail('The "spare" number must be less than or equal to "max".', ptr('applications', name, 'processes', 'spare'), 'WARDEN_ERR_CONFIG_RANGE');
  }
  for (const key of Object.keys(app.environment ?? {})) {
    const path = ptr('applications', name, 'environment', key);
    if (key === '') fail('The environment name must not be empty.', path, 'WARDEN_ERR_CONFIG_ENVIRONMENT');
    if (key.includes('=')) fail(`The environment name "${key}" must not contain the "=" character.`, path, 'WARDEN_ERR_CONFIG_ENVIRONMENT');
    if (key.includes('\0') || app.environment![key].includes('\0')) fail(`The environment variable "${key}" must not contain the NUL character.`, path, 'WARDEN_ERR_CONFIG_ENVIRONMENT');
  }
}
