import type { JsonSchema } from '../contracts';

/*
 * Core's part of the config schema, as data: Unit's root objects and the application keys common to every type.
 * The application `type` branches and the `isolation` keys are filled in from the plugins by `buildConfigSchema`.
 * Detailed semantics (listeners, routes, actions) belong to the router; this schema accepts every valid Unit 1.35
 * config and rejects unknown keys and wrong types. Rules JSON Schema cannot say well (exactly one action,
 * "pass" targets, spare <= max) are checked in `cross-checks.ts`.
 */

const str: JsonSchema = { type: 'string' };
const bool: JsonSchema = { type: 'boolean' };
const uint: JsonSchema = { type: 'integer', minimum: 0 };
const strings: JsonSchema = { $ref: '#/$defs/stringOrStrings' };

/** The `$defs` shared by the whole schema (patterns, match objects, actions, route steps). */
export const BASE_DEFS: Record<string, JsonSchema> = {
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
      return: { type: 'integer' },
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
      backlog: { type: 'integer', minimum: -1 },
      tls: {
        type: 'object',
        properties: {
          certificate: strings,
          conf_commands: { type: 'object', additionalProperties: str },
          session: {
            type: 'object',
            properties: {
              cache_size: uint,
              timeout: uint,
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
        properties: {
          client_ip: str,
          protocol: str,
          source: strings,
          recursive: bool,
        },
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
      header_read_timeout: uint,
      body_read_timeout: uint,
      send_timeout: uint,
      idle_timeout: uint,
      large_header_buffer_size: { type: 'integer', minimum: 1 },
      large_header_buffers: { type: 'integer', minimum: 1 },
      body_buffer_size: uint,
      max_body_size: uint,
      body_temp_path: str,
      discard_unsafe_fields: bool,
      log_route: bool,
      server_version: bool,
      chunked_transform: bool,
      // Warden extensions (seconds; fractions allowed): proxy timeouts as nginx's (default 60), and the client
      // connection limit (default derived from RLIMIT_NOFILE, see http-router's README).
      proxy_connect_timeout: { type: 'number', minimum: 0 },
      proxy_read_timeout: { type: 'number', minimum: 0 },
      proxy_send_timeout: { type: 'number', minimum: 0 },
      max_connections: { type: 'integer', minimum: 1 },
      websocket: {
        type: 'object',
        properties: { read_timeout: uint, keepalive_interval: uint, max_frame_size: uint },
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
};

/** Keys every application accepts whatever its `type` (Unit's common application options). */
export const COMMON_APP_PROPERTIES: Record<string, JsonSchema> = {
  type: str,
  processes: {
    type: ['integer', 'object'],
    properties: { max: { type: 'integer' }, spare: { type: 'integer' }, idle_timeout: { type: 'integer' } },
    additionalProperties: false,
  },
  limits: {
    type: 'object',
    // `reschedule_timeout` and `shm` are accepted for compatibility with older Unit configs and ignored.
    properties: { timeout: uint, requests: uint, reschedule_timeout: uint, shm: uint },
    additionalProperties: false,
  },
  user: str,
  group: str,
  working_directory: str,
  environment: { type: 'object', additionalProperties: str },
  stdout: str,
  stderr: str,
  isolation: { $ref: '#/$defs/isolation' },
};

/** The root object; `$defs.application` and `$defs.isolation` are added by `buildConfigSchema`. */
export const BASE_ROOT_PROPERTIES: Record<string, JsonSchema> = {
  listeners: { type: 'object', additionalProperties: { $ref: '#/$defs/listener' } },
  routes: {
    type: ['array', 'object'],
    items: { $ref: '#/$defs/routeStep' },
    additionalProperties: { $ref: '#/$defs/routeSteps' },
  },
  applications: { type: 'object', additionalProperties: { $ref: '#/$defs/application' } },
  upstreams: { type: 'object', additionalProperties: { $ref: '#/$defs/upstream' } },
  settings: {
    type: 'object',
    properties: {
      http: { $ref: '#/$defs/settingsHttp' },
      js_module: strings,
      // Warden extension: a plain HTTP address that serves only GET /metrics, /ui and /ui/overview.json.
      metrics: {
        type: 'object',
        properties: { listen: { type: 'string', pattern: '^(\\[[0-9a-fA-F:.]+\\]|[0-9]{1,3}(\\.[0-9]{1,3}){3}|\\*):[0-9]{1,5}$' } },
        additionalProperties: false,
      },
      telemetry: {
        type: 'object',
        properties: {
          endpoint: str,
          protocol: { type: 'string', enum: ['http', 'grpc'] },
          batch_size: uint,
          sampling_ratio: { type: 'number', minimum: 0, maximum: 1 },
        },
        additionalProperties: false,
      },
    },
    additionalProperties: false,
  },
  access_log: {
    type: ['string', 'object'],
    properties: { path: str, format: { type: ['string', 'object'], additionalProperties: str }, if: str },
    additionalProperties: false,
  },
};
