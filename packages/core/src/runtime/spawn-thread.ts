import { Worker } from 'worker_threads';
import type { AppProcess } from '../contracts';

/** What {@link spawnOffThread} starts: an executable with argv, env, cwd, credentials and inherited fds. */
export interface SpawnRequest {
  file: string;
  argv0: string;
  args: string[];
  cwd: string;
  env: Record<string, string>;
  /** fd of an open file for stdout/stderr, or 'pipe' (lines come back through `onLine`). */
  stdout: number | 'pipe';
  stderr: number | 'pipe';
  /** Inherited at 3, 4, ... */
  fds: number[];
  uid?: number;
  gid?: number;
}

/** A process started by the spawn thread. */
export interface ThreadProcess extends AppProcess {
  /** Resolves once the process exists (exec succeeded); rejects with the spawn error (ENOENT, EACCES, ...). */
  readonly spawned: Promise<void>;
}

interface Entry {
  onSpawn(pid: number): void;
  onError(err: NodeJS.ErrnoException): void;
  onExit(code: number | null, signal: string | null): void;
  onLine(stream: 'stdout' | 'stderr', line: string): void;
}

// The thread's code: spawn each requested process, relay its spawn, error, exit and output lines. child_process
// blocks its caller's event loop from fork() until the child has exec'd; under CPU pressure that is tens of
// milliseconds per process, so a pool of hundreds of processes would stall every listener if wardend's own loop did it.
const THREAD = `
const { parentPort } = require('worker_threads');
const { spawn } = require('child_process');
function lines(id, name, stream) {
  if (!stream) return;
  let rest = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk) => {
    const parts = (rest + chunk).split('\\n');
    rest = parts.pop();
    for (const line of parts) if (line) parentPort.postMessage({ id, ev: 'line', stream: name, line });
    if (rest.length > 16384) { parentPort.postMessage({ id, ev: 'line', stream: name, line: rest }); rest = ''; }
  });
  stream.on('end', () => rest && parentPort.postMessage({ id, ev: 'line', stream: name, line: rest }));
}
parentPort.on('message', (m) => {
  const fail = (e) => parentPort.postMessage({ id: m.id, ev: 'error', message: e.message, code: e.code, errno: e.errno });
  let child;
  try {
    // detached: a session of its own (setsid), so a terminal's Ctrl-C (SIGINT to wardend's process group) reaches
    // only wardend, which stops the app gracefully.
    child = spawn(m.file, m.args, { argv0: m.argv0, cwd: m.cwd, env: m.env, uid: m.uid, gid: m.gid, detached: true,
      stdio: ['ignore', m.stdout, m.stderr, ...m.fds] });
  } catch (e) {
    fail(e);
    return;
  }
  let up = false;
  child.once('spawn', () => { up = true; parentPort.postMessage({ id: m.id, ev: 'spawn', pid: child.pid }); });
  child.on('error', (e) => { if (!up) fail(e); });
  child.on('exit', (code, signal) => parentPort.postMessage({ id: m.id, ev: 'exit', code, signal }));
  lines(m.id, 'stdout', child.stdout);
  lines(m.id, 'stderr', child.stderr);
});
`;

let thread: Worker | undefined;
let nextId = 1;
const entries = new Map<number, Entry>();

function theThread(): Worker {
  if (thread) return thread;
  const t = new Worker(THREAD, { eval: true });
  t.unref(); // never keeps wardend alive
  t.on(
    'message',
    (m: {
      id: number;
      ev: string;
      pid?: number;
      code?: unknown;
      signal?: string | null;
      stream?: 'stdout' | 'stderr';
      line?: string;
      message?: string;
      errno?: number;
    }) => {
      const e = entries.get(m.id);
      if (!e) return;
      switch (m.ev) {
        case 'spawn':
          e.onSpawn(m.pid ?? 0);
          return;
        case 'error':
          entries.delete(m.id);
          e.onError(Object.assign(new Error(m.message ?? 'spawn failed'), { code: m.code as string | undefined, errno: m.errno }));
          return;
        case 'exit':
          entries.delete(m.id);
          e.onExit(typeof m.code === 'number' ? m.code : null, m.signal ?? null);
          return;
        case 'line':
          e.onLine(m.stream!, m.line!);
      }
    },
  );
  t.on('error', (err) => {
    // The thread died (a bug): every process it watched is reported gone; the next spawn starts a new thread.
    thread = undefined;
    for (const [id, e] of entries) {
      entries.delete(id);
      e.onError(Object.assign(err, { code: 'ESPAWNTHREAD' }));
    }
  });
  thread = t;
  return t;
}

/**
 * Starts a process from a helper thread, so that wardend's event loop never waits for a fork and exec. The fds in
 * `req` must stay open until `spawned` settles (the thread hands them to the child).
 */
export function spawnOffThread(req: SpawnRequest, onLine: (stream: 'stdout' | 'stderr', line: string) => void): ThreadProcess {
  const id = nextId++;
  let pid = 0;
  let done = false;
  let pendingSignal: NodeJS.Signals | undefined;
  let resolveExit!: (e: { code: number | null; signal: string | null }) => void;
  const exited = new Promise<{ code: number | null; signal: string | null }>((r) => (resolveExit = r));
  let settle!: { ok: () => void; fail: (e: Error) => void };
  const spawned = new Promise<void>((ok, fail) => (settle = { ok, fail }));
  spawned.catch(() => undefined);
  const proc: ThreadProcess = {
    get pid() {
      return pid;
    },
    exited,
    spawned,
    kill(signal: NodeJS.Signals = 'SIGTERM') {
      if (done) return;
      if (pid <= 0) {
        pendingSignal = signal; // not spawned yet: delivered as soon as it is
        return;
      }
      try {
        process.kill(pid, signal);
      } catch {
        // already gone: its exit is on its way
      }
    },
  };
  entries.set(id, {
    onSpawn: (p) => {
      pid = p;
      settle.ok();
      if (pendingSignal) proc.kill(pendingSignal);
    },
    onError: (err) => {
      done = true;
      settle.fail(err);
      resolveExit({ code: null, signal: null });
    },
    onExit: (code, signal) => {
      done = true;
      resolveExit({ code, signal });
    },
    onLine,
  });
  theThread().postMessage({ id, ...req });
  return proc;
}
