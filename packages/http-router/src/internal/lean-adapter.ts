import type { Socket } from 'net';
import type { Action, CompiledConfig, HttpSettings } from './compiled-config';
import { LeanConnections, type FastExchange, type LeanHost } from './fast-connection';
import { LeanRequestView } from './lean-request-view';
import type { ConnState, ListenerEntry } from './listener-entry';
import type { ApplicationGateway, RequestInfo, RouterLogger } from './ports';
import { RequestContext } from './request-context';
import { resolveRoute, type RouteWalk } from './resolve-route';
import type { RouterCounters } from './router-stats';
import type { ServerHeaderSource } from './server-response';

/** What the lean path needs from the router. */
export interface LeanAdapterDeps {
  gateway: ApplicationGateway;
  log: RouterLogger;
  counters: RouterCounters;
  /** The running config (null: none yet). */
  config(): CompiledConfig | null;
  /** Where the current `Server` header value is read. */
  server: ServerHeaderSource;
  /** Connection facts of `st` (built once per connection). */
  info(st: ConnState): RequestInfo;
  /** Gives a connection to the listener's node:http server, `rest` (bytes read and not consumed) put back first. */
  handOff(entry: ListenerEntry, sock: Socket, rest: Buffer | null): void;
}

/**
 * The router's side of the lean HTTP/1.1 path (the LeanHost a FastConnection talks to): routes a parsed head with
 * resolveRoute (only plain `pass` actions and `rewrite`; anything else goes to node:http), counts requests, hands
 * them to the gateway's lean method. Private to the router.
 */
export class LeanAdapter implements LeanHost, RouteWalk {
  /** Connections on the lean path and their timeout sweep. */
  readonly leanConnections = new LeanConnections();
  /** RouteWalk: log_route is off whenever the lean path is on. */
  readonly log = null;

  constructor(private readonly deps: LeanAdapterDeps) {}

  get serverHeader(): string {
    return this.deps.server.serverHeader;
  }

  /** RouteWalk: a response header set on the way needs node:http's response. */
  responseHeaders(_ctx: RequestContext, _action: Action): boolean {
    return false;
  }

  leanSettings(): HttpSettings | null {
    return this.deps.config()?.settings ?? null;
  }

  leanTarget(entry: ListenerEntry, st: ConnState, ex: FastExchange): { app: string; target: string | undefined } | null {
    const cfg = this.deps.config();
    if (!entry.lean || !entry.live || cfg === null) return null;
    const pass = entry.listener.pass;
    const t = pass.target;
    if (t !== null && t.kind === 'app') return t;
    const view = LeanRequestView.of(ex);
    if (view === null) return null;
    const info = this.deps.info(st);
    const ctx = new RequestContext(view, null, info.remoteAddress, info.remotePort, info.localAddress, info.localPort, info.scheme);
    if (!ctx.parse()) return null;
    let r;
    try {
      r = resolveRoute(ctx, pass, cfg, this);
    } catch {
      return null; // e.g. a variable only a response has ($status) in a pass: node:http's path reports it
    }
    if (typeof r === 'number' || r.kind !== 'app') return null; // node:http answers it (errors, actions, upstreams)
    ex.target = ctx.target;
    ex.targetChecked = true;
    return r;
  }

  leanInfo(st: ConnState): RequestInfo {
    return this.deps.info(st);
  }

  leanStarted(st: ConnState): void {
    this.deps.counters.requestStarted(st);
  }

  leanDone(st: ConnState, status: number, app: string | null): void {
    this.deps.counters.requestDone(st, status, app, 'lean');
  }

  leanDispatch(app: string, target: string | undefined, ex: FastExchange): void {
    this.deps.gateway.handleLean!(app, target, ex);
  }

  leanError(err: unknown, what: string): void {
    this.deps.log.error({ err }, what);
  }

  leanHandOff(entry: ListenerEntry, sock: Socket, rest: Buffer | null): void {
    this.deps.handOff(entry, sock, rest);
  }

  stop(): void {
    this.leanConnections.stop();
  }
}
