import { spawn, type ChildProcess } from 'child_process';
import { closeSync } from 'fs';
import { join } from 'path';
import type { Logger } from 'pino';
import { FdSocket } from '@warden/shm-transport';
import { outputLines } from '../output-lines';
import type { FdMessage, MainMessage, MainRequest, RouterMessage } from './protocol';
import type { RouterIdentity } from './router-process';

/** What a link reports to the fleet. */
export interface LinkEvents {
  onMessage(link: RouterLink, m: RouterMessage): void;
  onChannelFds(link: RouterLink, token: number, fds: number[]): void;
  onExit(link: RouterLink, code: number | null, signal: string | null): void;
}

/** The router's entry, compiled (also when main runs from the TypeScript sources, as under ts-jest). */
const ROUTER_ENTRY = join(__dirname, '..', '..', '..', 'dist', 'runtime', 'fleet', 'router-entry.js');
/**
 * V8 flags of the router processes: the young generation's semi-spaces capped at 8 MB (V8's default cap is 16 MB).
 * A burst of connections or requests grows them, and V8 shrinks them only when its memory reducer runs (10-30 s after
 * the burst here). Right after they opened, 10,000 idle keep-alive connections cost 5.9 KB each in a router with the
 * default, 5.0 KB with 8 MB (4.2 KB with 2 MB, which cost 20 % more router CPU per request under wrk; 8 MB measured
 * the same as the default); about 3 KB each once the reducer ran. NODE_OPTIONS with
 * `--max-semi-space-size` (the environment routers inherit) takes precedence.
 */
export function routerNodeFlags(env: NodeJS.ProcessEnv = process.env): string[] {
  return /--max-semi-space-size\b/.test(env.NODE_OPTIONS ?? '') ? [] : ['--max-semi-space-size=8'];
}

/**
 * The environment of a router process: wardend's own (NODE_OPTIONS, the locale, ...) with its identity in
 * WARDEN_ROUTER, without NODE_EXTRA_CA_CERTS. Node reads that file into OpenSSL's store before any JavaScript runs;
 * a router makes no TLS connection of its own (it terminates TLS with the certificates of the config, and proxies
 * over plain HTTP), and with Debian's bundle of 140 certificates it cost each router 1.5 MB of RSS and 60 ms of
 * start on this 2-core VM.
 */
export function routerEnv(identity: string, env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = { ...env, WARDEN_ROUTER: identity };
  delete out.NODE_EXTRA_CA_CERTS;
  return out;
}

/** How long a router may take to start (load its code, drop privileges) before it is given up on. */
const START_TIMEOUT_MS = 15_000;
/** How long a router may send nothing before main kills it as hung (it says it is alive every second). */
export const ROUTER_SILENCE_MS = 10_000;
/** How often main checks on its routers. */
const WATCH_MS = 1000;
/** Default wait for a router's answer to a request (config prepare waits longer: binding, TLS). */
const ANSWER_TIMEOUT_MS = 30_000;

/**
 * main's end of one router process: starts it (`node router-entry.js`, root dropped by the router itself), relays its
 * log lines into wardend's log, sends it messages and fds, and matches its answers to requests.
 */
export class RouterLink {
  readonly child: ChildProcess;
  readonly fdSocket: FdSocket;
  readonly up: Promise<{ pid: number; uid: number; gid: number }>;
  state: 'starting' | 'up' | 'gone' = 'starting';
  pid = 0;
  private nextId = 1;
  private readonly answers = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();
  readonly exited: Promise<void>;

  constructor(
    readonly index: number,
    identity: Omit<RouterIdentity, 'index'>,
    private readonly log: Logger,
    private readonly events: LinkEvents,
  ) {
    const [mine, theirs] = FdSocket.pair();
    const env = routerEnv(JSON.stringify({ ...identity, index }));
    this.child = spawn(process.execPath, [...routerNodeFlags(), ROUTER_ENTRY], {
      stdio: ['ignore', 'pipe', 'pipe', 'ipc', theirs],
      env,
      serialization: 'json',
      // A session of its own: Ctrl-C on wardend's terminal reaches main only, which stops the routers in order.
      detached: true,
    });
    closeSync(theirs);
    this.pid = this.child.pid ?? 0;
    this.fdSocket = new FdSocket(
      mine,
      (payload: Buffer, fds: number[]) => this.onFds(payload, fds),
      () => undefined,
    );
    this.fdSocket.unref();
    this.exited = new Promise((resolve) => this.child.once('exit', () => resolve()));
    this.up = new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`router ${index} did not start within ${START_TIMEOUT_MS} ms`)), START_TIMEOUT_MS);
      timer.unref();
      this.child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`router ${index} exited while starting (${signal ? `signal ${signal}` : `exit code ${code}`})`));
      });
      this.child.on('message', (m: RouterMessage) => {
        this.heardAt = Date.now();
        if (m.op === 'up') {
          clearTimeout(timer);
          this.state = 'up';
          this.watch();
          resolve(m);
          return;
        }
        this.onMessage(m);
      });
    });
    this.up.catch(() => undefined);
    this.child.once('exit', (code, signal) => {
      this.state = 'gone';
      if (this.watchdog !== null) clearInterval(this.watchdog);
      for (const [, a] of this.answers) {
        clearTimeout(a.timer);
        a.reject(new Error(`router ${index} exited`));
      }
      this.answers.clear();
      this.fdSocket.close();
      this.events.onExit(this, code, signal);
    });
    this.child.on('error', (err) => this.log.error({ err, router: index }, 'router process error'));
    this.relayLog();
  }

  /** The router logs pino JSON lines on its stdout; they go into wardend's log, tagged with the router. */
  private relayLog(): void {
    outputLines(this.child.stdout, (line) => {
      let rec: Record<string, unknown>;
      try {
        rec = JSON.parse(line) as Record<string, unknown>;
      } catch {
        this.log.info({ router: this.index }, line);
        return;
      }
      const { level, msg, time: _t, pid: _p, hostname: _h, ...rest } = rec;
      const name = typeof level === 'number' ? (this.log.levels.labels[level] ?? 'info') : 'info';
      (this.log as unknown as Record<string, (o: object, m?: string) => void>)[name]!.call(this.log, rest, typeof msg === 'string' ? msg : undefined);
    });
    outputLines(this.child.stderr, (line) => this.log.warn({ router: this.index, stream: 'stderr' }, line));
  }

  /** When the router's last message came (it sends one at least every second while its event loop turns). */
  private heardAt = Date.now();
  private watchdog: NodeJS.Timeout | null = null;

  /**
   * A router whose event loop stopped turning (a template literal or JS module that never returns, say) answers
   * nothing, on any listener, and every later config change waits for it in vain: after ROUTER_SILENCE_MS without a
   * message it is killed, and the fleet starts it again with the running config (router-fleet's onExit). A check that
   * comes late (main itself was blocked) waits a round instead of judging.
   */
  private watch(): void {
    let checkedAt = Date.now();
    this.watchdog = setInterval(() => {
      const now = Date.now();
      const late = now - checkedAt > 3 * WATCH_MS;
      checkedAt = now;
      if (late) {
        this.heardAt = now;
        return;
      }
      if (this.state !== 'up' || now - this.heardAt < ROUTER_SILENCE_MS) return;
      this.log.error(
        { router: this.index, pid: this.pid, silent_ms: now - this.heardAt },
        'router process stopped answering (its event loop is blocked: a template literal or JS module that does not return?); killing it',
      );
      this.kill();
    }, WATCH_MS);
    this.watchdog.unref();
  }

  private onMessage(m: RouterMessage): void {
    if (m.op === 'answer') {
      const a = this.answers.get(m.id);
      if (!a) return;
      this.answers.delete(m.id);
      clearTimeout(a.timer);
      if (m.ok) a.resolve(m.value);
      else a.reject(Object.assign(new Error(m.error.message), m.error));
      return;
    }
    this.events.onMessage(this, m);
  }

  private onFds(payload: Buffer, fds: number[]): void {
    let msg: FdMessage;
    try {
      msg = JSON.parse(payload.toString()) as FdMessage;
    } catch {
      for (const fd of fds) closeSync(fd);
      return;
    }
    if (msg.op === 'channel') this.events.onChannelFds(this, msg.token, fds);
    else for (const fd of fds) closeSync(fd);
  }

  /** Sends a message (dropped when the router is gone: its exit is handled as a whole). */
  send(m: MainMessage): void {
    if (this.state === 'gone' || !this.child.connected) return;
    this.child.send(m);
  }

  /** Sends `fds` with `msg` over the FdSocket (the receiver gets its own copies). */
  sendFds(msg: FdMessage, fds: number[]): void {
    if (this.state === 'gone') return;
    this.fdSocket.send(JSON.stringify(msg), fds);
  }

  /** Sends a request (`id` filled in) and waits for its answer. */
  request<T = unknown>(m: MainRequest, timeoutMs = ANSWER_TIMEOUT_MS): Promise<T> {
    if (this.state === 'gone') return Promise.reject(new Error(`router ${this.index} is gone`));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.answers.delete(id);
        reject(new Error(`router ${this.index} did not answer "${m.op}" within ${timeoutMs} ms`));
      }, timeoutMs);
      timer.unref();
      this.answers.set(id, { resolve: resolve as (v: unknown) => void, reject, timer });
      this.send({ ...m, id });
    });
  }

  kill(signal: NodeJS.Signals = 'SIGKILL'): void {
    try {
      this.child.kill(signal);
    } catch {
      /* gone */
    }
  }
}
