import type { AddressTest } from './address-pattern';
import type { HeadBufferLimits } from './head-buffers';
import type { StringTest } from './pattern';
import type { MatchTest } from './match-compiler';
import type { Template } from './template';
import type { Upstream } from './upstream';
import type { CompiledTls } from './tls-config';
import type { ListenSpec } from './ports';

/** Where a `pass` leads, resolved at compile time (or per request when it holds variables). */
export type PassTarget =
  | { kind: 'app'; app: string; target: string | undefined }
  | { kind: 'route'; name: string; steps: RouteStep[] }
  | { kind: 'upstream'; name: string; upstream: Upstream };

/** A `pass` value: static when it has no variables, else resolved per request. */
export interface Pass {
  text: string;
  target: PassTarget | null;
  dynamic: Template | null;
}

/** One compiled route step. */
export interface RouteStep {
  /** Literal prefix of `$uri` required by the step (a cheap pre-check), or null. */
  uriPrefix: string | null;
  test: MatchTest | null;
  action: Action;
}

/** Where `proxy` sends requests. */
export interface ProxyTarget {
  host: string;
  port: number;
  socketPath: string | undefined;
  /** Text of the target for logs. */
  text: string;
}

/** A compiled `share` action. */
export interface ShareSpec {
  paths: Template[];
  index: string;
  types: StringTest | null;
  chroot: Template | null;
  followSymlinks: boolean;
  traverseMounts: boolean;
  fallback: Action | null;
}

/** A compiled action object. */
export interface Action {
  /** The action object as written in the config. */
  json: Record<string, unknown>;
  kind: 'pass' | 'return' | 'share' | 'proxy';
  rewrite: Template | null;
  responseHeaders: Array<{ name: string; value: Template | null }> | null;
  pass: Pass | null;
  status: number;
  location: Template | null;
  share: ShareSpec | null;
  proxy: ProxyTarget | null;
}

/** `forwarded` of a listener. */
export interface Forwarded {
  clientIp: string | null;
  protocol: string | null;
  source: AddressTest;
  recursive: boolean;
}

/** One compiled listener: where it is bound (ListenSpec: key, host, port, ipv6Only, path, backlog) and what it does. */
export interface CompiledListener extends ListenSpec {
  /** Name as written in the config (`127.0.0.1:8080`). */
  name: string;
  pass: Pass;
  forwarded: Forwarded | null;
  /** `tls`: the listener serves HTTPS with these certificates. */
  tls: CompiledTls | null;
}

/** `settings.http`, in milliseconds and bytes. */
export interface HttpSettings {
  headerReadTimeout: number;
  bodyReadTimeout: number;
  sendTimeout: number;
  idleTimeout: number;
  maxBodySize: number;
  discardUnsafeFields: boolean;
  /** Log which step of which route each request matched (`log_route`). */
  logRoute: boolean;
  serverVersion: boolean;
  /** `large_header_buffer_size` and `large_header_buffers`: which heads Unit takes (head-buffers.ts). */
  headBuffers: HeadBufferLimits;
  /** `proxy_connect_timeout` (Warden): establishing a connection to a proxy target; 0 = none. */
  proxyConnectTimeout: number;
  /** `proxy_read_timeout` (Warden): between two reads from the target once the request is sent; 0 = none. */
  proxyReadTimeout: number;
  /** `proxy_send_timeout` (Warden): between two writes of the request to the target; 0 = none. */
  proxySendTimeout: number;
  /**
   * `max_connections` (Warden): client connections open at once over all listeners; null = derived from the fd
   * limit at start (see connection-limit.ts).
   */
  maxConnections: number | null;
  /** Some route or listener proxies (each client connection may hold an upstream connection too). */
  proxies: boolean;
  /** Lower-case `.ext` or file name (see mimeKey) → MIME type: Unit's built-in table plus `static.mime_types`. */
  mimeTypes: Map<string, string>;
  /** `websocket` (Unit's): applied to WebSocket connections tunnelled to an app (see websocket-guard.ts). */
  websocket: WebSocketSettings;
}

/** `settings.http.websocket`, in bytes and milliseconds (0 = off). */
export interface WebSocketSettings {
  /** Largest client frame, header included (default 1 MiB); larger → close 1009. */
  maxFrameSize: number;
  /** Longest wait for the next bytes of a client frame (default 60 s); then close 1001. */
  readTimeout: number;
  /** Idle time after which the router pings the client (default 30 s). */
  keepaliveInterval: number;
}

/** `access_log`. */
export interface AccessLog {
  path: string;
  format: Template;
  cond: ((ctx: import('./request-context').RequestContext) => boolean) | null;
  countsBytes: boolean;
}

/** A whole compiled router config: what one atomic switch installs. */
export interface CompiledConfig {
  listeners: Map<string, CompiledListener>;
  /** Named routes (`''` for the array form). */
  routes: Map<string, RouteStep[]>;
  settings: HttpSettings;
  accessLog: AccessLog | null;
  /** Some string of the config may read `$request_time` (the router then notes when each request's first byte came). */
  timesRequests: boolean;
  resolvePass(text: string): PassTarget | null;
}
