import type { IncomingHttpHeaders, IncomingMessage } from 'http';
import type { CompiledConfig, Pass } from './internal/compiled-config';
import { assertRouterSchema } from './config-check';
import { compileRouterConfig } from './internal/config-compiler';
import { RequestContext, type RequestView } from './internal/request-context';
import { resolveRoute, type RouteWalk } from './internal/resolve-route';

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

/** RouteMatcher walks routes without a response: steps with `response_headers` are taken, nothing is logged. */
const MATCH_WALK: RouteWalk = { log: null, responseHeaders: () => true };

/**
 * Unit's route matching without any server: compile `routes` once, then ask which step a request hits. Use it to
 * route inside your own server. `pass` actions leading to routes are followed (with their `rewrite`, as the router
 * follows them, up to Unit's 256 actions); the step whose action ends the walk is returned.
 */
export class RouteMatcher {
  private readonly compiled: CompiledConfig;
  private readonly starts = new Map<string, Pass>();

  /** Compiles `routes` (array or object of named arrays); throws RouterConfigError on bad semantics. */
  constructor(routes: unknown, opts: { upstreams?: object } = {}) {
    const config = { routes, upstreams: opts.upstreams };
    assertRouterSchema(config);
    this.compiled = compileRouterConfig(config, { anyApplication: true });
  }

  /** The matching step of route `name` (default: the array form), or null when no step matches (Unit: 404). */
  match(request: MatchRequest, name = ''): RouteMatch | null {
    const head: RequestView = { method: request.method, url: request.url, headers: request.headers, httpVersion: request.httpVersion ?? '1.1' };
    return this.run(
      new RequestContext(
        head,
        null,
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
    // The view, not `req`: a rewrite on the way must not change the caller's req.url.
    const head: RequestView = { method: req.method, url: req.url, headers: req.headers, headersDistinct: req.headersDistinct, httpVersion: req.httpVersion };
    return this.run(
      new RequestContext(head, null, s.remoteAddress ?? '', s.remotePort ?? 0, s.localAddress ?? '', s.localPort ?? 0, tls ? 'https' : 'http'),
      name,
    );
  }

  private run(ctx: RequestContext, name: string): RouteMatch | null {
    if (!ctx.parse()) return null;
    const start = this.start(name);
    if (start === null) return null;
    let r;
    try {
      r = resolveRoute(ctx, start, this.compiled, MATCH_WALK);
    } catch {
      return null; // a variable only a response has, in a pass or rewrite
    }
    if (typeof r === 'number' || ctx.action === null) return null;
    return { route: ctx.route, step: ctx.step, action: ctx.action.json };
  }

  /** A `pass` to route `name`, made once per name. */
  private start(name: string): Pass | null {
    let p = this.starts.get(name);
    if (p === undefined) {
      const steps = this.compiled.routes.get(name);
      if (steps === undefined) return null;
      p = { text: name === '' ? 'routes' : `routes/${name}`, target: { kind: 'route', name, steps }, dynamic: null };
      this.starts.set(name, p);
    }
    return p;
  }
}
