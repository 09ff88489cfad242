import { closeSync, openSync, readdirSync, readFileSync } from 'fs';
import { Socket } from 'net';
import { constants as osConstants } from 'os';
import type { AppProcess, AppPrototype, LaunchSpec, ParentHook, SpawnedProcess, SpawnPlan } from '@warden/core';
import { ApplyError, encodeChildOp, outputLines, spawnProcess } from '@warden/core';
import { CLONE } from '../clone-flags';
import type { LoggerLike } from './logger';
import { fdPass, helperPath } from './native';
import { encodeMessage } from './ops';
import { HelperEvent, readEvents } from './status-channel';

/** Options of {@link LinuxPrototype.start}. */
export interface PrototypeOptions {
  /**
   * stdio of the helper, inherited by every app process that has no `stdout`/`stderr` file: `'pipe'` (default)
   * forwards each line to the logger; `'inherit'` shares wardend's stdio (the CLI uses it, with stdin).
   */
  stdio?: 'pipe' | 'inherit';
  logger: LoggerLike;
  /** How long close() waits for app processes after SIGTERM before SIGKILL. Default 5000 ms. */
  closeTimeoutMs?: number;
  /** How long the prototype may take to become ready. Default 10000 ms. */
  startTimeoutMs?: number;
}

/** How long the exit of the helper waits for the rest of its status channel (see the constructor). */
const STATUS_GRACE_MS = 200;
/** How long the processes an exited app process left behind are hunted down (killLeftovers). */
const LEFTOVER_MS = 5000;

const SIGNAL_NAMES = new Map<number, string>(Object.entries(osConstants.signals).map(([k, v]) => [v, k]));

/** Credential bits understood by the helper (see native/warden-spawn.c). */
const CRED_SETGROUPS = 1;
const CRED_SETIDS = 2;

class LinuxAppProcess implements AppProcess {
  readonly exited: Promise<{ code: number | null; signal: string | null }>;
  done = false;
  private resolveExit!: (v: { code: number | null; signal: string | null }) => void;

  constructor(readonly pid: number) {
    this.exited = new Promise((resolve) => (this.resolveExit = resolve));
  }

  finish(code: number | null, signal: string | null): void {
    if (this.done) return;
    this.done = true;
    this.resolveExit({ code, signal });
  }

  kill(signal: NodeJS.Signals = 'SIGTERM'): void {
    if (this.done) return;
    try {
      process.kill(this.pid, signal);
    } catch {
      // already gone: its exit event is on its way
    }
  }
}

interface Waiter {
  ev: string;
  resolve: (e: HelperEvent) => void;
  reject: (err: Error) => void;
}

/**
 * One isolated application: the helper (host side) and its prototype (inside the namespaces). Created with
 * {@link LinuxPrototype.start}; every app process is forked by the prototype on `spawn()`.
 */
export class LinuxPrototype implements AppPrototype {
  /** Resolves when the helper (and so the prototype and all app processes) has exited. */
  readonly done: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private prototypePid = 0;
  private ctlFd: number;
  private readonly procs = new Map<number, LinuxAppProcess>();
  private readonly spawns = new Map<number, { resolve: (p: LinuxAppProcess) => void; reject: (err: Error) => void }>();
  private waiters: Waiter[] = [];
  private nextId = 0;
  private exited = false;
  private fatal?: ApplyError;
  private closing?: Promise<void>;
  private readonly log: LoggerLike;
  private oomSeen = 0;

  private constructor(
    readonly appName: string,
    private readonly child: SpawnedProcess,
    ctlFd: number,
    status: Socket,
    private readonly plan: SpawnPlan,
    private readonly options: PrototypeOptions,
  ) {
    this.ctlFd = ctlFd;
    this.log = options.logger;
    // The helper's last words (an error event) may still be unread when its exit is seen: the exit is handled once
    // the status channel is at its end (every holder of its other end gone), or after STATUS_GRACE_MS.
    const statusEnded = new Promise<void>((resolve) => status.once('close', () => resolve()));
    this.done = child.exited.then(async ({ code, signal }) => {
      await withTimeout(statusEnded, STATUS_GRACE_MS);
      this.exited = true;
      this.onHelperExit(code, signal);
      return { code, signal };
    });
    readEvents(
      status,
      (e) => this.onEvent(e),
      (line) => this.log.warn({ line: line.slice(0, 200) }, 'unexpected line on the prototype status channel'),
    );
    for (const [name, stream] of [
      ['stdout', child.stdout],
      ['stderr', child.stderr],
    ] as const) {
      if (!stream) continue;
      // The logger is already this app's child (it carries `app`); stderr at warn as for apps without isolation.
      outputLines(stream, (line) => (name === 'stderr' ? this.log.warn({ stream: name }, line) : this.log.info({ stream: name }, line)));
    }
  }

  /** Host pid of the prototype (PID 1 of the app's pid namespace when `pid` is on). */
  get pid(): number {
    return this.prototypePid;
  }

  /**
   * Starts the helper, sends the plan, runs the parent hooks (id maps, cgroup) on the cloned prototype, releases it
   * and waits until it has set up its namespaces. Throws ApplyError with the failing step and errno.
   */
  static async start(appName: string, plan: SpawnPlan, options: PrototypeOptions): Promise<LinuxPrototype> {
    const native = fdPass();
    const [ours, theirs] = native.socketpair();
    let statusOurs = -1;
    let statusTheirs = -1;
    let child: SpawnedProcess;
    try {
      [statusOurs, statusTheirs] = native.socketpair();
      const inherit = options.stdio === 'inherit';
      // Started without fork() (spawnProcess: wardend's main is tens of MB, and fork copies its page tables). Apps of
      // wardend get a session of their own (not the terminal's process group); warden-isolate's command, which
      // shares our terminal and stdin, stays in ours. fd 3: the control socket; fd 4: the status channel.
      child = spawnProcess({
        file: helperPath(),
        argv: [helperPath(), ...(inherit ? [] : ['--setsid'])],
        env: Object.fromEntries(Object.entries(process.env).filter((e): e is [string, string] => e[1] !== undefined)),
        stdin: inherit ? 0 : undefined,
        stdout: inherit ? 1 : 'pipe',
        stderr: inherit ? 2 : 'pipe',
        fds: [theirs, statusTheirs],
      });
    } catch (err) {
      closeSync(ours);
      if (statusOurs >= 0) closeSync(statusOurs);
      const e = err as NodeJS.ErrnoException;
      throw new ApplyError(
        `Application "${appName}": cannot start the spawn helper ${helperPath()}: ${e.message}`,
        appName,
        'helper',
        typeof e.errno === 'number' ? Math.abs(e.errno) : undefined,
      );
    } finally {
      closeSync(theirs);
      if (statusTheirs >= 0) closeSync(statusTheirs);
    }
    const status = new Socket({ fd: statusOurs, readable: true, writable: false });
    const proto = new LinuxPrototype(appName, child, ours, status, plan, options);
    const timeout = options.startTimeoutMs ?? 10000;
    try {
      proto.send(LinuxPrototype.planRecords(plan), []);
      const cloned = await proto.waitFor('cloned', timeout);
      proto.prototypePid = Number(cloned.pid);
      for (const hook of plan.parentHooks) {
        try {
          await hook.run(proto.prototypePid);
        } catch (err) {
          const e = err as NodeJS.ErrnoException;
          throw new ApplyError(
            `Application "${appName}": ${hook.name} failed: ${e.message}`,
            appName,
            hook.name,
            typeof e.errno === 'number' ? Math.abs(e.errno) : undefined,
          );
        }
      }
      proto.send([['release']], []);
      await proto.waitFor('ready', timeout);
      return proto;
    } catch (err) {
      await proto.abort();
      if (err instanceof ApplyError) throw err;
      // e.g. the plan could not be sent because the helper never started: its own report is more precise.
      if (proto.fatal) throw proto.fatal;
      throw new ApplyError(`Application "${appName}": ${(err as Error).message}`, appName, 'helper');
    }
  }

  private static planRecords(plan: SpawnPlan): string[][] {
    const privileged = process.geteuid?.() === 0;
    const userns = (plan.cloneFlags & CLONE.NEWUSER) !== 0;
    // Privileged: set everything. Unprivileged with a user namespace: setgroups is denied, ids are mapped.
    // Unprivileged without one: the app runs as wardend's own user, nothing to change.
    const cred = privileged ? CRED_SETGROUPS | CRED_SETIDS : userns ? CRED_SETIDS : 0;
    const head = ['plan', String(plan.cloneFlags >>> 0), String(plan.uid), String(plan.gid), plan.groups.join(','), String(cred)];
    return [head, ...plan.childOps.map(encodeChildOp)];
  }

  /** Starts one app process inside the prototype's namespaces; `fds` appear at 3, 4, ... in it. */
  async spawn(spec: LaunchSpec, fds: number[]): Promise<AppProcess> {
    if (this.exited || this.closing) {
      throw new ApplyError(`Application "${this.appName}": its prototype is not running.`, this.appName, 'spawn');
    }
    const id = ++this.nextId;
    const opened: number[] = [];
    const send: number[] = [];
    const idx = [-1, -1, -1];
    try {
      for (const [i, file] of [
        [1, spec.stdout],
        [2, spec.stderr],
      ] as const) {
        if (!file) continue;
        const fd = openSync(file, 'a', 0o640);
        opened.push(fd);
        idx[i] = send.length;
        send.push(fd);
      }
      send.push(...fds);
      const argv = spec.argv.length ? spec.argv : [spec.executable];
      const env = Object.entries(spec.env).map(([k, v]) => `${k}=${v}`);
      const result = new Promise<LinuxAppProcess>((resolve, reject) => this.spawns.set(id, { resolve, reject }));
      this.send([['spawn', String(id), spec.executable, spec.cwd ?? '', String(idx[0]), String(idx[1]), String(idx[2]), String(fds.length)], argv, env], send);
      return await result;
    } catch (err) {
      this.spawns.delete(id);
      if (err instanceof ApplyError) throw err;
      throw new ApplyError(`Application "${this.appName}": spawn failed: ${(err as Error).message}`, this.appName, 'spawn');
    } finally {
      for (const fd of opened) closeSync(fd);
    }
  }

  /** Stops every app process (SIGTERM, then SIGKILL after closeTimeoutMs), the prototype, then runs cleanups. */
  close(): Promise<void> {
    this.closing ??= this.doClose();
    return this.closing;
  }

  private async doClose(): Promise<void> {
    const live = [...this.procs.values()];
    for (const p of live) p.kill('SIGTERM');
    await withTimeout(Promise.all(live.map((p) => p.exited)), this.options.closeTimeoutMs ?? 5000);
    for (const p of live) p.kill('SIGKILL');
    await this.abort();
  }

  /** Closes the control socket (the prototype kills its processes and exits), waits for the helper, cleans up. */
  private async abort(): Promise<void> {
    this.closeCtl();
    if (!this.exited) {
      const gone = await withTimeout(this.done, 3000);
      if (!gone) {
        try {
          process.kill(this.child.pid, 'SIGKILL'); // not reaped before `done`: the pid is still the helper's
        } catch {
          // gone meanwhile
        }
        await this.done;
      }
    }
    for (const hook of [...this.plan.parentHooks].reverse()) {
      try {
        await hook.cleanup?.();
      } catch (err) {
        this.log.warn({ hook: hook.name, err: (err as Error).message }, 'cleanup failed');
      }
    }
  }

  private closeCtl(): void {
    if (this.ctlFd < 0) return;
    try {
      closeSync(this.ctlFd);
    } catch {
      // already closed
    }
    this.ctlFd = -1;
  }

  private send(records: string[][], fds: number[]): void {
    if (this.ctlFd < 0) throw new Error('the control channel is closed');
    fdPass().send(this.ctlFd, encodeMessage(records), fds);
  }

  private waitFor(ev: string, timeoutMs: number): Promise<HelperEvent> {
    if (this.fatal) return Promise.reject(this.fatal);
    return new Promise<HelperEvent>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(new ApplyError(`Application "${this.appName}": the prototype did not report "${ev}" within ${timeoutMs} ms.`, this.appName, ev));
      }, timeoutMs);
      const waiter: Waiter = {
        ev,
        resolve: (e) => {
          clearTimeout(timer);
          resolve(e);
        },
        reject: (err) => {
          clearTimeout(timer);
          reject(err);
        },
      };
      this.waiters.push(waiter);
    });
  }

  private onEvent(e: HelperEvent): void {
    switch (e.ev) {
      case 'spawned':
      case 'spawn_error': {
        const pending = this.spawns.get(Number(e.id));
        if (!pending) return;
        this.spawns.delete(Number(e.id));
        if (e.ev === 'spawned' && Number.isInteger(e.pid) && Number(e.pid) > 0) {
          // Registered synchronously: its exit event may be in the same chunk of the status stream.
          const proc = new LinuxAppProcess(Number(e.pid));
          this.procs.set(proc.pid, proc);
          this.log.info({ app_pid: proc.pid, inner_pid: e.inner }, 'app process forked by the prototype');
          pending.resolve(proc);
        } else {
          pending.reject(this.errorFrom(e));
        }
        return;
      }
      case 'exit': {
        const proc = this.procs.get(Number(e.pid));
        if (!proc) return;
        const signal = typeof e.signal === 'number' ? (SIGNAL_NAMES.get(e.signal) ?? String(e.signal)) : null;
        this.procs.delete(proc.pid);
        // What it left behind goes before its exit is reported, so before the supervisor starts a replacement.
        void this.killLeftovers(proc.pid).finally(() => proc.finish(typeof e.code === 'number' ? e.code : null, signal));
        const oom = this.oomKills();
        if (signal === 'SIGKILL' && oom > this.oomSeen) {
          this.log.warn({ app_pid: proc.pid, oomKills: oom }, 'app process killed by the OOM killer (cgroup memory_max)');
        } else {
          this.log.info({ app_pid: proc.pid, code: e.code, signal }, 'app process exited');
        }
        this.oomSeen = oom;
        return;
      }
      case 'error':
        this.failAll(this.errorFrom(e));
        return;
      default: {
        const waiter = this.waiters.find((w) => w.ev === e.ev);
        if (waiter) {
          this.waiters = this.waiters.filter((w) => w !== waiter);
          waiter.resolve(e);
        } else if (e.ev === 'error_nonfatal') {
          this.log.warn({ step: e.step, errno: e.errno }, String(e.message));
        }
      }
    }
  }

  /**
   * Kills the processes an exited app process left behind. Orphans are re-parented to the prototype (PID 1 of the
   * pid namespace, or a child subreaper without one), so every child of the prototype that is not an app process it
   * spawned is a leftover: a daemon the app forked, or what remains of a fork bomb (which would otherwise keep its
   * share of `pids_max` and make the replacement crash-loop). Each leftover is killed with all its descendants at
   * once, in rounds until none is left (a process forking meanwhile), for at most LEFTOVER_MS: a chain of processes
   * each the child of the one before went one generation per round, and after 50 rounds the rest outlived the app.
   * Runs only while no spawn is in flight: a process being forked is a child that is not yet known as an app process.
   */
  private async killLeftovers(exitedPid: number): Promise<void> {
    if (!this.prototypePid || this.exited) return;
    let killed = 0;
    const deadline = Date.now() + LEFTOVER_MS;
    while (!this.exited && Date.now() < deadline) {
      for (let waited = 0; this.spawns.size > 0 && waited < 100; waited++) await sleep(10);
      const left = descendantsOf(childrenOf(this.prototypePid).filter((pid) => !this.procs.has(pid)));
      if (left.length === 0) break;
      for (const pid of left) {
        try {
          process.kill(pid, 'SIGKILL');
          killed++;
        } catch {
          // gone meanwhile
        }
      }
      await sleep(10);
    }
    if (killed > 0) this.log.warn({ app_pid: exitedPid, killed }, 'killed processes the app process left behind'); // the logger names the app
  }

  /** OOM kills so far, from parent hooks that can tell (the cgroup placement has `oomKills()`). */
  private oomKills(): number {
    let n = 0;
    for (const h of this.plan.parentHooks as (ParentHook & { oomKills?: () => number })[]) {
      if (typeof h.oomKills === 'function') n += h.oomKills();
    }
    return n;
  }

  private errorFrom(e: HelperEvent): ApplyError {
    const step = typeof e.step === 'string' ? e.step : 'unknown';
    const errno = typeof e.errno === 'number' ? e.errno : undefined;
    const message = typeof e.message === 'string' ? e.message : `${step} failed`;
    return new ApplyError(`Application "${this.appName}": ${message}`, this.appName, step, errno);
  }

  private failAll(err: ApplyError): void {
    this.fatal ??= err;
    for (const w of this.waiters) w.reject(err);
    this.waiters = [];
    for (const s of this.spawns.values()) s.reject(err);
    this.spawns.clear();
  }

  private onHelperExit(code: number | null, signal: NodeJS.Signals | null): void {
    this.closeCtl();
    this.failAll(
      this.fatal ?? new ApplyError(`Application "${this.appName}": the prototype exited (code ${code}, signal ${signal}).`, this.appName, 'prototype'),
    );
    // The prototype is gone, so are its processes (pid namespace, or their parent-death signal).
    for (const p of this.procs.values()) p.finish(null, 'SIGKILL');
    this.procs.clear();
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Host pids of the children of `pid` (all its threads), from procfs; [] when it is gone. */
function childrenOf(pid: number): number[] {
  const out: number[] = [];
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const tid of tids) {
    try {
      for (const c of readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').split(' ')) if (c.trim()) out.push(Number(c));
    } catch {
      // thread gone
    }
  }
  return out;
}

/** `roots` and every process below them (children of children, ...), read from procfs now; bounded in number. */
function descendantsOf(roots: number[]): number[] {
  const seen = new Set<number>(roots);
  const queue = [...roots];
  while (queue.length > 0 && seen.size < 100_000) {
    for (const c of childrenOf(queue.shift()!)) {
      if (!seen.has(c)) {
        seen.add(c);
        queue.push(c);
      }
    }
  }
  return [...seen];
}

async function withTimeout<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), ms)));
  try {
    return await Promise.race([p, t]);
  } finally {
    clearTimeout(timer);
  }
}
