import type { Agent } from 'http';
import type { Action, CompiledConfig, Pass } from './compiled-config';
import { errorPageBody, sendError, unitReason } from './error-page';
import type { ApplicationGateway, RouterLogger } from './ports';
import { proxyRequest } from './proxy';
import type { NodeRequestContext, RequestContext } from './request-context';
import { encodeLocation } from './request-target';
import { NOTICE, resolveRoute, type RouteWalk } from './resolve-route';
import { installResponseHeaders, safeHeaderValue } from './response-headers';
import { serveShare } from './share';
import type { FileIdentity } from './share-path';
import type { ServerHeaderSource } from './server-response';

/** What the action runner needs from the router. */
export interface ActionRunnerDeps {
  gateway: ApplicationGateway;
  /** Keep-alive agent for `proxy` and upstreams. */
  agent: Agent;
  log: RouterLogger;
  fileIdentity: FileIdentity | null;
  /** Where the current `Server` header value is read. */
  server: ServerHeaderSource;
}

/**
 * Runs what a request on node:http's path resolves to (resolveRoute): the app (the gateway), an upstream, or the
 * `return`, `share` (with its `fallback`) and `proxy` actions; errors are answered with Unit's error page.
 */
export class ActionRunner implements RouteWalk {
  readonly log: RouterLogger;

  constructor(private readonly deps: ActionRunnerDeps) {
    this.log = deps.log;
  }

  /** RouteWalk: node:http's path applies the last action's `response_headers`. */
  responseHeaders(ctx: RequestContext, action: Action): boolean {
    installResponseHeaders(ctx as NodeRequestContext, action.responseHeaders!);
    return true;
  }

  /** Serves `ctx` from `start` (the listener's pass, or a share's fallback). */
  run(ctx: NodeRequestContext, start: Pass | Action, cfg: CompiledConfig): void {
    const r = resolveRoute(ctx, start, cfg, this);
    if (typeof r === 'number') {
      sendError(ctx.res, r);
      return;
    }
    switch (r.kind) {
      case 'app':
        ctx.app = r.app;
        this.deps.gateway.handle(r.app, r.target, ctx.req, ctx.res, {
          remoteAddress: ctx.remoteAddress,
          remotePort: ctx.remotePort,
          localAddress: ctx.localAddress,
          localPort: ctx.localPort,
          scheme: ctx.scheme,
        });
        return;
      case 'upstream': {
        const server = r.upstream.pick();
        if (!server) sendError(ctx.res, 502);
        else proxyRequest(ctx, server, this.deps.agent, cfg.settings, this.log);
        return;
      }
      case 'return':
        sendReturn(ctx, r, this.deps.server.serverHeader);
        return;
      case 'proxy':
        proxyRequest(ctx, r.proxy!, this.deps.agent, cfg.settings, this.log);
        return;
      case 'share':
        this.share(ctx, r, cfg);
        return;
    }
  }

  private share(ctx: NodeRequestContext, action: Action, cfg: CompiledConfig): void {
    serveShare(ctx, action.share!, cfg.settings, this.deps.fileIdentity).then(
      (status) => {
        if (status === 0) return;
        const fb = action.share!.fallback;
        if (!fb) {
          sendError(ctx.res, status);
          return;
        }
        if (cfg.settings.logRoute) this.log.info(NOTICE, '"fallback" taken');
        try {
          this.run(ctx, fb, cfg);
        } catch (err) {
          this.log.error({ err, url: ctx.req.url }, 'fallback action failed');
          sendError(ctx.res, 500);
        }
      },
      (err) => {
        this.log.error({ err }, 'share failed');
        sendError(ctx.res, 500);
      },
    );
  }
}

/**
 * The `return` action as Unit answers it (nxt_http_return.c): 400–599 with Unit's error page; any other code
 * (0–399, 600–999) with `Content-Length: 0` and no body; Unit's reason phrase or none; `location` encoded as Unit
 * encodes it (see encodeLocation).
 */
function sendReturn(ctx: NodeRequestContext, action: Action, serverHeader: string): void {
  const res = ctx.res;
  const status = action.status;
  const location = action.location === null ? null : encodeLocation(action.location(ctx));
  if (status < 100) {
    // Node refuses to send status codes below 100; Unit allows 0–999, so write the response head ourselves.
    ctx.rawStatus = status;
    const sock = ctx.req.socket;
    const code = String(status).padStart(3, '0');
    let head = `HTTP/1.1 ${code} \r\nServer: ${serverHeader}\r\nDate: ${new Date().toUTCString()}\r\n`;
    if (location !== null) head += `Location: ${safeHeaderValue(location)}\r\n`;
    head += 'Content-Length: 0\r\nConnection: close\r\n\r\n';
    sock.end(head);
    return;
  }
  if (location !== null) res.setHeader('Location', safeHeaderValue(location));
  let body: string | undefined;
  if (status >= 400 && status <= 599) {
    body = errorPageBody(status);
    res.setHeader('Content-Type', 'text/html');
    res.setHeader('Content-Length', body.length);
  } else if (status >= 200 && status !== 204 && status !== 304) {
    res.setHeader('Content-Length', 0); // 1xx, 204 and 304 carry no body and must not announce one
  }
  res.writeHead(status, unitReason(status)); // an explicit phrase: node:http would put in its own
  res.end(body);
}
