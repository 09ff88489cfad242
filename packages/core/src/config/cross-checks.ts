import type { AppConfig, WardenConfig } from '../contracts';
import { ConfigValidationError } from '../contracts';
import { passSegments } from '@warden/http-router';

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
    if (listener.tls !== undefined) checkTls(listener.tls as Record<string, unknown>, ptr('listeners', name, 'tls'));
    if (typeof listener.application === 'string' && !Object.prototype.hasOwnProperty.call(config.applications ?? {}, listener.application)) {
      fail(`Listening socket is assigned for a non existing application "${listener.application}".`, ptr('listeners', name, 'application'), 'WARDEN_ERR_CONFIG_PASS');
    }
  }
  const routes = config.routes;
  if (Array.isArray(routes)) checkSteps(config, routes, ['routes']);
  else if (routes && typeof routes === 'object') {
    for (const [name, steps] of Object.entries(routes as Record<string, unknown[]>)) checkSteps(config, steps, ['routes', name]);
  }
  for (const [name, app] of Object.entries(config.applications ?? {})) checkApplication(name, app);
  for (const [name, upstream] of Object.entries(config.upstreams ?? {})) {
    for (const server of Object.keys((upstream as { servers: Record<string, unknown> }).servers)) {
      if (!/^(\d{1,3}(\.\d{1,3}){3}|\[[0-9A-Fa-f:.]+\])(:\d{1,5})?$/.test(server)) {
        fail(`The "${server}" is not valid server address.`, ptr('upstreams', name, 'servers', server), 'WARDEN_ERR_CONFIG_UPSTREAM');
      }
    }
  }
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

/** Unit's value checks of `tls` (whether the named certificates exist is the controller's check). */
function checkTls(tls: Record<string, unknown>, path: string): void {
  if (Array.isArray(tls.certificate) && tls.certificate.length === 0) {
    fail('The "certificate" array must contain at least one element.', `${path}/certificate`, 'WARDEN_ERR_CONFIG_TLS');
  }
  const session = tls.session as { timeout?: number } | undefined;
  if (session?.timeout === 0) fail('The "timeout" number must be greater than zero.', `${path}/session/timeout`, 'WARDEN_ERR_CONFIG_TLS');
}

/** `pass` targets: `applications/<app>[/<target>]`, `upstreams/<name>`, `routes` (array form), `routes/<name>`. */
function checkPass(config: WardenConfig, pass: string, path: string): void {
  if (pass.includes('$')) return; // Variables are resolved per request, as in Unit.
  const invalid = () => fail(`Request "pass" points to invalid location "${pass}".`, path, 'WARDEN_ERR_CONFIG_PASS');
  // Split and percent-decoded by the router's own rule (Unit's nxt_http_pass_segments).
  const parts = passSegments(pass);
  if (parts === null) return fail(`Request "pass" value "${pass}" is invalid.`, path, 'WARDEN_ERR_CONFIG_PASS');
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
    const { action, match } = step as { action: Record<string, unknown>; match?: Record<string, unknown> };
    if (match) checkMatch(match, ptr(...at, i, 'match'));
    checkAction(config, action, ptr(...at, i, 'action'));
  });
}

/** Pattern rules Unit checks at configuration time: `scheme` is http/https (any case), no `**` in a pattern. */
function checkMatch(match: Record<string, unknown>, path: string): void {
  if (typeof match.scheme === 'string' && !/^https?$/i.test(match.scheme)) {
    fail('The "scheme" can either be "http" or "https".', `${path}/scheme`, 'WARDEN_ERR_CONFIG_MATCH');
  }
  const check = (pattern: unknown, at: string) => {
    if (typeof pattern !== 'string') return;
    const body = pattern.replace(/^!/, '');
    if (!body.startsWith('~') && body.includes('**')) fail('The "match" pattern must not contain double "*" markers.', at, 'WARDEN_ERR_CONFIG_MATCH');
  };
  const each = (v: unknown, at: string) => (Array.isArray(v) ? v.forEach((p, i) => check(p, `${at}/${i}`)) : check(v, at));
  for (const key of ['method', 'host', 'uri', 'query']) if (match[key] !== undefined) each(match[key], `${path}/${key}`);
  for (const key of ['arguments', 'headers', 'cookies']) {
    const sets = match[key];
    const list = Array.isArray(sets) ? sets : sets ? [sets] : [];
    list.forEach((set, i) => {
      for (const [name, v] of Object.entries(set as Record<string, unknown>)) {
        const at = Array.isArray(sets) ? ptr(key, i, name) : ptr(key, name);
        if (name === '') fail('The "match" pattern objects must not contain empty member names.', `${path}${at}`, 'WARDEN_ERR_CONFIG_MATCH');
        each(v, `${path}${at}`);
      }
    });
  }
}

const MAIN_ACTIONS = ['pass', 'share', 'proxy', 'return'];
const SHARE_ONLY = ['index', 'types', 'fallback', 'chroot', 'follow_symlinks', 'traverse_mounts'];

function checkAction(config: WardenConfig, action: Record<string, unknown>, path: string): void {
  const present = MAIN_ACTIONS.filter((k) => action[k] !== undefined);
  if (present.length !== 1) {
    fail(
      present.length === 0
        ? 'The "action" object must have either "pass", "return", "share", or "proxy" option set.'
        : 'The "action" object must have just one of "pass", "return", "share", or "proxy" options set.',
      path,
      'WARDEN_ERR_CONFIG_ACTION',
    );
  }
  for (const k of SHARE_ONLY) {
    if (action[k] !== undefined && action.share === undefined) fail(`The "${k}" option can only be used with "share".`, `${path}/${k}`, 'WARDEN_ERR_CONFIG_ACTION');
  }
  if (action.location !== undefined && action.return === undefined) fail('The "location" option can only be used with "return".', `${path}/location`, 'WARDEN_ERR_CONFIG_ACTION');
  if (typeof action.return === 'number' && (action.return < 0 || action.return > 999)) {
    fail('The "return" value is out of allowed HTTP status code range 0-999.', `${path}/return`, 'WARDEN_ERR_CONFIG_RANGE');
  }
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

/**
 * Most processes one application may have (`processes` as an integer, or `max`). Unit accepts up to 2^31-1; Warden
 * bounds it because every app process holds a 2 MiB shared-memory channel and a file descriptor in wardend, so
 * `processes: 100000` would exhaust wardend's memory and fds long before it helped anyone.
 */
export const MAX_APP_PROCESSES = 512;
const WHY_MAX = ' (Warden: each process holds a 2 MiB shared-memory channel and a file descriptor in wardend).';

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
