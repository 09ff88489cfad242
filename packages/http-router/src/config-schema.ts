/*
 * The router's part of a Unit config, as JSON Schema data (draft 2020-12): `listeners`, `routes`, `upstreams`,
 * `settings.http` and `access_log`. This is the one place their shape is written: wardend compiles it with ajv into
 * the whole config schema (what `wardend --print-schema` shows), and checkRouterConfig adds the rules JSON Schema
 * cannot say (listener addresses, `pass` targets, one action per step, patterns, variables, TLS values).
 * A new Unit option for these objects is added here and in the compiler that reads it, nowhere else.
 */

/** A JSON Schema object. */
export type RouterJsonSchema = Record<string, unknown>;

const str: RouterJsonSchema = { type: 'string' };
const bool: RouterJsonSchema = { type: 'boolean' };
/*
 * Numeric ranges are stated here and nowhere else: the compiler takes every number the schema lets through. Where
 * Unit 1.35 checks a range (nxt_conf_validation.c) the schema says Unit's; where Unit takes any integer and Warden
 * cannot (a timer longer than Node's, a size beyond a JavaScript integer, a negative count), the limit is Warden's
 * and its sentence says so (schema-errors.ts).
 */
const uint: RouterJsonSchema = { type: 'integer', minimum: 0 };
/** A byte size or count: what a JavaScript number holds exactly. */
const size: RouterJsonSchema = { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER };
const strings: RouterJsonSchema = { $ref: '#/$defs/stringOrStrings' };
/** The longest timeout in seconds a Node timer holds (2^31 - 1 ms). */
export const MAX_TIMER_SECONDS = 2147483;
/** A timeout in seconds, at most what a Node timer holds: Unit takes whole seconds; Warden also takes fractions. */
const seconds: RouterJsonSchema = { type: 'number', minimum: 0, maximum: MAX_TIMER_SECONDS };
/** A timeout in whole seconds (Unit's `settings.http.websocket` ones), at most what a Node timer holds. */
const wholeSeconds: RouterJsonSchema = { type: 'integer', minimum: 0, maximum: MAX_TIMER_SECONDS };

/**
 * The `$defs` the router's schema uses (patterns, match objects, actions, route steps, listeners, upstreams,
 * `settings.http`). References are `#/$defs/<name>`: merge them into the `$defs` of the schema that embeds
 * {@link ROUTER_ROOT_PROPERTIES}.
 */
export const ROUTER_SCHEMA_DEFS: Record<string, RouterJsonSchema> = {
  stringOrStrings: { type: ['string', 'array'], items: str },
  matchObject: {
    type: ['object', 'array'],
    additionalProperties: strings,
    items: { type: 'object', additionalProperties: strings },
  },
  match: {
    type: 'object',
    properties: {
      method: strings,
      host: strings,
      uri: strings,
      query: strings,
      scheme: str,
      source: strings,
      destination: strings,
      arguments: { $ref: '#/$defs/matchObject' },
      headers: { $ref: '#/$defs/matchObject' },
      cookies: { $ref: '#/$defs/matchObject' },
      if: str,
    },
    additionalProperties: false,
  },
  // Every option of every action; which ones go together (one of pass/share/proxy/return, and only that action's
  // options) is checkRouterConfig's rule, in Unit's words.
  action: {
    type: 'object',
    properties: {
      pass: str,
      share: strings,
      index: str,
      types: strings,
      fallback: { $ref: '#/$defs/action' },
      chroot: str,
      follow_symlinks: bool,
      traverse_mounts: bool,
      proxy: str,
      // Unit's nxt_conf_vldt_return: an HTTP status code 0-999.
      return: { type: 'integer', minimum: 0, maximum: 999 },
      location: str,
      rewrite: str,
      response_headers: { type: 'object', additionalProperties: { type: ['string', 'null'] } },
    },
    additionalProperties: false,
  },
  routeStep: {
    type: 'object',
    properties: { match: { $ref: '#/$defs/match' }, action: { $ref: '#/$defs/action' } },
    required: ['action'],
    additionalProperties: false,
  },
  routeSteps: { type: 'array', items: { $ref: '#/$defs/routeStep' } },
  listener: {
    type: 'object',
    properties: {
      pass: str,
      // Unit's deprecated spelling of `"pass": "applications/<name>"`.
      application: str,
      // Unit's nxt_conf_vldt_listen_backlog: -1 (Unit's default, 511 on Linux) up to INT32_MAX.
      backlog: { type: 'integer', minimum: -1, maximum: 2147483647 },
      tls: {
        type: 'object',
        properties: {
          certificate: strings,
          conf_commands: { type: 'object', additionalProperties: str },
          session: {
            type: 'object',
            properties: {
              cache_size: uint,
              // Unit's nxt_conf_vldt_tls_timeout: greater than zero.
              timeout: { type: 'integer', exclusiveMinimum: 0 },
              tickets: { type: ['boolean', 'string', 'array'], items: str },
            },
            additionalProperties: false,
          },
        },
        required: ['certificate'],
        additionalProperties: false,
      },
      // Unit's older form of `forwarded` (client IP only).
      client_ip: {
        type: 'object',
        properties: { header: str, source: strings, recursive: bool },
        required: ['header', 'source'],
        additionalProperties: false,
      },
      forwarded: {
        type: 'object',
        properties: { client_ip: str, protocol: str, source: strings, recursive: bool },
        required: ['source'],
        additionalProperties: false,
      },
    },
    additionalProperties: false,
  },
  upstream: {
    type: 'object',
    properties: {
      servers: {
        type: 'object',
        additionalProperties: {
          type: 'object',
          properties: { weight: { type: 'number', minimum: 0, maximum: 1000000 } },
          additionalProperties: false,
        },
      },
    },
    required: ['servers'],
    additionalProperties: false,
  },
  settingsHttp: {
    type: 'object',
    properties: {
      header_read_timeout: seconds,
      body_read_timeout: seconds,
      send_timeout: seconds,
      idle_timeout: seconds,
      large_header_buffer_size: { type: 'integer', minimum: 1, maximum: 16777216 },
      large_header_buffers: { type: 'integer', minimum: 1, maximum: 1024 },
      // Unit takes any integer and has no range check for these sizes; Warden refuses negative ones.
      body_buffer_size: size,
      max_body_size: size,
      body_temp_path: str,
      discard_unsafe_fields: bool,
      log_route: bool,
      server_version: bool,
      chunked_transform: bool,
      // Warden extensions (seconds; fractions allowed): proxy timeouts as nginx's (default 60), and the client
      // connection limit (default derived from RLIMIT_NOFILE, see the README).
      proxy_connect_timeout: seconds,
      proxy_read_timeout: seconds,
      proxy_send_timeout: seconds,
      max_connections: { type: 'integer', minimum: 1, maximum: 2147483647 },
      websocket: {
        type: 'object',
        properties: { read_timeout: wholeSeconds, keepalive_interval: wholeSeconds, max_frame_size: size },
        additionalProperties: false,
      },
      static: {
        type: 'object',
        properties: { mime_types: { type: 'object', additionalProperties: strings } },
        additionalProperties: false,
      },
    },
    additionalProperties: false,
  },
  accessLog: {
    type: ['string', 'object'],
    // `format`: a line of text, or an object whose members are written as one JSON object per line (Unit 1.34).
    properties: { path: str, format: { type: ['string', 'object'], additionalProperties: str }, if: str },
    required: ['path'],
    additionalProperties: false,
  },
};

/**
 * The root keys the router owns, referring to {@link ROUTER_SCHEMA_DEFS}. `settings` itself belongs to the
 * embedding schema, which puts `http: { $ref: '#/$defs/settingsHttp' }` among its keys.
 */
export const ROUTER_ROOT_PROPERTIES: Record<string, RouterJsonSchema> = {
  listeners: { type: 'object', additionalProperties: { $ref: '#/$defs/listener' } },
  routes: {
    type: ['array', 'object'],
    items: { $ref: '#/$defs/routeStep' },
    additionalProperties: { $ref: '#/$defs/routeSteps' },
  },
  upstreams: { type: 'object', additionalProperties: { $ref: '#/$defs/upstream' } },
  access_log: { $ref: '#/$defs/accessLog' },
};
