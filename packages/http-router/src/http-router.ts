import { createServer as createNetServer, type Socket } from 'net';
import { AccessLogWriter, type LogFile } from './internal/access-log';
import { ActionRunner } from './internal/action-runner';
import type { CompiledConfig, CompiledListener } from './internal/compiled-config';
import { assertRouterSchema } from './config-check';
import { compileRouterConfig, type RouterConfig } from './internal/config-compiler';
import { ConnectionLimit } from './internal/connection-limit';
import { FastConnection, kLean } from './internal/fast-connection';
import { LeanAdapter } from './internal/lean-adapter';
import { ListenerEntry } from './internal/listener-entry';
import { ListenerSet } from './internal/listener-set';
import { NodeHttpPath } from './internal/node-http-path';
import type { ApplicationGateway, ListenerHost, RouterLogger } from './internal/ports';
import { RouterCounters, type RequestDoneHook, type RouterStats } from './internal/router-stats';
import type { FileIdentity } from './internal/share-path';
import { TlsSelector } from './internal/tls-selector';
import { UpstreamAgent } from './internal/upstream';

export type { CompletedRequest, RequestDoneHook, RouterStats } from './internal/router-stats';

/** Options of an HttpRouter. */
export interface HttpRouterOptions {
  gateway: ApplicationGateway;
  logger?: RouterLogger;
  /**
   * `share` serves only files this user could open (see FileIdentity). Set it when the router runs with more
   * privileges than the user files should be served as (wardend as root: its `--user`); unset, the router's own
   * permissions decide.
   */
  fileIdentity?: FileIdentity;
  /**
   * Called once per completed request on either path, with its listener, status, app and duration (see
   * CompletedRequest): the hook for metrics. Unset, requests are not timed.
   */
  onRequestDone?: RequestDoneHook;
  /**
   * Accept port 0 in listener addresses (bind any free port; see addresses()). Unit refuses port 0, and so does the
   * router by default; embedders and tests that want an ephemeral port set this.
   */
  ephemeralPorts?: boolean;
  /**
   * The embedder checks every config against the router's schema before `prepare` (wardend compiles
   * ROUTER_SCHEMA_DEFS into its own whole-config schema and runs `checkRouterConfig`): `prepare` then skips its own
   * schema check. Without it, `prepare` checks the schema itself.
   */
  schemaChecked?: boolean;
  /**
   * Binds the listeners and opens the access log for this router (wardend's unprivileged router processes get both
   * from the privileged main process). Absent: the router binds and opens by itself.
   */
  host?: ListenerHost;
}

/** What prepare() hands back: install the new config, or undo what prepare bound. */
export interface PreparedRouterChange {
  commit(): Promise<void>;
  rollback(): Promise<void>;
}

const VERSION = '0.1.0';

const noopLogger: RouterLogger = { info() {}, warn() {}, error() {}, debug() {} };

/**
 * Everything between a TCP connection and an application: binds Unit listeners, matches Unit routes and runs the
 * actions (pass, return, share, proxy). Reconfiguration is two-phase (prepare binds, commit switches atomically),
 * so a failed apply leaves the running config untouched.
 *
 * The router itself owns the config's life cycle and accepts connections; the jobs are modules: the listener set
 * (binding, draining), the TLS selector (SNI), node:http's path, the lean HTTP/1.1 path's adapter, the action runner
 * (one route resolver for every path), the access log and the counters with the per-request completion hook.
 */
export class HttpRouter {
  /** The gateway has the lean method: listeners passing straight to an app take the lean HTTP/1.1 path. */
  private readonly leanCapable: boolean;
  private readonly log: RouterLogger;
  private active: CompiledConfig | null = null;
  private pending = false;
  private closed = false;
  /** Current `Server` header value. */
  private serverHeaderValue = `Warden/${VERSION}`;
  /** Keep-alive agent for `proxy` and upstreams. */
  private readonly agent = new UpstreamAgent();
  /** `max_connections` over all listeners. */
  private readonly connections: ConnectionLimit;
  private readonly ephemeralPorts: boolean;
  private readonly schemaChecked: boolean;
  private readonly counters: RouterCounters;
  private readonly accessLog: AccessLogWriter;
  private readonly node: NodeHttpPath;
  private readonly lean: LeanAdapter;
  private readonly tls: TlsSelector;
  private readonly listeners: ListenerSet;

  constructor(opts: HttpRouterOptions) {
    const gateway = opts.gateway;
    this.leanCapable = typeof gateway.handleLean === 'function';
    const log = (this.log = opts.logger ?? noopLogger);
    this.connections = new ConnectionLimit(log);
    this.ephemeralPorts = opts.ephemeralPorts === true;
    this.schemaChecked = opts.schemaChecked === true;
    this.counters = new RouterCounters(opts.onRequestDone ?? null);
    this.accessLog = new AccessLogWriter(log, opts.host ?? null);
    const config = () => this.active;
    const server = this.serverHeaderSource();
    const actions = new ActionRunner({ gateway, agent: this.agent, log, fileIdentity: opts.fileIdentity ?? null, server });
    this.node = new NodeHttpPath({ gateway, log, counters: this.counters, accessLog: this.accessLog, actions, server, config });
    const node = this.node;
    this.lean = new LeanAdapter({
      gateway,
      log,
      counters: this.counters,
      config,
      server,
      info: (st) => node.info(st),
      handOff: (entry, sock, rest) => node.handOff(entry, sock, rest),
    });
    this.tls = new TlsSelector(
      log,
      (entry, sock) => this.accept(entry, sock),
      () => this.serverHeaderValue,
    );
    this.listeners = new ListenerSet(
      {
        create: (l, compiled) => this.createEntry(l, compiled),
        answerIdle: (sock) => node.answerIdle(sock),
        closeLeanIdle: (sock, answer) => (sock as Socket & { [kLean]?: FastConnection })[kLean]?.closeIfIdle(answer),
        acceptFailed: (entry, err) => log.error({ err, listener: entry.listener.name }, 'cannot accept on the listener'),
      },
      opts.host ?? null,
    );
  }

  /** The current `Server` header value (changes with `settings.http.server_version`). */
  get serverHeader(): string {
    return this.serverHeaderValue;
  }

  private serverHeaderSource(): { readonly serverHeader: string } {
    const self = this;
    return {
      get serverHeader() {
        return self.serverHeaderValue;
      },
    };
  }

  /**
   * Compiles `config` and binds the listeners it adds. Nothing changes for running traffic until commit().
   * Throws RouterConfigError for bad semantics, or the listen error (code EADDRINUSE, EACCES, ...).
   */
  async prepare(config: RouterConfig): Promise<PreparedRouterChange> {
    if (this.closed) throw new Error('the router is closed');
    if (this.pending) throw new Error('another router change is prepared and not yet committed or rolled back');
    if (!this.schemaChecked) assertRouterSchema(config);
    const compiled = compileRouterConfig(config, { ephemeralPorts: this.ephemeralPorts });
    this.pending = true;
    let logFile: LogFile | null = null;
    let added: ListenerEntry[];
    try {
      logFile = await this.accessLog.prepare(compiled.accessLog?.path ?? null);
      added = await this.listeners.bind(compiled);
    } catch (err) {
      await logFile?.close();
      this.pending = false;
      throw err;
    }
    let done = false;
    return {
      commit: async () => {
        if (done) return;
        done = true;
        this.pending = false;
        this.install(compiled, logFile);
      },
      rollback: async () => {
        if (done) return;
        done = true;
        this.pending = false;
        await logFile?.close();
        await this.listeners.unbind(added);
      },
    };
  }

  /** The bound address of each listener, by its config name (useful with port 0). */
  addresses(): Record<string, { address: string; port: number }> {
    return this.listeners.addresses();
  }

  /** Unit status counters. */
  /** The canonical keys of the listeners bound now (`0.0.0.0:8080`, ...), draining ones excluded. */
  listenerKeys(): string[] {
    return this.listeners.keys();
  }

  stats(): RouterStats {
    return this.counters.snapshot();
  }

  /** Stops accepting, lets in-flight requests finish for up to `graceMs`, then drops what is left. */
  async close(graceMs = 5000): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.listeners.close(graceMs);
    this.lean.stop();
    this.agent.destroy();
    await this.accessLog.close();
  }

  /**
   * Reopens the access log at its configured path (SIGUSR1 after logrotate moved the file): lines written from now
   * on go to a new file. If the path cannot be opened, the old file stays in use and the error is thrown.
   */
  async reopenAccessLog(): Promise<void> {
    if (this.closed) return;
    await this.accessLog.reopen();
  }

  private install(compiled: CompiledConfig, logFile: LogFile | null): void {
    this.active = compiled;
    const s = compiled.settings;
    this.serverHeaderValue = s.serverVersion ? `Warden/${VERSION}` : 'Warden';
    this.lean.leanConnections.configure(s);
    this.connections.configure(s);
    this.accessLog.install(compiled.accessLog?.path ?? null, logFile);
    this.listeners.install(compiled, (entry, l) => {
      entry.fast = l.pass.target?.kind === 'app' && !l.forwarded && !compiled.accessLog;
      // The lean path: a pass straight to an app, or through routes when nothing needs the per-request log.
      entry.lean = this.leanCapable && !l.forwarded && !compiled.accessLog && (entry.fast || !s.logRoute);
      this.node.configure(entry, compiled);
    });
  }

  /** A new listener: the net server that accepts (then TLS, then the lean path or node:http), and its node:http server. */
  private createEntry(l: CompiledListener, compiled: CompiledConfig): ListenerEntry {
    // Same socket options as node:http's own listening server.
    const server = createNetServer({ allowHalfOpen: true, noDelay: true });
    const http = this.node.createServer(compiled, () => entry);
    const entry: ListenerEntry = new ListenerEntry(server, http, l, compiled.settings.headBuffers);
    server.on('connection', (sock: Socket) => {
      if (!this.connections.admit(sock)) return;
      if (entry.listener.tls !== null) this.tls.start(entry, sock, this.active?.settings.headerReadTimeout ?? 30_000);
      else this.accept(entry, sock);
    });
    server.on('error', (err) => {
      if (!this.connections.acceptFailed(err)) this.log.error({ err, listener: l.name }, 'listener error');
    });
    return entry;
  }

  /** A new connection (after the TLS handshake on a TLS listener): the lean path when the listener allows it, else node:http. */
  private accept(entry: ListenerEntry, sock: Socket): void {
    const st = this.node.track(entry, sock);
    if (entry.lean && entry.live) new FastConnection(sock, entry, st, this.lean);
    else this.node.handOffOnData(entry, sock);
  }
}
