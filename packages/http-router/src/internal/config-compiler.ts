import { isIPv4, isIPv6 } from 'net';
import { compileAddressSet } from './address-pattern';
import type {
  AccessLog,
  Action,
  CompiledConfig,
  CompiledListener,
  Forwarded,
  HttpSettings,
  Pass,
  PassTarget,
  ProxyTarget,
  RouteStep,
  ShareSpec,
} from './compiled-config';
import { ACTION_ERROR, JS_MODULE_ERROR, jp, LISTENER_ERROR, PASS_ERROR, RouterConfigError, UPSTREAM_ERROR } from './errors';
import { addMimeTypes, defaultMimeTypes } from './mime-types';
import { compilePatternSet, percentDecode } from './pattern';
import { compileMatch, uriPrefixGuard } from './match-compiler';
import { contextWithModules, jsModuleRefs, withTemplateContext } from './js-scope';
import { compileTemplate, truthy, type Template } from './template';
import { compileTls, type TlsCertificate, type TlsConfig } from './tls-config';
import type { ListenSpec } from './ports';
import { Upstream } from './upstream';

/** The parts of a Unit config the router reads. */
export interface RouterConfig {
  listeners?: object;
  routes?: unknown;
  upstreams?: object;
  settings?: object;
  access_log?: unknown;
  applications?: object;
  /** Certificate bundles by name, for listeners' `tls.certificate` (the daemon fills it from `/certificates`). */
  certificates?: Record<string, TlsCertificate>;
  /**
   * JavaScript modules by name (their texts), for `settings.js_module`: each named module's default export is a
   * global of template literals (the daemon fills it from `/js_modules`).
   */
  jsModules?: Record<string, string>;
}

/** Unit's default access log format (combined). */
export const DEFAULT_LOG_FORMAT = '$remote_addr - - [$time_local] "$request_line" $status $body_bytes_sent "$header_referer" "$header_user_agent"';

type Obj = Record<string, unknown>;

function isObject(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function unknownKeys(obj: Obj, allowed: readonly string[], path: string, code?: string): void {
  for (const k of Object.keys(obj)) if (!allowed.includes(k)) throw new RouterConfigError(`Unknown parameter "${k}".`, jp(path, k), code);
}

/** A value the router's schema has already checked is a string (every type is the schema's rule, not this file's). */
const str = (v: unknown): string => v as string;

/** Where a listener binds: an IP address and port, or a unix socket path (`path`, abstract names start with NUL). */
export interface ListenAddress {
  host: string;
  port: number;
  ipv6Only: boolean;
  /** Unix socket path for `unix:/path` (`\0name` for `unix:@name`); null for IP listeners. */
  path: string | null;
  /** Canonical bind key: two listeners with the same key are the same socket. */
  key: string;
}

/**
 * Where a listener object (`/listeners/<name>`, already valid against the schema) is bound: its address and backlog.
 * wardend's main binds exactly this for a router that asks for the listener's key.
 */
export function listenSpec(name: string, listener: { backlog?: unknown } | null, path: string, ephemeralPort = false): ListenSpec {
  const b = listener?.backlog;
  // -1 is Unit's "the default backlog" (NXT_LISTEN_BACKLOG, 511 on Linux): Node's default is the same 511.
  return { ...parseListenAddress(name, path, ephemeralPort), backlog: b === undefined || b === -1 ? undefined : (b as number) };
}

/** Longest unix socket path (sun_path holds 108 bytes with the terminating NUL). */
const MAX_UNIX_PATH = 107;

/**
 * Parses a listener (or upstream server, or proxy) address as Unit's nxt_sockaddr_parse does: `unix:/path` and
 * `unix:@abstract` (at least two characters after `unix:`, at most 107 bytes), `[v6]:port`, `IP:port` and
 * `*:port`, with a port from 1 to 65535; a bare port (`8080`) or host name is invalid. `ephemeralPort` also
 * accepts port 0 (any free port), which Unit refuses: for embedders and tests of the standalone router only.
 */
export function parseListenAddress(name: string, path: string, ephemeralPort = false): ListenAddress {
  const bad = () => new RouterConfigError(`The listener address "${name}" is invalid.`, path, LISTENER_ERROR);
  if (name.length > 6 && name.startsWith('unix:')) {
    const sock = name.slice(5);
    if (Buffer.byteLength(sock) > MAX_UNIX_PATH) throw bad();
    return { host: '', port: 0, ipv6Only: false, path: sock.startsWith('@') ? '\0' + sock.slice(1) : sock, key: name };
  }
  let host: string;
  let portText: string;
  let v6 = false;
  if (name.startsWith('[')) {
    const close = name.indexOf(']');
    if (close < 0 || name[close + 1] !== ':') throw bad();
    host = name.slice(1, close);
    portText = name.slice(close + 2);
    if (!isIPv6(host)) throw bad();
    v6 = true;
  } else {
    const colon = name.indexOf(':');
    if (colon <= 0) throw bad();
    host = name.slice(0, colon);
    portText = name.slice(colon + 1);
    if (host === '*') host = '0.0.0.0';
    else if (!isIPv4(host)) throw bad();
  }
  const port = Number(portText);
  if (!/^\d{1,5}$/.test(portText) || port > 65535 || (port === 0 && !ephemeralPort)) throw bad();
  const key = v6 ? `[${host.toLowerCase()}]:${port}` : `${host}:${port}`;
  return { host, port, ipv6Only: v6, path: null, key };
}

/**
 * Where a proxy or an upstream server connects, from an address as Unit's nxt_sockaddr_parse reads it: `IP:port`,
 * `[v6]:port`, `*:port` (0.0.0.0, this host), `unix:/path`, `unix:relative`, `unix:@abstract`.
 */
function connectTarget(address: string, text: string, path: string): ProxyTarget {
  const a = parseListenAddress(address, path);
  if (a.path !== null) return { host: 'localhost', port: 0, socketPath: a.path, text };
  return { host: a.host, port: a.port, socketPath: undefined, text };
}

/** An upstream server address, in Unit's words when it does not parse. */
function parseServerAddress(text: string, path: string): ProxyTarget {
  try {
    return connectTarget(text, text, path);
  } catch {
    throw new RouterConfigError(`The "${text}" is not valid server address.`, path, UPSTREAM_ERROR);
  }
}

function parseProxy(text: string, path: string): ProxyTarget {
  // Unit's words (nxt_conf_vldt_proxy): the address after `http://`, no final period.
  const rest = text.startsWith('http://') ? text.slice(7) : text;
  try {
    if (rest === text) throw new Error('not http://');
    return connectTarget(rest, text, path);
  } catch {
    throw new RouterConfigError(`The "proxy" address is invalid "${rest}"`, path, ACTION_ERROR);
  }
}

/** A timeout in seconds (Unit's unit; the schema bounds it by what a Node timer holds) as milliseconds. */
const timeoutMs = (v: unknown): number => (v as number) * 1000;

/** A number the schema has checked, range included (config-schema.ts owns every numeric range). */
const num = (v: unknown): number => v as number;

const bool = (v: unknown): boolean => v as boolean;

/** Unit's `settings.http.websocket` keys (its defaults: 1 MiB, 60 s, 30 s). */
function compileWebSocket(v: Obj, base: string, s: HttpSettings): void {
  for (const [k, x] of Object.entries(v)) {
    const p = jp(base, k);
    switch (k) {
      case 'max_frame_size':
        s.websocket.maxFrameSize = num(x);
        break;
      case 'read_timeout':
        s.websocket.readTimeout = timeoutMs(x);
        break;
      case 'keepalive_interval':
        s.websocket.keepaliveInterval = timeoutMs(x);
        break;
      default:
        throw new RouterConfigError(`Unknown parameter "${k}".`, p);
    }
  }
}

function compileSettings(settings: { http?: Obj } | undefined): HttpSettings {
  const s: HttpSettings = {
    headerReadTimeout: 30_000,
    bodyReadTimeout: 30_000,
    sendTimeout: 30_000,
    idleTimeout: 180_000,
    maxBodySize: 8_388_608,
    discardUnsafeFields: true,
    logRoute: false,
    serverVersion: true,
    headBuffers: { size: 8192, count: 4 },
    proxyConnectTimeout: 60_000,
    proxyReadTimeout: 60_000,
    proxySendTimeout: 60_000,
    maxConnections: null,
    proxies: false,
    mimeTypes: defaultMimeTypes(),
    websocket: { maxFrameSize: 1_048_576, readTimeout: 60_000, keepaliveInterval: 30_000 },
  };
  const http = settings?.http;
  if (http === undefined) return s;
  const base = '/settings/http';
  let bufSize = 8192;
  let bufCount = 4;
  for (const [k, v] of Object.entries(http)) {
    const p = jp(base, k);
    switch (k) {
      case 'header_read_timeout':
        s.headerReadTimeout = timeoutMs(v);
        break;
      case 'body_read_timeout':
        s.bodyReadTimeout = timeoutMs(v);
        break;
      case 'send_timeout':
        s.sendTimeout = timeoutMs(v);
        break;
      case 'idle_timeout':
        s.idleTimeout = timeoutMs(v);
        break;
      case 'max_body_size':
        s.maxBodySize = num(v);
        break;
      case 'large_header_buffer_size':
        bufSize = num(v);
        break;
      case 'large_header_buffers':
        bufCount = num(v);
        break;
      case 'discard_unsafe_fields':
        s.discardUnsafeFields = bool(v);
        break;
      case 'server_version':
        s.serverVersion = bool(v);
        break;
      case 'log_route':
        s.logRoute = bool(v);
        break;
      // Unit options this router accepts and does not use yet (see the README's gaps).
      case 'chunked_transform':
      case 'body_buffer_size':
      case 'body_temp_path':
        break;
      case 'static':
        compileStatic(v as Obj, p, s);
        break;
      case 'websocket':
        compileWebSocket(v as Obj, p, s);
        break;
      case 'proxy_connect_timeout':
        s.proxyConnectTimeout = timeoutMs(v);
        break;
      case 'proxy_read_timeout':
        s.proxyReadTimeout = timeoutMs(v);
        break;
      case 'proxy_send_timeout':
        s.proxySendTimeout = timeoutMs(v);
        break;
      case 'max_connections':
        s.maxConnections = num(v);
        break;
      default:
        throw new RouterConfigError(`Unknown parameter "${k}".`, p);
    }
  }
  s.headBuffers = { size: bufSize, count: bufCount };
  return s;
}

function compileStatic(v: Obj, path: string, s: HttpSettings): void {
  const mt = v.mime_types;
  if (mt === undefined) return;
  addMimeTypes(mt, jp(path, 'mime_types'), s.mimeTypes);
}

function compileAccessLog(v: unknown): AccessLog | null {
  if (v === undefined || v === null) return null;
  const base = '/access_log';
  if (typeof v === 'string') {
    return { path: v, format: compileTemplate(DEFAULT_LOG_FORMAT, base, 'escaped').fn, cond: null, countsBytes: true };
  }
  const log = v as { path: string; format?: string | Record<string, string>; if?: string };
  const path = log.path;
  const fmt =
    typeof log.format === 'object'
      ? compileJsonLogFormat(log.format, jp(base, 'format'))
      : compileTemplate(log.format ?? DEFAULT_LOG_FORMAT, jp(base, 'format'), 'escaped');
  let cond: AccessLog['cond'] = null;
  if (log.if !== undefined) {
    const text = log.if;
    const negate = text.startsWith('!');
    const t = compileTemplate(negate ? text.slice(1) : text, jp(base, 'if')).fn;
    cond = negate ? (c) => !truthy(t(c)) : (c) => truthy(t(c));
  }
  return { path, format: fmt.fn, cond, countsBytes: fmt.vars.includes('body_bytes_sent') };
}

/**
 * An `access_log` `format` given as an object (Unit's JSON log format): each line is one JSON object with the
 * format's members in their order, each value a template (variables or JavaScript) and a string, JSON-escaped (so
 * not escaped as text lines are).
 */
function compileJsonLogFormat(members: Record<string, string>, path: string): { fn: Template; vars: string[] } {
  const parts: Array<{ key: string; fn: Template }> = [];
  const vars: string[] = [];
  for (const [name, text] of Object.entries(members)) {
    const t = compileTemplate(text, jp(path, name), true);
    parts.push({ key: JSON.stringify(name) + ':', fn: t.fn });
    vars.push(...t.vars);
  }
  const fn: Template = (ctx) => {
    let s = '{';
    for (let i = 0; i < parts.length; i++) s += (i === 0 ? '' : ',') + parts[i].key + JSON.stringify(parts[i].fn(ctx));
    return s + '}';
  };
  return { fn, vars };
}

/**
 * A `pass` value split into its segments as Unit does (nxt_http_pass_segments): at most 3, none empty, each
 * percent-decoded (`applications/loader%2Funit_http` names the app `loader/unit_http`); null when Unit refuses it.
 */
export function passSegments(text: string): string[] | null {
  const raw = text.split('/');
  if (raw.length > 3) return null;
  const out: string[] = [];
  for (const seg of raw) {
    const d = seg === '' ? null : percentDecode(seg, false);
    if (d === null || d === '') return null;
    out.push(d);
  }
  return out;
}

/** How a router config is compiled or checked. */
export interface RouterCompileOptions {
  /** `applications/<name>` may name any application (RouteMatcher: the config has no `applications`). */
  anyApplication?: boolean;
  /** Port 0 (any free port) is a valid listener port, which Unit refuses: for embedders and tests only. */
  ephemeralPorts?: boolean;
  /**
   * Check only: `tls.certificate` names are not looked up in `certificates` (the caller checks that they exist;
   * their key and chain are checked when the router compiles the config it runs).
   */
  checkOnly?: boolean;
}

/**
 * Compiles a whole router config that matches the router's schema (routerConfigSchema); throws RouterConfigError
 * with the JSON path and a stable code for the first rule it breaks (checkRouterConfig reports the same).
 */
export function compileRouterConfig(config: RouterConfig, opts: RouterCompileOptions = {}): CompiledConfig {
  // Modules run when the config is compiled to be used, not when it is only checked (their names and texts are the
  // caller's to check: checkJsModule).
  const modules = opts.checkOnly === true ? [] : jsModuleRefs(config.settings).map((r) => r.name);
  let context = null;
  if (modules.length > 0) {
    try {
      context = contextWithModules(modules, config.jsModules ?? {});
    } catch (e) {
      throw new RouterConfigError((e as Error).message, '/settings/js_module', JS_MODULE_ERROR);
    }
  }
  return withTemplateContext(context, () => compileConfig(config, opts));
}

function compileConfig(config: RouterConfig, opts: RouterCompileOptions): CompiledConfig {
  const apps = isObject(config.applications) ? (config.applications as Obj) : {};
  const anyApp = opts.anyApplication === true;
  const settings = compileSettings(config.settings as { http?: Obj } | undefined);

  // Upstreams.
  const upstreams = new Map<string, Upstream>();
  if (config.upstreams !== undefined) {
    for (const [name, up] of Object.entries(config.upstreams as Record<string, { servers: Record<string, { weight?: number }> }>)) {
      const p = jp('/upstreams', name);
      const servers: Array<{ target: ProxyTarget; weight: number }> = [];
      for (const [addr, srv] of Object.entries(up.servers)) {
        const sp = jp(jp(p, 'servers'), addr);
        const weight = srv.weight ?? 1;
        servers.push({ target: parseServerAddress(addr, sp), weight });
      }
      upstreams.set(name, new Upstream(name, servers));
      settings.proxies = true;
    }
  }

  // Routes: create the step arrays first so that `routes/x` references can be resolved in any order.
  const routes = new Map<string, RouteStep[]>();
  const routesIsArray = Array.isArray(config.routes);
  const pendingRoutes: Array<{ name: string; steps: unknown[]; path: string }> = [];
  if (config.routes !== undefined) {
    if (routesIsArray) pendingRoutes.push({ name: '', steps: config.routes as unknown[], path: '/routes' });
    else {
      for (const [name, steps] of Object.entries(config.routes as Record<string, unknown[]>)) pendingRoutes.push({ name, steps, path: jp('/routes', name) });
    }
    for (const r of pendingRoutes) routes.set(r.name, []);
  }

  const resolvePass = (text: string): PassTarget | null => {
    const parts = passSegments(text);
    if (parts === null) return null;
    if (parts[0] === 'applications' && (parts.length === 2 || parts.length === 3) && parts[1] !== '') {
      if (anyApp) return { kind: 'app', app: parts[1], target: parts[2] };
      const app = apps[parts[1]];
      if (!isObject(app)) return null;
      const targets = isObject(app.targets) ? app.targets : undefined;
      if (parts.length === 3) {
        if (!targets || !(parts[2] in targets)) return null;
        return { kind: 'app', app: parts[1], target: parts[2] };
      }
      if (targets) return null;
      return { kind: 'app', app: parts[1], target: undefined };
    }
    if (parts[0] === 'routes') {
      if (parts.length === 1 && routesIsArray) return { kind: 'route', name: '', steps: routes.get('')! };
      if (parts.length === 2 && !routesIsArray && routes.has(parts[1]) && parts[1] !== '') {
        return { kind: 'route', name: parts[1], steps: routes.get(parts[1])! };
      }
      return null;
    }
    if (parts[0] === 'upstreams' && parts.length === 2) {
      const up = upstreams.get(parts[1]);
      return up ? { kind: 'upstream', name: parts[1], upstream: up } : null;
    }
    return null;
  };

  const compilePass = (text: string, path: string): Pass => {
    const tpl = compileTemplate(text, path);
    if (tpl.constant === null) return { text, target: null, dynamic: tpl.fn };
    if (passSegments(text) === null) throw new RouterConfigError(`Request "pass" value "${text}" is invalid.`, path, PASS_ERROR);
    const target = resolvePass(text);
    if (!target) throw new RouterConfigError(`Request "pass" points to invalid location "${text}".`, path, PASS_ERROR);
    return { text, target, dynamic: null };
  };

  // Unit's older listener spelling `"application": "<name>"`: the name as written (not percent-decoded).
  const applicationPass = (app: string, path: string): Pass => {
    if (!anyApp && !isObject(apps[app])) {
      throw new RouterConfigError(`Listening socket is assigned for a non existing application "${app}".`, path, PASS_ERROR);
    }
    return { text: `applications/${app}`, target: { kind: 'app', app, target: undefined }, dynamic: null };
  };

  const compileAction = (v: Obj, path: string): Action => {
    const kinds = (['pass', 'share', 'proxy', 'return'] as const).filter((k) => v[k] !== undefined);
    if (kinds.length === 0) {
      throw new RouterConfigError('The "action" object must have either "pass", "return", "share", or "proxy" option set.', path, ACTION_ERROR);
    }
    if (kinds.length > 1) {
      throw new RouterConfigError('The "action" object must have just one of "pass", "return", "share", or "proxy" options set.', path, ACTION_ERROR);
    }
    const kind = kinds[0];
    const allowed: Record<typeof kind, string[]> = {
      pass: ['pass'],
      proxy: ['proxy'],
      return: ['return', 'location'],
      share: ['share', 'index', 'types', 'fallback', 'chroot', 'follow_symlinks', 'traverse_mounts'],
    };
    // As Unit's per-action member tables: an option of another action is an unknown parameter here.
    unknownKeys(v, [...allowed[kind], 'rewrite', 'response_headers'], path, ACTION_ERROR);
    const action: Action = {
      json: v,
      kind,
      rewrite: null,
      responseHeaders: null,
      pass: null,
      status: 0,
      location: null,
      share: null,
      proxy: null,
    };
    if (v.rewrite !== undefined) action.rewrite = compileTemplate(str(v.rewrite), jp(path, 'rewrite')).fn;
    if (v.response_headers !== undefined) {
      const rp = jp(path, 'response_headers');
      action.responseHeaders = [];
      for (const [name, value] of Object.entries(v.response_headers as Record<string, string | null>)) {
        const hp = jp(rp, name);
        if (!/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(name)) throw new RouterConfigError(`The "${name}" header name is invalid.`, hp);
        if (name.toLowerCase() === 'content-length') {
          throw new RouterConfigError(`The "${name}" response header value is not supported.`, hp, ACTION_ERROR);
        }
        action.responseHeaders.push({ name, value: value === null ? null : compileTemplate(value, hp).fn });
      }
    }
    switch (kind) {
      case 'pass':
        action.pass = compilePass(str(v.pass), jp(path, 'pass'));
        break;
      case 'proxy':
        action.proxy = parseProxy(str(v.proxy), jp(path, 'proxy'));
        settings.proxies = true;
        break;
      case 'return':
        action.status = num(v.return);
        if (v.location !== undefined) action.location = compileTemplate(str(v.location), jp(path, 'location')).fn;
        break;
      case 'share':
        action.share = compileShare(v, path);
        break;
    }
    return action;
  };

  const compileShare = (v: Obj, path: string): ShareSpec => {
    const sp = jp(path, 'share');
    const list = (Array.isArray(v.share) ? v.share : [v.share]) as string[];
    if (list.length === 0) throw new RouterConfigError('The "share" array must contain at least one element.', sp);
    const paths = list.map((s, i) => {
      const p = Array.isArray(v.share) ? jp(sp, i) : sp;
      return compileTemplate(s, p).fn;
    });
    // A NUL ends the name, as Unit's C string does when it opens the file (it serves "README" for "README\u0000x").
    const index = v.index === undefined ? 'index.html' : str(v.index).split('\0')[0];
    const types = v.types === undefined ? null : compilePatternSet(v.types, { fold: 'lower', decode: 'none' }, jp(path, 'types'));
    const chroot = v.chroot === undefined ? null : compileTemplate(str(v.chroot), jp(path, 'chroot')).fn;
    const followSymlinks = v.follow_symlinks === undefined ? true : bool(v.follow_symlinks);
    const traverseMounts = v.traverse_mounts === undefined ? true : bool(v.traverse_mounts);
    const fallback = v.fallback === undefined ? null : compileAction(v.fallback as Obj, jp(path, 'fallback'));
    return { paths, index, types, chroot, followSymlinks, traverseMounts, fallback };
  };

  for (const r of pendingRoutes) {
    const steps = routes.get(r.name)!;
    (r.steps as Array<{ match?: Obj; action: Obj }>).forEach((step, i) => {
      const p = jp(r.path, i);
      steps.push({
        uriPrefix: uriPrefixGuard(step.match),
        test: compileMatch(step.match, jp(p, 'match')),
        action: compileAction(step.action, jp(p, 'action')),
      });
    });
  }

  // Listeners.
  const listeners = new Map<string, CompiledListener>();
  if (config.listeners !== undefined) {
    for (const [name, l] of Object.entries(config.listeners as Record<string, Obj>)) {
      const p = jp('/listeners', name);
      const spec = listenSpec(name, l, p, opts.ephemeralPorts === true);
      if (l.pass === undefined && l.application === undefined) throw new RouterConfigError('The "pass" option is required.', jp(p, 'pass'), PASS_ERROR);
      const fw = l.forwarded ?? l.client_ip;
      const fwPath = jp(p, l.forwarded !== undefined ? 'forwarded' : 'client_ip');
      const forwarded = fw === undefined ? null : compileForwarded(fw as Obj, fwPath, l.client_ip !== undefined && l.forwarded === undefined);
      if (listeners.has(spec.key)) throw new RouterConfigError(`The listener "${name}" duplicates another listener's address.`, p, LISTENER_ERROR);
      const tls = l.tls === undefined ? null : compileTls(l.tls as TlsConfig, jp(p, 'tls'), opts.checkOnly === true ? null : (config.certificates ?? {}));
      const pass = l.pass !== undefined ? compilePass(str(l.pass), jp(p, 'pass')) : applicationPass(str(l.application), jp(p, 'application'));
      listeners.set(spec.key, { name, ...spec, pass, forwarded, tls });
    }
  }

  // Templates are compiled above (unknown variables already refused): a plain text search is enough here.
  // `$request_time`, `${request_time}`, or a template literal's `vars.request_time` / `vars['request_time']`.
  const timesRequests = /(?:\$\{?|vars\s*(?:\.\s*|\[\s*\\?['"`]))request_time/.test(JSON.stringify(config));
  return { listeners, routes, settings, accessLog: compileAccessLog(config.access_log), timesRequests, resolvePass };
}

function compileForwarded(v: Obj, path: string, legacy: boolean): Forwarded {
  // Unit's older `client_ip` object used `header` for the header name.
  const clientIp = (legacy ? v.header : v.client_ip) as string | undefined;
  const protocol = v.protocol as string | undefined;
  if (clientIp === undefined && protocol === undefined) {
    throw new RouterConfigError('The "forwarded" object must have either "client_ip" or "protocol" option set.', path);
  }
  return {
    clientIp: clientIp === undefined ? null : clientIp.toLowerCase(),
    protocol: protocol === undefined ? null : protocol.toLowerCase(),
    source: compileAddressSet(v.source, jp(path, 'source')),
    recursive: v.recursive === undefined ? false : bool(v.recursive),
  };
}
