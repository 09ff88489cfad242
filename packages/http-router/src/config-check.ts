import type { ValidateFunction } from 'ajv/dist/2020';
import { ROUTER_ROOT_PROPERTIES, ROUTER_SCHEMA_DEFS } from './config-schema';
import { compileRouterConfig, type RouterConfig } from './internal/config-compiler';
import { RouterConfigError } from './internal/errors';
import { schemaProblem } from './schema-errors';

/** One rule a router config breaks: where (JSON pointer), a stable code, and Unit's sentence. */
export interface RouterConfigProblem {
  path: string;
  code: string;
  message: string;
}

/** What checkRouterConfig may take for granted. */
export interface RouterCheckOptions {
  /** `applications/<name>` may name any application (the config has no `applications` to look them up in). */
  anyApplication?: boolean;
  /** Accept port 0 in listener addresses (Unit does not). */
  ephemeralPorts?: boolean;
  /** The caller checked `config` against the router's schema already (in its own, larger schema): skip that step. */
  schemaChecked?: boolean;
}

/**
 * Checks a router config: first against the router's schema (ROUTER_SCHEMA_DEFS / ROUTER_ROOT_PROPERTIES, which
 * own every type, required key and stated range), then the rules JSON Schema does not express: listener addresses as Unit parses them (`IP:port`, `*:port`,
 * `[v6]:port`, `unix:/path`, `unix:@name`; port 1-65535), `pass` targets (percent-decoded segments that name an
 * application of `config.applications`, an upstream or a route), exactly one action per step and only its options,
 * patterns, addresses, variables, `settings.http.static.mime_types`, upstream servers and the `tls` values.
 * Certificates are not looked up (the caller knows which exist). Returns the problems found, first one first
 * (today the check stops at the first); an empty array means the router will compile the config.
 */
export function checkRouterConfig(config: RouterConfig, opts: RouterCheckOptions = {}): RouterConfigProblem[] {
  try {
    if (opts.schemaChecked !== true) assertRouterSchema(config);
    compileRouterConfig(config, { anyApplication: opts.anyApplication, ephemeralPorts: opts.ephemeralPorts, checkOnly: true });
    return [];
  } catch (e) {
    if (e instanceof RouterConfigError) return [{ path: e.path, code: e.code, message: e.message }];
    throw e;
  }
}

/**
 * The router's schema on its own, as `HttpRouter.prepare` and RouteMatcher check what they are given: the router's
 * root keys, `settings.http` (other `settings` keys belong to the embedder) and `applications` (objects, by name).
 */
let standalone: ValidateFunction | null = null;

/**
 * ajv, loaded on first use: an embedder that checks the schema itself (`schemaChecked`, as wardend's router processes
 * do) never loads it, which saves about 4 MB of heap and code per process.
 */
function loadAjv(): typeof import('ajv/dist/2020').default {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- deliberately lazy (see above)
  return (require('ajv/dist/2020') as typeof import('ajv/dist/2020')).default;
}

/**
 * Checks the JSON part of a router config against the router's schema (compiled once per process); throws
 * RouterConfigError with Unit's sentence, the JSON path and a stable code for the first mistake.
 */
export function assertRouterSchema(config: RouterConfig): void {
  standalone ??= new (loadAjv())({ allErrors: true, strict: true, allowUnionTypes: true, verbose: true }).compile({
    type: 'object',
    properties: {
      ...ROUTER_ROOT_PROPERTIES,
      settings: {
        type: 'object',
        properties: { http: { $ref: '#/$defs/settingsHttp' }, js_module: { type: ['string', 'array'], items: { type: 'string' } } },
      },
      applications: { type: 'object', additionalProperties: { type: 'object' } },
    },
    $defs: ROUTER_SCHEMA_DEFS,
  });
  const { certificates: _material, jsModules: _modules, ...json } = config;
  if (!standalone(json)) {
    const p = schemaProblem(standalone.errors ?? []);
    throw new RouterConfigError(p.message, p.path, p.code);
  }
}
