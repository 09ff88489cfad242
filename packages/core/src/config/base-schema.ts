import type { JsonSchema } from '../contracts';

/*
 * Core's part of the config schema, as data: the root object, `applications` with the keys common to every type,
 * and `settings` (its `http` object is the router's). The application `type` branches and the `isolation` keys are
 * filled in from the plugins by `buildConfigSchema`; `listeners`, `routes`, `upstreams`, `settings.http` and
 * `access_log` are @warden/http-router's schema (ROUTER_ROOT_PROPERTIES / ROUTER_SCHEMA_DEFS), checked further by
 * its checkRouterConfig. Application rules JSON Schema cannot say well (spare <= max, environment names) are in
 * `cross-checks.ts`.
 */

const str: JsonSchema = { type: 'string' };
const uint: JsonSchema = { type: 'integer', minimum: 0 };

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

/**
 * The root object's own keys; the router's root keys (ROUTER_ROOT_PROPERTIES) and `$defs` (`application`,
 * `isolation`, the router's) are added by `buildConfigSchema`.
 */
export const BASE_ROOT_PROPERTIES: Record<string, JsonSchema> = {
  applications: { type: 'object', additionalProperties: { $ref: '#/$defs/application' } },
  settings: {
    type: 'object',
    properties: {
      http: { $ref: '#/$defs/settingsHttp' },
      js_module: { type: ['string', 'array'], items: str },
      // Warden extension: router processes (default: wardend's --routers, which defaults to half the CPUs, rounded up).
      routers: { type: 'integer', minimum: 1, maximum: 256 },
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
};
