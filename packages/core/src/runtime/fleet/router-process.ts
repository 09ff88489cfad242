import { createServer, type Server } from 'http';
import pino from 'pino';
import type { Logger } from 'pino';
import { closeSync } from 'fs';
import { setFlagsFromString } from 'v8';
import { HttpRouter, RouterConfigError } from '@warden/http-router';
import type { ListenerHost, RouterConfig } from '@warden/http-router';
import { FdSocket, hardenProcess, RouterChannel } from '@warden/shm-transport';
import { AppGateway } from '../app-gateway';
import { RequestRecorder } from './request-recorder';
import { ChannelWorker, RouterPool } from './router-pool';
import type { FdMessage, MainMessage, RouterMessage } from './protocol';

/** fd of the FdSocket to main in a router process (stdio index 3 is Node's IPC channel). */
export const ROUTER_FD_SOCKET = 4;
/** How often a router reports process activity and checks its pools. */
const TICK_MS = 100;
/** A router that sent main nothing for this long says it is alive (see ROUTER_SILENCE_MS in router-link.ts). */
const ALIVE_MS = 1000;

/** What main passes a router in its environment. */
export interface RouterIdentity {
  index: number;
  uid: number;
  gid: number;
  groups: number[];
}

type PreparedChange = Awaited<ReturnType<HttpRouter['prepare']>>;

/**
 * One router process: accepts on the listeners main bound, parses HTTP, routes, serves files, proxies, terminates TLS
 * and exchanges requests with the app processes over its own channel to each of them. Runs as wardend's `--user`
 * with no capabilities and no_new_privs; everything privileged (binding, opening the access log, starting
 * processes) is asked of main.
 */
export class RouterProcess {
  private readonly log: Logger;
  private readonly router: HttpRouter;
  private readonly gateway: AppGateway;
  private readonly fdSocket: FdSocket;
  private readonly pools = new Map<number, RouterPool>();
  private apps = new Map<string, RouterPool>();
  private readonly tokens = new Map<number, { worker: ChannelWorker; pool: RouterPool }>();
  /** Channels opened ahead of time, by the token main asked for them with (see openSpare). */
  private readonly spares = new Map<number, RouterChannel>();
  private readonly prepared = new Map<number, PreparedChange>();
  private readonly waits = new Map<number, { resolve: (v: { msg: FdMessage; fds: number[] }) => void }>();
  private readonly recorder = new RequestRecorder();
  /** The metrics listener (`settings.metrics.listen`), served here and answered by main. */
  private metrics: Server | null = null;
  private readonly observing = new Map<number, (r: { status: number; contentType: string; body: string }) => void>();
  private nextId = 1;
  private timer: NodeJS.Timeout;
  private stopping = false;

  constructor(readonly identity: RouterIdentity) {
    this.log = pino({ base: { router: identity.index }, level: process.env.WARDEN_LOG_LEVEL ?? 'info' }, pino.destination({ fd: 1, sync: true }));
    this.fdSocket = new FdSocket(
      ROUTER_FD_SOCKET,
      (payload: Buffer, fds: number[]) => this.onFds(payload, fds),
      () => this.exit('the fd socket to main closed'),
    );
    this.fdSocket.unref();
    this.gateway = new AppGateway({ pool: (app) => this.apps.get(app) });
    const host: ListenerHost = {
      // Main binds the listener it finds under this key in the config it validated.
      listen: (spec) => this.askFd({ op: 'listen', id: 0, key: spec.key }),
      openAppend: (path) => this.askFd({ op: 'open-log', id: 0, path }),
    };
    this.router = new HttpRouter({
      gateway: this.gateway,
      logger: this.log,
      onRequestDone: this.recorder.requestDone,
      schemaChecked: true,
      ephemeralPorts: true,
      host,
    });
    this.timer = setInterval(() => this.tick(), TICK_MS);
    process.on('message', (m: MainMessage) => this.onMessage(m));
    process.on('disconnect', () => this.exit('main is gone'));
  }

  /** Drops root (when started as root): groups, gid, uid, then no_new_privs and not dumpable; tells main it is up. */
  start(): void {
    const { uid, gid, groups } = this.identity;
    if (process.getuid?.() === 0 && uid !== 0) {
      process.setgroups!(groups.length > 0 ? groups : [gid]);
      process.setgid!(gid);
      process.setuid!(uid);
    }
    hardenProcess();
    this.send({ op: 'up', pid: process.pid, uid: process.getuid!(), gid: process.getgid!() });
    setImmediate(warmUp);
  }

  /** When the last message to main went (the watchdog there wants one at least every ALIVE_MS). */
  private lastSent = 0;

  private send(m: RouterMessage): void {
    this.lastSent = Date.now();
    if (process.connected) process.send!(m);
  }

  /** Asks main for an fd (a listener, the access log) and waits for it on the FdSocket. */
  private askFd(m: Extract<RouterMessage, { op: 'listen' | 'open-log' }>): Promise<number> {
    const id = this.nextId++;
    return new Promise<{ msg: FdMessage; fds: number[] }>((resolve) => {
      this.waits.set(id, { resolve });
      this.send({ ...m, id });
    }).then(({ msg, fds }) => {
      if ('ok' in msg && msg.ok && fds.length === 1) return fds[0]!;
      const e = (msg as { error?: Record<string, unknown> }).error ?? { message: (msg as { message?: string }).message ?? 'main refused' };
      throw Object.assign(new Error(String(e.message)), e);
    });
  }

  private onFds(payload: Buffer, fds: number[]): void {
    let msg: FdMessage;
    try {
      msg = JSON.parse(payload.toString()) as FdMessage;
    } catch {
      return;
    }
    if (msg.op === 'metrics') {
      this.serveMetrics(fds[0]);
      for (const fd of fds.slice(1)) closeSync(fd);
      return;
    }
    if ((msg.op === 'listener' || msg.op === 'log') && this.waits.has(msg.id)) {
      const w = this.waits.get(msg.id)!;
      this.waits.delete(msg.id);
      w.resolve({ msg, fds });
    }
  }

  private onMessage(m: MainMessage): void {
    this.fdSocket.drain(); // fds sent before this message are here now
    this.log.debug({ op: m.op }, 'message from main');
    switch (m.op) {
      case 'config':
        void this.prepare(
          m.id,
          m.change,
          { ...(m.config as RouterConfig), certificates: m.certificates, jsModules: m.jsModules ?? {} },
          m.now === true ? (m.apps ?? {}) : undefined,
        );
        return;
      case 'commit': {
        const change = this.prepared.get(m.change);
        this.prepared.delete(m.change);
        this.setApps(m.apps);
        void (change ? change.commit() : Promise.resolve()).then(
          () => this.answer(m.id, this.router.listenerKeys()),
          (e: Error) => this.fail(m.id, e),
        );
        return;
      }
      case 'rollback': {
        const change = this.prepared.get(m.change);
        this.prepared.delete(m.change);
        void (change ? change.rollback() : Promise.resolve()).then(
          () => this.answer(m.id),
          (e: Error) => this.fail(m.id, e),
        );
        return;
      }
      case 'apps':
        this.setApps(m.apps);
        return;
      case 'pool':
        this.pools.set(m.pool, new RouterPool(m.pool, m.app, m.policy, this.uplink, this.log.child({ app: m.app })));
        return;
      case 'pool-closed': {
        const p = this.pools.get(m.pool);
        this.pools.delete(m.pool);
        p?.close();
        return;
      }
      case 'pool-failed':
        this.pools.get(m.pool)?.failed();
        return;
      case 'open-channel':
        this.openChannel(m.token, m.pool);
        return;
      case 'spare-channel':
        this.openSpare(m.token);
        return;
      case 'bind-channel':
        this.bindSpare(m.spare, m.token, m.pool);
        return;
      case 'process': {
        const t = this.tokens.get(m.token);
        if (t) t.worker.pid = m.pid;
        return;
      }
      case 'retire': {
        const t = this.tokens.get(m.token);
        if (!t) return;
        if (t.worker.state === 'running' || t.worker.state === 'starting') t.worker.state = 'draining';
        t.worker.channel.shutdown();
        return;
      }
      case 'gone': {
        const t = this.tokens.get(m.token);
        if (!t) return;
        this.tokens.delete(m.token);
        t.worker.state = 'gone';
        t.pool.remove(t.worker);
        t.worker.channel.closeAfterExit(new Error(m.reason));
        return;
      }
      case 'status':
        this.answer(m.id, this.status());
        return;
      case 'sync':
        this.answer(m.id); // the drain above acted on every fd message main sent before this one
        return;
      case 'reopen-logs':
        void this.router.reopenAccessLog().then(
          () => this.answer(m.id),
          (e: Error) => this.fail(m.id, e),
        );
        return;
      case 'stop':
        void this.stop(m.graceMs);
        return;
      case 'observed':
        this.observing.get(m.id)?.(m);
        this.observing.delete(m.id);
        return;
    }
  }

  /**
   * Serves the metrics listener on `fd` (or stops serving it): GET/HEAD of `/metrics`, `/ui` and `/ui/overview.json`,
   * answered by main (which has the numbers); parsed here, as wardend's unprivileged user.
   */
  private serveMetrics(fd: number | undefined): void {
    const old = this.metrics;
    this.metrics = null;
    if (old) {
      old.close();
      old.closeAllConnections();
    }
    if (fd === undefined) return;
    const server = createServer((req, res) => {
      const id = this.nextId++;
      const path = (req.url ?? '/').split('?')[0]!;
      this.observing.set(id, (r) => {
        res.writeHead(r.status, { 'Content-Type': r.contentType, 'Content-Length': Buffer.byteLength(r.body), Server: 'Warden' });
        res.end(req.method === 'HEAD' ? undefined : r.body);
      });
      this.send({ op: 'observe', id, method: req.method ?? 'GET', path });
    });
    server.on('error', (err) => this.log.error({ err }, 'metrics listener error'));
    server.listen({ fd });
    this.metrics = server;
  }

  private readonly uplink = {
    demand: (pool: number) => this.send({ op: 'demand', pool }),
    replace: (token: number, why: 'stalled' | 'protocol' | 'requests') => this.send({ op: 'replace', token, why }),
  };

  private setApps(apps: Record<string, number>): void {
    const next = new Map<string, RouterPool>();
    for (const [name, id] of Object.entries(apps)) {
      const p = this.pools.get(id);
      if (p) next.set(name, p);
    }
    this.apps = next;
  }

  /**
   * Prepares a config (with the certificates and module texts main sent); `commitNow` (a router joining the running
   * config) commits it at once with that app map.
   */
  private async prepare(id: number, change: number, config: RouterConfig, commitNow?: Record<string, number>): Promise<void> {
    try {
      const prepared = await this.router.prepare(config);
      if (commitNow !== undefined) {
        this.setApps(commitNow);
        await prepared.commit();
        this.answer(id, this.router.listenerKeys());
        return;
      }
      this.prepared.set(change, prepared);
      this.answer(id);
    } catch (e) {
      this.fail(id, e as Error);
    }
  }

  private answer(id: number, value?: unknown): void {
    this.send({ op: 'answer', id, ok: true, value });
  }

  private fail(id: number, e: Error): void {
    const err = e as Error & { code?: string; path?: string; errno?: number; address?: string; port?: number };
    const kind = e instanceof RouterConfigError ? 'config' : 'apply';
    this.send({
      op: 'answer',
      id,
      ok: false,
      error: { message: e.message, code: err.code, path: err.path, errno: err.errno, address: err.address, port: err.port, kind },
    });
  }

  /** A channel for a process main is about to start: the app end goes to main, which passes it to the process. */
  private openChannel(token: number, poolId: number): void {
    const pool = this.pools.get(poolId);
    if (!pool) {
      this.send({ op: 'channel-failed', token, message: `no pool ${poolId}` });
      return;
    }
    const channel = this.createChannel(token);
    if (!channel) return;
    this.attach(token, pool, channel);
    this.sendChannel(token, channel);
  }

  /**
   * A channel opened ahead of time (one per router at most: main asks for the next when it takes this one), so that
   * starting a process waits for no round trip to the router. It belongs to no process until `bind-channel`.
   */
  private openSpare(token: number): void {
    const channel = this.createChannel(token);
    if (!channel) return;
    this.spares.set(token, channel);
    channel.once('close', () => {
      if (this.spares.get(token) === channel) this.spares.delete(token);
    });
    this.sendChannel(token, channel);
  }

  /** Main gave the spare channel `spare` to process `token` of pool `poolId` (a READY it already sent is kept). */
  private bindSpare(spare: number, token: number, poolId: number): void {
    const channel = this.spares.get(spare);
    this.spares.delete(spare);
    const pool = this.pools.get(poolId);
    if (!channel || !pool) {
      channel?.close();
      this.send({ op: 'channel-failed', token, message: channel ? `no pool ${poolId}` : `no spare channel ${spare}` });
      return;
    }
    this.attach(token, pool, channel);
  }

  /** Makes `channel` the one of process `token` in `pool`: main hears when the process is ready, or breaks the protocol. */
  private attach(token: number, pool: RouterPool, channel: RouterChannel): void {
    const worker = new ChannelWorker(token, channel);
    this.tokens.set(token, { worker, pool });
    pool.add(worker);
    channel.ready.then(
      () => {
        if (worker.state === 'starting') pool.ready(worker);
        this.send({ op: 'channel-ready', token });
      },
      (e: Error) => this.send({ op: 'channel-failed', token, message: e.message, code: (e as { code?: string }).code }),
    );
    channel.on('close', (err?: Error) => {
      const code = (err as { code?: string } | undefined)?.code;
      if (worker.state !== 'gone' && (code === 'WARDEN_ERR_SHM_PROTOCOL' || code === 'WARDEN_ERR_SHM_LISTENER')) {
        this.log.error({ app_pid: worker.pid, err: err!.message }, 'app process broke the channel protocol: replacing it');
        this.send({ op: 'replace', token, why: 'protocol' });
      }
      if (worker.state !== 'gone') worker.state = 'draining';
    });
  }

  /** A new channel, or null when it cannot be created (main hears why, as `channel-failed` for `token`). */
  private createChannel(token: number): RouterChannel | null {
    try {
      return RouterChannel.create({ logger: this.log });
    } catch (e) {
      this.send({ op: 'channel-failed', token, message: (e as Error).message });
      return null;
    }
  }

  /** Sends the app end of `channel` to main (as `channel` with `token`), then closes this process's copies of it. */
  private sendChannel(token: number, channel: RouterChannel): void {
    try {
      this.fdSocket.send(JSON.stringify({ op: 'channel', token }), channel.fds);
    } catch (e) {
      this.send({ op: 'channel-failed', token, message: (e as Error).message });
    }
    channel.closeChildFds();
  }

  private status(): unknown {
    const s = this.router.stats();
    const processes = [];
    for (const p of this.pools.values()) for (const w of p.workers) if (w.state !== 'starting') processes.push(w.activity());
    return { connections: s.connections, requests: { total: s.requests.total }, processes, metrics: this.recorder.snapshot(), rss: process.memoryUsage.rss() };
  }

  private tick(): void {
    const now = Date.now();
    if (now - this.lastSent >= ALIVE_MS) this.send({ op: 'alive' });
    const changed = [];
    for (const p of this.pools.values()) {
      p.tick(now);
      for (const w of p.workers) {
        if (!w.dirty || w.state === 'starting') continue;
        w.dirty = false;
        changed.push(w.activity());
      }
    }
    if (changed.length > 0) this.send({ op: 'activity', processes: changed });
    // Counters too, so that what a router counted is not lost if it dies between two status requests.
    const st = this.router.stats();
    const c = st.connections;
    const key = `${c.accepted},${c.active},${c.idle},${c.closed},${st.requests.total}`;
    if (key !== this.lastCounters) {
      this.lastCounters = key;
      this.send({ op: 'counters', connections: c, total: st.requests.total, metrics: ++this.ticks % 10 === 0 ? this.recorder.snapshot() : undefined });
    }
  }

  private lastCounters = '';
  private ticks = 0;

  private async stop(graceMs: number): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.serveMetrics(undefined);
    await this.router.close(graceMs);
    this.exit();
  }

  private exit(why?: string): void {
    if (why !== undefined && !this.stopping) this.log.error(`router exits: ${why}`);
    clearInterval(this.timer);
    process.exit(0);
  }
}

/**
 * What Node does at first use, done when the router starts instead of in a user's first PUT /config and first
 * request (a new wardend's first start): V8's date cache and time zone, first needed by a Date header (6 ms on this
 * 2-core VM), and the `cluster` module, which net.Server#listen loads at its first call (3 ms).
 */
function warmUp(): void {
  void new Date().toUTCString();
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  require('cluster');
}

/**
 * Route patterns (`~regex`) run on what clients send, in V8's backtracking engine: a pattern with a nested quantifier
 * (`^/(a+)+$`) and a 40-character target kept the router busy for hours, every listener waiting behind it. Unit's
 * PCRE2 gives up at its match limit; here V8 switches a match that backtracks too much to its linear-time engine
 * (patterns it can run there: no backreferences or lookarounds), so the answer is the same and comes at once.
 */
export const REGEXP_FALLBACK_FLAG = '--enable-experimental-regexp-engine-on-excessive-backtracks';

/** The router process's entry: `node router-entry.js` with WARDEN_ROUTER set by main. */
export function runRouterProcess(): void {
  setFlagsFromString(REGEXP_FALLBACK_FLAG);
  const spec = process.env.WARDEN_ROUTER ?? '';
  delete process.env.WARDEN_ROUTER;
  const identity = JSON.parse(spec) as RouterIdentity;
  process.title = `wardend: router ${identity.index}`;
  new RouterProcess(identity).start();
}
