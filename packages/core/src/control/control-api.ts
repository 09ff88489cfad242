import type { WardenConfig } from '../contracts';
import type { Controller } from './controller';
import { handleCertificates } from './certificates-api';
import { handleJsModules } from './js-modules-api';
import { ConfigPathError, deleteAt, getAt, postAt, putAt, splitPath } from './config-path';
import { ControlError, errorBody, invalidPath, notAllowed, notFound } from './control-error';
import type { ControlResponse } from './control-error';
import { JsonParseError, parseJson } from './json-parser';

const DONE: ControlResponse = { status: 200, body: { success: 'Reconfiguration done.' } };

/** What serves `/metrics` and `/ui` (the runtime registers it; absent, those paths are Unit's "Invalid path."). */
export interface ObservabilityEndpoints {
  /** The Prometheus exposition and its content type. */
  metrics(): Promise<{ contentType: string; text: string }>;
  /** The status page's JSON snapshot of the running `config`. */
  overview(config: WardenConfig): unknown | Promise<unknown>;
  /** The status page (one self-contained HTML document). */
  page(): string;
}

/** Container token of the ObservabilityEndpoints. */
export const OBSERVABILITY = 'warden:Observability';

/**
 * Answers the read-only observability paths (`GET /metrics`, `/ui`, `/ui/overview.json`), or undefined for any
 * other path. Shared by the control socket and the optional `settings.metrics.listen` address.
 */
export async function observabilityResponse(
  endpoints: ObservabilityEndpoints | undefined,
  config: () => WardenConfig,
  method: string,
  path: string,
): Promise<ControlResponse | undefined> {
  if (endpoints === undefined || (path !== '/metrics' && path !== '/ui' && path !== '/ui/overview.json')) return undefined;
  if (method !== 'GET' && method !== 'HEAD') throw notAllowed();
  if (path === '/metrics') {
    const m = await endpoints.metrics();
    return { status: 200, body: m.text, contentType: m.contentType };
  }
  if (path === '/ui') return { status: 200, body: endpoints.page(), contentType: 'text/html; charset=utf-8' };
  return { status: 200, body: JSON.stringify(await endpoints.overview(config())), contentType: 'application/json' };
}

/**
 * Unit's control API as a function of (method, path, body) → (status, JSON body), independent of the transport:
 * `/config[/...]` (GET, PUT, POST, DELETE), `/`, `/certificates[/...]`, `/js_modules[/...]`, `/status[/...]`,
 * `/control/applications/<name>/restart`.
 */
export class ControlApi {
  constructor(
    private readonly controller: Controller,
    private readonly observability?: ObservabilityEndpoints,
  ) {}

  /** Answers one request. Never throws: every failure is one of Unit's error bodies. */
  async handle(method: string, url: string, body: Buffer = Buffer.alloc(0)): Promise<ControlResponse> {
    try {
      return await this.route(method.toUpperCase(), url, body);
    } catch (e) {
      if (e instanceof ControlError) return e.response;
      return { status: 500, body: errorBody('Internal server error.', `WARDEN_ERR_INTERNAL: ${(e as Error).message}`) };
    }
  }

  private async route(method: string, url: string, body: Buffer): Promise<ControlResponse> {
    const q = url.indexOf('?');
    const path = q >= 0 ? url.slice(0, q) : url;
    const observed = await observabilityResponse(this.observability, () => this.controller.config, method, path);
    if (observed !== undefined) return observed;
    if (path === '/' || path === '') {
      if (method !== 'GET') throw notAllowed();
      await this.controller.refreshStatus();
      const certificates = this.controller.certificates?.info();
      const jsModules = this.controller.scripts?.info();
      return {
        status: 200,
        body: {
          ...(certificates === undefined ? {} : { certificates }),
          ...(jsModules === undefined ? {} : { js_modules: jsModules }),
          config: this.controller.config,
          status: this.controller.status(),
        },
      };
    }
    // `OPTIONS *`, `GET *`: no path at all (Unit's controller refuses such a request line).
    if (path.charCodeAt(0) !== 47 /* / */) throw invalidPath();
    const [, head] = path.split('/');
    const rest = path.slice(head.length + 1);
    if (head === 'config') {
      const segs = splitPath(rest);
      if (segs === undefined) throw notFound();
      return this.config(method, segs, body);
    }
    if (head === 'certificates') return handleCertificates(this.controller, method, rest, body);
    if (head === 'js_modules') return handleJsModules(this.controller, method, rest, body);
    if (head === 'status') {
      const segs = splitPath(rest);
      if (method !== 'GET') throw notAllowed();
      await this.controller.refreshStatus();
      const found = segs && getAt(this.controller.status(), segs);
      if (!found || !found.found) throw invalidPath();
      return { status: 200, body: found.value };
    }
    if (head === 'control') {
      const segs = splitPath(rest);
      if (!segs || segs.length !== 3 || segs[0] !== 'applications' || segs[2] !== 'restart') throw invalidPath();
      if (method !== 'GET') throw notAllowed();
      await this.controller.restart(segs[1]);
      return { status: 200, body: { success: 'Ok' } };
    }
    throw invalidPath();
  }

  private async config(method: string, segs: string[], body: Buffer): Promise<ControlResponse> {
    switch (method) {
      case 'GET': {
        const found = getAt(this.controller.config, segs);
        if (!found.found) throw notFound();
        return { status: 200, body: found.value };
      }
      case 'PUT': {
        const value = parseBody(body);
        await this.controller.change((cur) => pathOp(() => putAt(cur, segs, value)));
        return DONE;
      }
      case 'POST': {
        if (segs.length === 0) throw notAllowed();
        const value = parseBody(body);
        await this.controller.change((cur) => pathOp(() => postAt(cur, segs, value)));
        return DONE;
      }
      case 'DELETE':
        await this.controller.change((cur) => pathOp(() => deleteAt(cur, segs)));
        return DONE;
      default:
        throw notAllowed();
    }
  }
}

function parseBody(body: Buffer): unknown {
  try {
    return parseJson(body);
  } catch (e) {
    if (e instanceof JsonParseError) {
      throw new ControlError({ status: 400, body: errorBody('Invalid JSON.', e.detail, { location: e.location }) });
    }
    throw e;
  }
}

function pathOp(op: () => unknown): unknown {
  try {
    return op();
  } catch (e) {
    if (e instanceof ConfigPathError) throw e.reason === 'not-found' ? notFound() : notAllowed();
    throw e;
  }
}
