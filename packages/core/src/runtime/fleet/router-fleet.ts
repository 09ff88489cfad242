import { closeSync, openSync, unlinkSync } from 'fs';
import type { Logger } from 'pino';
import { AppChannelSet, FdSocket, listenSocket } from '@warden/shm-transport';
import { jsModuleRefs, listenSpec, type ListenSpec, type RouterStats, type TlsCertificate } from '@warden/http-router';
import type { ConfigComponent, PreparedChange, WardenConfig } from '../../contracts';
import { ApplyError, ConfigValidationError } from '../../contracts';
import { certificateRefs } from '../../control/certificate-store';
import type { CertificateStore } from '../../control/certificate-store';
import type { ScriptStore } from '../../control/script-store';
import type { RouterView } from '../overview';
import { addSnapshot, emptySnapshot, type RecorderSnapshot } from './request-recorder';
import { RouterLink } from './router-link';
import type { ProcessActivity, RouterMessage, RouterPoolPolicy } from './protocol';
import type { RouterIdentity } from './router-process';

/** A process's view of the routers: told about its channels' readiness, activity and the routers' requests. */
export interface ProcessPeer {
  readonly token: number;
  /** One router's activity numbers for this process. */
  activity(router: number, a: ProcessActivity): void;
  /** A router asks for this process to be replaced. */
  replace(why: 'stalled' | 'protocol' | 'requests'): void;
  /** A router died: its requests in flight on this process are gone with it. */
  routerGone(router: number): void;
}

/** A pool's view of the routers. */
export interface PoolPeer {
  readonly id: number;
  /** A router has requests and no free process. */
  demand(): void;
}

/** The channels of one process being started: what to pass it, and its readiness over every router. */
export interface ProcessChannels {
  /** fds for the process, in order from fd 3: the first router's channel (memfd, doorbell), the control socket. */
  readonly fds: number[];
  readonly env: Record<string, string>;
  /** After the spawn: the other routers' channels go over the control socket, and every router learns the pid. */
  started(pid: number): void;
  /** Closes main's copies of what the process inherited (after the spawn, or when it failed). */
  closeChildFds(): void;
  /** READY on every router's channel (routers that died meanwhile do not count); rejects with the first failure. */
  readonly ready: Promise<void>;
}

interface ProcessEntry {
  peer: ProcessPeer;
  pool: number;
  pid: number;
  control: FdSocket | null;
  /** Channel fds per router index, until they are passed on. */
  pending: Map<number, (fds: number[]) => void>;
  readyWaits: Map<number, { resolve: () => void; reject: (e: Error) => void }>;
  /** Channels of routers that joined while the process was starting: passed once it runs (`started`). */
  late: number[][];
}

interface Bound {
  fd: number;
  path: string | null;
}

/** Unit's connection counters. */
type Connections = RouterStats['connections'];

/** How long after READY on its first channel a process may take to say READY on the others. */
const ONE_CHANNEL_GRACE_MS = 5000;
/** How long the fleet waits for a router's channel fds. */
const CHANNEL_TIMEOUT_MS = 10_000;
/** Backoff before a dead router is started again (doubling, reset once one stayed up for a while). */
const RESTART_MS = [0, 100, 250, 500, 1000, 2000, 5000];

/**
 * main's side of the router processes, as the `router` component of the transactional apply: starts
 * `settings`-many routers as wardend's `--user` (they drop root themselves), binds every listener (routers only get
 * the fds), opens the access log for them, hands each router its channel to every app process, applies a
 * configuration on every router or none, restarts a router that dies, and sums their counters.
 */
export class RouterFleet implements ConfigComponent {
  readonly name = 'router';
  readonly order = 20;
  /** Routes name applications, not processes: the routers prepare while the supervisor starts new apps. */
  readonly independentPrepare = true;
  private readonly links: (RouterLink | null)[] = [];
  private readonly bound = new Map<string, Bound>();
  private config: WardenConfig = {};
  private apps: Record<string, number> = {};
  private readonly pools = new Map<number, { peer: PoolPeer; app: string; policy: RouterPoolPolicy }>();
  private readonly processes = new Map<number, ProcessEntry>();
  /**
   * The channel each router opened ahead of time (`fds` once they came), for the next process of any app: a start
   * takes it instead of waiting for a round trip to the router, and asks for the next (see openChannels).
   */
  private readonly spares = new Map<RouterLink, { token: number; fds: number[] | null }>();
  private nextToken = 1;
  /**
   * What routers may ask main to open: the listeners and the access log of the running config and of the one being
   * applied (main's own reading of the config it validated; what a router sends is only a key or a path to look up).
   */
  private permitted: { listeners: Map<string, ListenSpec>; logs: Set<string> } = { listeners: new Map(), logs: new Set() };
  /** Held from a change's prepare to its commit or rollback, and while a restarted router takes the config. */
  private lock: Promise<void> = Promise.resolve();
  /** The metrics listener's socket (owned by the Observability component), handed to every router. */
  private metricsFd: number | null = null;
  /** Answers a request a router took on the metrics listener (set by the runtime: the observability endpoints). */
  observer: (method: string, path: string) => Promise<{ status: number; body: string; contentType: string }> = async () => ({
    status: 404,
    body: '{"error": "Invalid path."}\n',
    contentType: 'application/json',
  });
  private nextConfigId = 1;
  private stopping = false;
  private restarts = 0;
  /** Counters of routers that are gone (so totals never go down). */
  private readonly retired = { requests: emptySnapshot(), accepted: 0, closed: 0, total: 0 };
  /** Each live router's RSS in bytes, as of the last refresh. */
  private readonly rss = new Map<number, number>();
  /** Each live router's last counters, added to `retired` when it dies. */
  private readonly perRouter = new Map<number, { connections: Connections; total: number; metrics: RecorderSnapshot }>();
  private last: { connections: Connections; total: number; requests: RecorderSnapshot } = {
    connections: { accepted: 0, active: 0, idle: 0, closed: 0 },
    total: 0,
    requests: emptySnapshot(),
  };

  constructor(
    private readonly count: number,
    private readonly identity: Omit<RouterIdentity, 'index'>,
    private readonly log: Logger,
    private readonly certificates?: CertificateStore,
    private readonly scripts?: ScriptStore,
  ) {
    for (let i = 0; i < count; i++) this.links.push(this.spawn(i + 1));
  }

  /** Routers up now. */
  private live(): RouterLink[] {
    return this.links.filter((l): l is RouterLink => l !== null && l.state === 'up');
  }

  /** Resolves once every router started (the first apply waits for it). */
  async whenUp(): Promise<void> {
    await Promise.all(this.links.flatMap((l) => (l ? [l.up] : [])));
  }

  private spawn(index: number): RouterLink {
    const link = new RouterLink(index, this.identity, this.log.child({ component: 'router' }), {
      onMessage: (l, m) => this.onMessage(l, m),
      onChannelFds: (l, token, fds) => this.onChannelFds(l, token, fds),
      onExit: (l, code, signal) => this.onExit(l, code, signal),
    });
    void link.up.then(
      (u) => {
        // Everything a router dispatches by, sent before anything that refers to it.
        for (const [id, p] of this.pools) link.send({ op: 'pool', pool: id, app: p.app, policy: p.policy });
        link.send({ op: 'apps', apps: this.apps });
        if (this.metricsFd !== null) this.sendMetrics(link);
        this.askSpare(link);
        this.log.info({ router: index, pid: u.pid, uid: u.uid, gid: u.gid }, 'router started');
      },
      (e: Error) => this.log.error({ router: index, err: e.message }, 'router failed to start'),
    );
    return link;
  }

  // ---- the apply -----------------------------------------------------------------------------------------------

  async prepare(next: WardenConfig): Promise<PreparedChange> {
    await this.whenUp().catch(() => undefined);
    // One change at a time on the routers, and no router joins (restart) in the middle of one.
    const release = await this.acquire();
    try {
      return await this.prepareLocked(next, release);
    } catch (e) {
      release();
      throw e;
    }
  }

  private async prepareLocked(next: WardenConfig, release: () => void): Promise<PreparedChange> {
    const want = this.wanted(next);
    // More routers: started and joined now (they take the new config with the others); fewer: stopped at commit.
    const grown: RouterLink[] = [];
    for (let i = this.links.length; i < want; i++) {
      const link = this.spawn(i + 1);
      this.links.push(link);
      grown.push(link);
    }
    const ungrow = async () => {
      for (const l of grown) {
        const i = this.links.indexOf(l);
        if (i >= 0) this.links[i] = null;
        l.send({ op: 'stop', graceMs: 0 });
      }
      while (this.links.length > 0 && this.links[this.links.length - 1] === null) this.links.pop();
    };
    try {
      await Promise.all(grown.map((l) => this.join(l)));
    } catch (e) {
      await ungrow();
      throw new ApplyError(`a new router process did not start: ${(e as Error).message}`, undefined, 'router');
    }
    const candidates = this.live();
    if (candidates.length === 0) throw new ApplyError('no router process is running', undefined, 'router');
    this.permit(this.config, next);
    const change = this.nextConfigId++;
    const message = this.configMessage(next);
    const before = new Set(this.bound.keys());
    const results = await Promise.allSettled(candidates.map((l) => l.request({ ...message, id: 0, change }, 60_000)));
    // A router that died meanwhile is no failure of the change: it is started again with the config in force then.
    const routers = candidates.filter((l, i) => results[i]!.status === 'fulfilled' || l.state !== 'gone');
    const failed = results.find((r, i): r is PromiseRejectedResult => r.status === 'rejected' && candidates[i]!.state !== 'gone');
    const undo = async () => {
      this.permit(this.config);
      await Promise.allSettled(candidates.flatMap((l, i) => (results[i]!.status === 'fulfilled' ? [l.request({ op: 'rollback', id: 0, change })] : [])));
      await ungrow();
      this.closeUnused(before);
    };
    if (failed || routers.length === 0) {
      await undo();
      throw failed
        ? this.asError(failed.reason as Error & Record<string, unknown>)
        : new ApplyError('every router process exited during the change', undefined, 'router');
    }
    return {
      commit: async () => {
        try {
          this.config = next;
          this.permit(next);
          const keys = await Promise.allSettled(routers.map((l) => l.request<string[]>({ op: 'commit', id: 0, change, apps: this.apps })));
          // Main's sockets of the listeners no router uses any more are closed; only when every router answered
          // (a router that died meanwhile comes back with this config and asks for what it needs).
          if (keys.every((k) => k.status === 'fulfilled' && Array.isArray(k.value))) {
            const inUse = new Set<string>();
            for (const k of keys) for (const key of (k as PromiseFulfilledResult<string[]>).value) inUse.add(key);
            this.closeUnused(inUse);
          }
          // Fewer routers: the last ones stop accepting and finish what they have (the listeners stay in main).
          while (this.links.length > want) {
            const l = this.links.pop();
            if (!l) continue;
            this.log.info({ router: l.index, pid: l.pid }, 'stopping router (settings.routers)');
            l.send({ op: 'stop', graceMs: 5000 });
            const t = setTimeout(() => l.kill('SIGKILL'), 7000);
            void l.exited.then(() => clearTimeout(t));
          }
        } finally {
          release();
        }
      },
      rollback: async () => {
        try {
          await undo();
        } finally {
          release();
        }
      },
    };
  }

  /** Makes the listeners and access logs of `configs` the ones routers may ask for. */
  private permit(...configs: WardenConfig[]): void {
    const listeners = new Map<string, ListenSpec>();
    const logs = new Set<string>();
    for (const c of configs) {
      for (const [name, l] of Object.entries(c.listeners ?? {})) {
        try {
          const spec = listenSpec(name, l as { backlog?: unknown } | null, `/listeners/${name}`);
          listeners.set(spec.key, spec);
        } catch {
          /* not a listener address: the validator refused it already */
        }
      }
      const log = (c as { access_log?: unknown }).access_log;
      const path = typeof log === 'string' ? log : (log as { path?: unknown } | undefined)?.path;
      if (typeof path === 'string') logs.add(path);
    }
    this.permitted = { listeners, logs };
  }

  /** Waits for the change lock; resolves with its release. */
  private acquire(): Promise<() => void> {
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const prev = this.lock;
    this.lock = prev.then(() => held);
    return prev.then(() => release);
  }

  private configMessage(next: WardenConfig): {
    op: 'config';
    config: unknown;
    certificates: Record<string, TlsCertificate>;
    jsModules: Record<string, string>;
  } {
    return {
      op: 'config',
      config: {
        listeners: next.listeners,
        routes: next.routes,
        upstreams: next.upstreams,
        settings: next.settings,
        access_log: next.access_log,
        applications: next.applications,
      },
      certificates: this.material(next),
      jsModules: this.modules(next),
    };
  }

  /** The texts of the modules `settings.js_module` of `next` names, by the names it uses. */
  private modules(next: WardenConfig): Record<string, string> {
    const out: Record<string, string> = {};
    for (const ref of jsModuleRefs(next.settings)) {
      const m = this.scripts?.get(ref.name);
      if (m !== undefined) out[ref.name] = m.text;
    }
    return out;
  }

  private asError(e: Error & Record<string, unknown>): Error {
    if (e.kind === 'config') return new ConfigValidationError(e.message, e.path as string | undefined, e.code as string | undefined);
    // A bind error names its address (a unix listener's path has no port); any other failure of a router's apply (an
    // access log that cannot be opened, a router that did not answer) is the router's step, not the listener's.
    const listen = e.address !== undefined && e.address !== null;
    const where = listen ? ` ${String(e.address)}${typeof e.port === 'number' && e.port > 0 ? `:${e.port}` : ''}` : '';
    const msg = e.kind === 'apply' && listen ? `listener${where}: ${e.message}` : e.message;
    return new ApplyError(msg, undefined, listen ? 'listen' : 'router', typeof e.errno === 'number' ? Math.abs(e.errno) : undefined);
  }

  /** The bundles the listeners of `next` name, as PEM for the routers. */
  private material(next: WardenConfig): Record<string, TlsCertificate> {
    const out: Record<string, TlsCertificate> = {};
    for (const ref of certificateRefs(next)) {
      const c = this.certificates?.get(ref.name);
      if (c !== undefined) out[ref.name] = { key: c.bundle.keyPem, cert: c.bundle.chainPem };
    }
    return out;
  }

  /** Closes main's listener sockets whose keys are not in `keep`. */
  private closeUnused(keep: Set<string>): void {
    for (const [key, b] of this.bound) {
      if (keep.has(key)) continue;
      this.bound.delete(key);
      closeSync(b.fd);
      if (b.path !== null && !b.path.startsWith('\0')) {
        try {
          unlinkSync(b.path);
        } catch {
          /* already gone */
        }
      }
    }
  }

  /** A router asks for the socket of a listener: bound once here, each router gets the same socket. */
  private listen(link: RouterLink, id: number, key: string): void {
    let b = this.bound.get(key);
    const spec = this.permitted.listeners.get(key);
    if (spec === undefined) {
      this.log.warn({ router: link.index, key }, 'a router asked for a listener that is not in the configuration: refused');
      link.sendFds({ op: 'listener', id, ok: false, error: { message: `"${key}" is not a listener of the configuration` } }, []);
      return;
    }
    try {
      if (b === undefined) {
        const s = listenSocket(
          spec.path !== null
            ? { path: spec.path, backlog: spec.backlog }
            : { host: spec.host, port: spec.port, backlog: spec.backlog, ipv6Only: spec.ipv6Only },
        );
        b = { fd: s.fd, path: spec.path };
        this.bound.set(key, b);
      }
      link.sendFds({ op: 'listener', id, ok: true }, [b.fd]);
    } catch (e) {
      const err = e as Error & { code?: string; errno?: number; syscall?: string; address?: string; port?: number };
      link.sendFds(
        {
          op: 'listener',
          id,
          ok: false,
          error: { message: err.message, code: err.code, errno: err.errno, syscall: err.syscall, address: err.address, port: err.port },
        },
        [],
      );
    }
  }

  /** A router asks for the access log: opened here (as root, as Unit's main does), the fd handed over. */
  private openLog(link: RouterLink, id: number, path: string): void {
    if (!this.permitted.logs.has(path)) {
      this.log.warn({ router: link.index, path }, 'a router asked to open a file that is not the access log of the configuration: refused');
      link.sendFds({ op: 'log', id, ok: false, message: `"${path}" is not the access log of the configuration`, code: 'EACCES' }, []);
      return;
    }
    let fd: number;
    try {
      fd = openSync(path, 'a');
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      link.sendFds({ op: 'log', id, ok: false, message: `access log "${path}": ${err.message}`, code: err.code }, []);
      return;
    }
    try {
      link.sendFds({ op: 'log', id, ok: true }, [fd]);
    } finally {
      closeSync(fd);
    }
  }

  // ---- applications ------------------------------------------------------------------------------------------

  /** Which pool serves each application name from now on (after the supervisor committed, or a restart). */
  setApps(apps: Record<string, number>): void {
    this.apps = apps;
    for (const l of this.live()) l.send({ op: 'apps', apps });
  }

  /**
   * `settings.metrics.listen`'s socket (or null: none): every router accepts on it. Resolves once every running router
   * serves the new one and closed its copy of the old one, so when main then closes its own copy the old address
   * refuses connections before the apply answers.
   */
  async setMetricsListener(fd: number | null): Promise<void> {
    this.metricsFd = fd;
    const routers = this.live();
    for (const l of routers) this.sendMetrics(l);
    await Promise.allSettled(routers.map((l) => l.request({ op: 'sync', id: 0 })));
  }

  private sendMetrics(link: RouterLink): void {
    try {
      link.sendFds({ op: 'metrics' }, this.metricsFd === null ? [] : [this.metricsFd]);
    } catch (e) {
      this.log.warn({ router: link.index, err: (e as Error).message }, 'cannot hand the metrics listener to the router');
    }
  }

  registerPool(peer: PoolPeer, app: string, policy: RouterPoolPolicy): void {
    this.pools.set(peer.id, { peer, app, policy });
    for (const l of this.live()) l.send({ op: 'pool', pool: peer.id, app, policy });
  }

  closePool(id: number): void {
    this.pools.delete(id);
    for (const l of this.live()) l.send({ op: 'pool-closed', pool: id });
  }

  /** No process could be started and none runs: the routers answer their waiting requests now. */
  poolFailed(id: number): void {
    for (const l of this.live()) l.send({ op: 'pool-failed', pool: id });
  }

  newToken(): number {
    return this.nextToken++;
  }

  /**
   * Opens a channel on every router for a new process of `pool`. `stop` aborted (the process was stopped before it
   * started: SIGTERM during an apply, a pool closed) ends the wait for the routers at once; the channels a router
   * opened meanwhile are closed in main, and on the routers by `gone()`.
   */
  async openChannels(peer: ProcessPeer, pool: number, stop?: AbortSignal): Promise<ProcessChannels> {
    const stopped = () => new ApplyError('the process was stopped before it started', undefined, 'start');
    await Promise.race([this.whenUp().catch(() => undefined), whenAborted(stop)]);
    if (stop?.aborted) throw stopped();
    const routers = this.live();
    if (routers.length === 0) throw new ApplyError('no router process is running', undefined, 'start');
    const entry: ProcessEntry = { peer, pool, pid: 0, control: null, pending: new Map(), readyWaits: new Map(), late: [] };
    this.processes.set(peer.token, entry);
    // Stopped: the requests still unanswered fail now; a late answer finds no request and its fds are closed.
    const cancel = () => {
      const takes = [...entry.pending.values()];
      entry.pending.clear();
      for (const take of takes) take([]);
    };
    stop?.addEventListener('abort', cancel, { once: true });
    const got = await Promise.allSettled(routers.map((l) => this.takeSpare(l, entry) ?? this.channelFrom(l, entry)));
    stop?.removeEventListener('abort', cancel);
    const channels: { link: RouterLink; fds: number[] }[] = [];
    got.forEach((g, i) => {
      if (g.status === 'fulfilled') channels.push({ link: routers[i]!, fds: g.value });
    });
    if (stop?.aborted) {
      for (const c of channels) for (const fd of c.fds) closeSync(fd);
      if (this.processes.get(peer.token) === entry) this.processes.delete(peer.token);
      throw stopped();
    }
    if (channels.length === 0) {
      this.processes.delete(peer.token);
      throw new ApplyError(`no router opened a channel: ${(got[0] as PromiseRejectedResult).reason?.message}`, undefined, 'channel');
    }
    const [controlMine, controlApp] = FdSocket.pair();
    entry.control = new FdSocket(
      controlMine,
      (_p: Buffer, fds: number[]) => {
        fds.forEach((fd) => closeSync(fd));
        this.onControlMessage(entry);
      },
      () => undefined,
    );
    entry.control.unref();
    const first = channels[0]!;
    const each = channels.map(
      (c) =>
        new Promise<void>((resolve, reject) => {
          entry.readyWaits.set(c.link.index, { resolve, reject });
        }),
    );
    // READY on the first channel and not on the others: an app that opens one channel only (AppChannel instead of
    // AppChannelSet, an older Warden Go package) serves one router; say so instead of waiting for the ready timeout.
    const oneOnly = (channels.length > 1 ? each[0]! : new Promise<void>(() => undefined)).then(
      () =>
        new Promise<void>((_, reject) => {
          const t = setTimeout(
            () =>
              reject(
                new ApplyError(
                  `the process said READY to router ${first.link.index} only, not to the other ${channels.length - 1}: an app must serve every router ` +
                    '(the Node runtime and the Go package do; an app on AppChannel alone, or built with an older Warden Go package, serves one: run wardend with --routers 1 or rebuild it)',
                  undefined,
                  'ready',
                ),
              ),
            ONE_CHANNEL_GRACE_MS,
          );
          t.unref();
          void Promise.all(each).then(
            () => clearTimeout(t),
            () => clearTimeout(t),
          );
        }),
    );
    const ready = Promise.race([Promise.all(each).then(() => undefined), oneOnly]);
    ready.catch(() => undefined);
    let closed = false;
    const closeAll = () => {
      if (closed) return;
      closed = true;
      for (const c of channels) for (const fd of c.fds) closeSync(fd);
      closeSync(controlApp);
    };
    return {
      fds: [...first.fds, controlApp],
      env: { WARDEN_CHANNEL: 'v1:fds=3,4', ...AppChannelSet.controlEnv(5) },
      started: (pid: number) => {
        entry.pid = pid;
        for (const c of channels.slice(1)) this.passChannel(entry, c.fds);
        for (const fds of entry.late.splice(0)) {
          this.passChannel(entry, fds);
          fds.forEach((fd) => closeSync(fd));
        }
        for (const l of this.live()) l.send({ op: 'process', token: peer.token, pid });
      },
      closeChildFds: closeAll,
      ready,
    };
  }

  /** Asks `link` for a spare channel, unless it has one (or one is on its way). */
  private askSpare(link: RouterLink): void {
    if (this.stopping || link.state !== 'up' || this.spares.has(link)) return;
    const token = this.newToken();
    this.spares.set(link, { token, fds: null });
    link.send({ op: 'spare-channel', token });
  }

  /** The spare channel of `link` for `entry`'s process (bound to it on the router), if one is here; then asks for the next. */
  private takeSpare(link: RouterLink, entry: ProcessEntry): Promise<number[]> | undefined {
    const spare = this.spares.get(link);
    if (!spare) this.askSpare(link); // the last one failed: for the next start
    if (!spare || spare.fds === null) return undefined;
    this.spares.delete(link);
    link.send({ op: 'bind-channel', spare: spare.token, token: entry.peer.token, pool: entry.pool });
    this.askSpare(link);
    return Promise.resolve(spare.fds);
  }

  /** Forgets `link`'s spare channel, closing its fds. */
  private dropSpare(link: RouterLink): void {
    this.spares.get(link)?.fds?.forEach((fd) => closeSync(fd));
    this.spares.delete(link);
  }

  private channelFrom(link: RouterLink, entry: ProcessEntry): Promise<number[]> {
    return new Promise<number[]>((resolve, reject) => {
      const timer = setTimeout(() => {
        entry.pending.delete(link.index);
        reject(new Error(`router ${link.index} did not open a channel in time`));
      }, CHANNEL_TIMEOUT_MS);
      entry.pending.set(link.index, (fds) => {
        clearTimeout(timer);
        if (fds.length === 2) resolve(fds);
        else {
          fds.forEach((fd) => closeSync(fd));
          reject(new Error(`router ${link.index} could not open a channel`));
        }
      });
      link.send({ op: 'open-channel', token: entry.peer.token, pool: entry.pool });
    });
  }

  /**
   * The app sent something on its control socket, where apps send nothing (PROTOCOL.md "Control messages"): a broken
   * or hostile process. Main stops reading the socket at once and has it replaced, as for a channel protocol
   * violation: a process that sent messages with fds there without pause held main's event loop (every control
   * request timed out, no process was supervised) for as long as it went on (docs/security.md #17).
   */
  private onControlMessage(entry: ProcessEntry): void {
    const control = entry.control;
    if (control === null) return;
    entry.control = null;
    control.close();
    this.log.error({ app_pid: entry.pid }, 'app process sent a message on its control socket (apps send none): replacing it');
    entry.peer.replace('protocol');
  }

  /** Sends a channel's app end to a running process over its control socket. */
  private passChannel(entry: ProcessEntry, fds: number[]): void {
    try {
      entry.control?.send(AppChannelSet.CONTROL_CHANNEL, fds);
    } catch (e) {
      this.log.warn({ app_pid: entry.pid, err: (e as Error).message }, 'cannot pass a router channel to the app process');
    }
  }

  private onChannelFds(link: RouterLink, token: number, fds: number[]): void {
    const spare = this.spares.get(link);
    if (spare?.token === token && spare.fds === null) {
      if (fds.length === 2) spare.fds = fds;
      else {
        fds.forEach((fd) => closeSync(fd));
        this.spares.delete(link);
      }
      return;
    }
    const entry = this.processes.get(token);
    const take = entry?.pending.get(link.index);
    if (!entry || !take) {
      fds.forEach((fd) => closeSync(fd));
      return;
    }
    entry.pending.delete(link.index);
    take(fds);
  }

  /**
   * The process is being stopped: every router sends SHUTDOWN on its channel after what it already sent (so that the
   * requests already in the ring are served first). When no router is left to do so — wardend is stopping: the routers
   * finished their requests and exited before the apps are stopped — main sends `{"op":"shutdown"}` on the process's
   * control socket (PROTOCOL.md "Control messages"), as Unit's main sends every process QUIT: the app finishes what it
   * has (nothing: its routers are gone) and exits now instead of waiting for the grace's SIGTERM.
   */
  retire(token: number): void {
    const routers = this.live();
    for (const l of routers) l.send({ op: 'retire', token });
    if (routers.length > 0) return;
    const entry = this.processes.get(token);
    try {
      entry?.control?.send(AppChannelSet.CONTROL_SHUTDOWN);
    } catch (e) {
      this.log.warn({ app_pid: entry?.pid, err: (e as Error).message }, 'cannot tell the app process to shut down');
    }
  }

  /** The process exited: routers close their channels to it; main closes the control socket. */
  gone(token: number, reason: string): void {
    const entry = this.processes.get(token);
    this.processes.delete(token);
    if (entry) {
      entry.control?.close();
      for (const fds of entry.late.splice(0)) fds.forEach((fd) => closeSync(fd));
      for (const w of entry.readyWaits.values()) w.reject(Object.assign(new Error(reason), { code: 'WARDEN_ERR_SHM_PEER_GONE' }));
    }
    for (const l of this.live()) l.send({ op: 'gone', token, reason });
  }

  private onMessage(link: RouterLink, m: RouterMessage): void {
    switch (m.op) {
      case 'listen':
        this.listen(link, m.id, m.key);
        return;
      case 'open-log':
        this.openLog(link, m.id, m.path);
        return;
      case 'channel-ready': {
        const w = this.processes.get(m.token)?.readyWaits.get(link.index);
        w?.resolve();
        return;
      }
      case 'channel-failed': {
        if (this.spares.get(link)?.token === m.token) this.spares.delete(link); // asked again by the next start
        this.processes.get(m.token)?.pending.get(link.index)?.([]);
        const w = this.processes.get(m.token)?.readyWaits.get(link.index);
        w?.reject(Object.assign(new Error(m.message), { code: m.code }));
        return;
      }
      case 'demand':
        this.pools.get(m.pool)?.peer.demand();
        return;
      case 'observe':
        void this.observer(m.method, m.path).then(
          (r) => link.send({ op: 'observed', id: m.id, ...r }),
          () => link.send({ op: 'observed', id: m.id, status: 500, contentType: 'application/json', body: '{"error": "Internal server error."}' }),
        );
        return;
      case 'replace':
        this.processes.get(m.token)?.peer.replace(m.why);
        return;
      case 'activity':
        for (const a of m.processes) this.processes.get(a.token)?.peer.activity(link.index, a);
        return;
      case 'counters': {
        const prev = this.perRouter.get(link.index);
        this.perRouter.set(link.index, {
          connections: m.connections,
          total: m.total,
          metrics: (m.metrics as RecorderSnapshot | undefined) ?? prev?.metrics ?? emptySnapshot(),
        });
        return;
      }
      default:
        return;
    }
  }

  // ---- router lifetimes ---------------------------------------------------------------------------------------

  private onExit(link: RouterLink, code: number | null, signal: string | null): void {
    this.forget(link);
    this.dropSpare(link);
    // Its channels close with it (apps see EOF on them and keep serving the other routers).
    for (const e of this.processes.values()) {
      e.pending.get(link.index)?.([]);
      e.readyWaits.get(link.index)?.resolve(); // a dead router does not hold a start back
      e.peer.routerGone(link.index);
    }
    const i = link.index - 1;
    if (this.links[i] !== link) return; // stopped on purpose (fewer routers)
    this.links[i] = null;
    if (this.stopping) return;
    this.log.error({ router: link.index, pid: link.pid, code, signal }, 'router process exited; starting it again');
    const delay = RESTART_MS[Math.min(this.restarts++, RESTART_MS.length - 1)]!;
    setTimeout(() => void this.rejoin(link.index), delay).unref();
  }

  /** A router is gone: its counters so far are kept (totals never go down). */
  private forget(link: RouterLink): void {
    const counted = this.perRouter.get(link.index);
    this.perRouter.delete(link.index);
    if (counted) {
      this.retired.accepted += counted.connections.accepted;
      this.retired.closed += counted.connections.accepted; // its connections are closed now
      this.retired.total += counted.total;
      addSnapshot(this.retired.requests, counted.metrics);
    }
  }

  /** A dead router: started again, given what it dispatches by and the running config (applied at once). */
  private async rejoin(index: number): Promise<void> {
    if (this.stopping) return;
    const link = this.spawn(index);
    this.links[index - 1] = link;
    try {
      await this.join(link);
      const release = await this.acquire();
      try {
        await link.request({ ...this.configMessage(this.config), id: 0, change: this.nextConfigId++, now: true, apps: this.apps }, 60_000);
      } finally {
        release();
      }
      this.log.info({ router: index, pid: link.pid }, 'router restarted');
      setTimeout(() => {
        if (link.state === 'up') this.restarts = 0;
      }, 10_000).unref();
    } catch (e) {
      this.log.error({ router: index, err: (e as Error).message }, 'router could not rejoin');
      link.kill();
    }
  }

  /**
   * A router that starts while apps run (a restart, or `settings.routers` grew): once up (the pools and the
   * application map were sent then), it gets a channel to every process, passed to the process over its control
   * socket (the listeners stayed open in main all along); a process still starting gets it once it runs.
   */
  private async join(link: RouterLink): Promise<void> {
    await link.up;
    await Promise.allSettled(
      [...this.processes.values()].map(async (e) => {
        const fds = await this.channelFrom(link, e);
        if (this.processes.get(e.peer.token) !== e) {
          fds.forEach((fd) => closeSync(fd)); // it exited meanwhile
        } else if (e.pid === 0) {
          e.late.push(fds);
        } else {
          this.passChannel(e, fds);
          fds.forEach((fd) => closeSync(fd));
          link.send({ op: 'process', token: e.peer.token, pid: e.pid });
        }
      }),
    );
  }

  /** `settings.routers` (Warden), else the command line's `--routers`. */
  private wanted(config: WardenConfig): number {
    const n = (config.settings as { routers?: number } | undefined)?.routers;
    return typeof n === 'number' && n >= 1 ? n : this.count;
  }

  // ---- counters ---------------------------------------------------------------------------------------------

  /** Asks every router for its counters (the control API does before answering `/status`, `/metrics`, `/ui`). */
  async refresh(): Promise<void> {
    const answers = await Promise.allSettled(
      this.live().map((l) =>
        l
          .request<{ connections: Connections; requests: { total: number }; metrics: RecorderSnapshot; processes: ProcessActivity[]; rss: number }>(
            { op: 'status', id: 0 },
            2000,
          )
          .then((v) => ({ l, v })),
      ),
    );
    const connections: Connections = { accepted: this.retired.accepted, active: 0, idle: 0, closed: this.retired.closed };
    let total = this.retired.total;
    const requests = emptySnapshot();
    addSnapshot(requests, this.retired.requests);
    for (const a of answers) {
      if (a.status !== 'fulfilled') continue;
      const { l, v } = a.value;
      connections.accepted += v.connections.accepted;
      connections.active += v.connections.active;
      connections.idle += v.connections.idle;
      connections.closed += v.connections.closed;
      total += v.requests.total;
      addSnapshot(requests, v.metrics);
      this.rss.set(l.index, v.rss);
      this.perRouter.set(l.index, { connections: v.connections, total: v.requests.total, metrics: v.metrics });
      for (const p of v.processes) this.processes.get(p.token)?.peer.activity(l.index, p);
    }
    this.last = { connections, total, requests };
  }

  connections(): Connections {
    return this.last.connections;
  }

  /** Each live router's pid, RSS and counters (as of the last refresh). */
  routerViews(): RouterView[] {
    return this.live().map((l) => {
      const c = this.perRouter.get(l.index);
      return {
        index: l.index,
        pid: l.pid,
        rssKb: Math.round((this.rss.get(l.index) ?? 0) / 1024),
        connections: c?.connections ?? { accepted: 0, active: 0, idle: 0, closed: 0 },
        requests: c?.total ?? 0,
      };
    });
  }

  requests(): RecorderSnapshot {
    return this.last.requests;
  }

  status(): Record<string, unknown> {
    return { connections: this.last.connections, requests: { total: this.last.total } };
  }

  async reopenLogs(): Promise<void> {
    await Promise.allSettled(this.live().map((l) => l.request({ op: 'reopen-logs', id: 0 })));
  }

  async shutdown(): Promise<void> {
    this.stopping = true;
    for (const l of [...this.spares.keys()]) this.dropSpare(l);
    const links = this.links.filter((l): l is RouterLink => l !== null);
    for (const l of links) l.send({ op: 'stop', graceMs: 5000 });
    await Promise.all(
      links.map(async (l) => {
        const t = setTimeout(() => l.kill('SIGKILL'), 7000);
        await l.exited;
        clearTimeout(t);
      }),
    );
    this.closeUnused(new Set());
  }
}

/** Settles when `signal` aborts; never without one. */
function whenAborted(signal: AbortSignal | undefined): Promise<void> {
  if (!signal) return new Promise<void>(() => undefined);
  if (signal.aborted) return Promise.resolve();
  return new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
}
