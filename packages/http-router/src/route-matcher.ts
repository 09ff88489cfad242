import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'http';
import type { CompiledConfig, RouteStep } from './internal/compiled-config';
import { assertRouterSchema } from './config-check';
import { compileRouterConfig } from './internal/config-compiler';
import { RequestContext } from './internal/request-context';

/** The request facts a standalone RouteMatcher needs. */
export interface MatchRequest {
  method: string;
  /** Request target as received (`/path?query`). */
  url: string;
  headers: IncomingHttpHeaders;
  remoteAddress?: string;
  remotePort?: number;
  localAddress?: string;
  localPort?: number;
  scheme?: 'http' | 'https';
  httpVersion?: string;
}

/** The step a request matched. */
export interface RouteMatch {
  /** Route name (`''` for the array form of `routes`). */
  route: string;
  /** Index of the step in that route. */
  step: number;
  /** The step's action object as written in the config. */
  action: Record<string, unknown>;
}

const fakeRes = { statusCode: 200, getHeader: () => undefined } as unknown as ServerResponse;

/**
 * Unit's route matching without any server: compile `routes` once, then ask which step a request hits. Use it to
 * route inside your own server. `pass: "routes/<name>"` actions are followed; any other action is returned.
 */
export class RouteMatcher {
  private readonly compiled: CompiledConfig;

  /** Compiles `routes` (array or object of named arrays); throws RouterConfigError on bad semantics. */
  constructor(routes: unknown, opts: { upstreams?: object } = {}) {
    const config = { routes, upstreams: opts.upstreams };
    assertRouterSchema(config);
    this.compiled = compileRouterConfig(config, { anyApplication: true });
  }

  /** The matching step of route `name` (default: the array form), or null when no step matches (Unit: 404). */
  match(request: MatchRequest, name = ''): RouteMatch | null {
    const req = {
      method: request.method,
      url: request.url,
      headers: request.headers,
      httpVersion: request.httpVersion ?? '1.1',
    } as unknown as IncomingMessage;
    return this.run(
      new RequestContext(
        req,
        fakeRes,
        request.remoteAddress ?? '',
        request.remotePort ?? 0,
        request.localAddress ?? '',
        request.localPort ?? 0,
        request.scheme ?? 'http',
      ),
      name,
    );
  }

  /** Same as match() for a request of your own Node server (addresses from its socket, TLS sockets are https). */
  matchIncoming(req: IncomingMessage, name = ''): RouteMatch | null {
    const s = req.socket;
    const tls = (s as { encrypted?: boolean }).encrypted === true;
    return this.run(
      new RequestContext(req, fakeRes, s.remoteAddress ?? '', s.remotePort ?? 0, s.localAddress ?? '', s.localPort ?? 0, tls ? 'https' : 'http'),
      name,
    );
  }

  private run(ctx: RequestContext, name: string): RouteMatch | null {
    if (!ctx.parse()) return null;
    let routeName = name;
    let steps: RouteStep[] | undefined = this.compiled.routes.get(name);
    for (let depth = 0; steps && depth < 16; depth++) {
      let hit = -1;
      const uri = ctx.path;
      for (let i = 0; i < steps.length; i++) {
        const p = steps[i].uriPrefix;
        if (p !== null && !uri.startsWith(p)) continue;
        const t = steps[i].test;
        if (t === null || t(ctx)) {
          hit = i;
          break;
        }
      }
      if (hit < 0) return null;
      const action = steps[hit].action;
      const target = action.kind === 'pass' ? action.pass!.target : null;
      if (target?.kind === 'route') {
        routeName = target.name;
        steps = target.steps;
        continue;
      }
      return { route: routeName, step: hit, action: action.json };
    }
    return null;
  }
}
