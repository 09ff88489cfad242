import { spawn, execFileSync, type ChildProcess } from 'child_process';
import { mkdtempSync, existsSync, chmodSync, readFileSync, rmSync } from 'fs';
import { request } from 'http';
import { createServer } from 'net';
import { tmpdir } from 'os';
import { join, resolve } from 'path';

/** Repository root. */
export const ROOT = resolve(__dirname, '../../..');
const WARDEND = join(ROOT, 'packages/core/bin/wardend.js');

/** A JSON answer of the control API. */
export interface ControlAnswer {
  status: number;
  body: any;
}

/** A running wardend started by a test, with its own control socket and state dir. */
export interface Wardend {
  proc: ChildProcess;
  dir: string;
  socket: string;
  /** Everything it logged so far (pino JSON lines). */
  log(): string;
  control(method: string, path: string, body?: unknown): Promise<ControlAnswer>;
  /** Resolves when a log line matching `re` appears. */
  waitForLog(re: RegExp, timeoutMs?: number): Promise<string>;
  stop(): Promise<void>;
}

/** Makes a directory every user can enter (app processes run as `nobody` when wardend is root). */
export function worldDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  chmodSync(dir, 0o755);
  return dir;
}

/**
 * Starts wardend and resolves once its control socket answers. `inherit` maps fd numbers in wardend to fds of this
 * process that it inherits there (as a shell's `exec 77</dir` would leave them).
 */
export async function startWardend(
  extraArgs: string[] = [],
  dir = worldDir('warden-e2e-'),
  as?: { uid: number; gid: number },
  inherit: Record<number, number> = {},
  /** A command wardend runs under (`[cmd, ...args]`: node and wardend's arguments follow them). */
  wrap: string[] = [],
): Promise<Wardend> {
  const socket = join(dir, 'control.sock');
  const stdio: (number | 'pipe' | 'ignore')[] = ['ignore', 'pipe', 'pipe'];
  for (const [n, fd] of Object.entries(inherit)) stdio[Number(n)] = fd;
  for (let i = 3; i < stdio.length; i++) stdio[i] ??= 'ignore';
  const proc = spawn(
    wrap[0] ?? process.execPath,
    [
      ...wrap.slice(1),
      ...(wrap.length > 0 ? [process.execPath] : []),
      WARDEND,
      '--no-daemon',
      '--control',
      `unix:${socket}`,
      '--statedir',
      join(dir, 'state'),
      '--tmpdir',
      dir,
      ...extraArgs,
    ],
    { stdio, env: { ...process.env, WARDEN_LOG_LEVEL: 'debug', ...(as ? { HOME: dir } : {}) }, ...as },
  );
  let out = '';
  const listeners = new Set<() => void>();
  const onData = (d: Buffer) => {
    out += d.toString();
    for (const l of listeners) l();
  };
  proc.stdout!.on('data', onData);
  proc.stderr!.on('data', onData);
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));

  const waitForLog = (re: RegExp, timeoutMs = 20000) =>
    new Promise<string>((ok, fail) => {
      const check = () => {
        const m = out.split('\n').find((line) => re.test(line));
        if (m) {
          listeners.delete(check);
          clearTimeout(t);
          ok(m);
        }
      };
      const t = setTimeout(() => {
        listeners.delete(check);
        fail(new Error(`timed out waiting for ${re} in wardend log:\n${out.slice(-4000)}`));
      }, timeoutMs);
      listeners.add(check);
      check();
    });

  const w: Wardend = {
    proc,
    dir,
    socket,
    log: () => out,
    control: (method, path, body) => controlRequest(socket, method, path, body),
    waitForLog,
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill('SIGTERM');
        const t = setTimeout(() => proc.kill('SIGKILL'), 15000);
        await exited;
        clearTimeout(t);
      }
    },
  };
  await Promise.race([
    waitForLog(/wardend ready/),
    exited.then(() => {
      throw new Error(`wardend exited early:\n${out}`);
    }),
  ]);
  return w;
}

/** One control-API request over the unix socket. */
export function controlRequest(socket: string, method: string, path: string, body?: unknown): Promise<ControlAnswer> {
  return new Promise((ok, fail) => {
    const data = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
    const req = request({ socketPath: socket, method, path, headers: data ? { 'Content-Length': Buffer.byteLength(data) } : {} }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (text += c));
      res.on('end', () => {
        let parsed: unknown = text;
        try {
          parsed = JSON.parse(text);
        } catch {
          /* keep text */
        }
        ok({ status: res.statusCode ?? 0, body: parsed });
      });
    });
    req.on('error', fail);
    req.end(data);
  });
}

/** A TCP port that was free a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => ok(port));
    });
    s.on('error', fail);
  });
}

/** A plain HTTP request to 127.0.0.1:port. */
export function http(
  port: number,
  path: string,
  opts: { method?: string; body?: Buffer | string; headers?: Record<string, string> } = {},
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }> {
  return new Promise((ok, fail) => {
    const req = request({ host: '127.0.0.1', port, path, method: opts.method ?? 'GET', headers: opts.headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => ok({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', fail);
    });
    req.on('error', fail);
    req.end(opts.body);
  });
}

/** Builds a Go program in `srcDir` into `out` (a world-readable file); throws with the compiler's output. */
export function goBuild(srcDir: string, out: string): string {
  execFileSync('go', ['build', '-o', out, '.'], {
    cwd: srcDir,
    env: { ...process.env, GOFLAGS: '-mod=mod', GOPROXY: 'off', GOTOOLCHAIN: 'local', CGO_ENABLED: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  chmodSync(out, 0o755);
  return out;
}

/** Whether `go` is on PATH. */
export function haveGo(): boolean {
  try {
    execFileSync('go', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export const isRoot = process.getuid?.() === 0;

/** Removes a test directory. */
export function cleanup(dir: string): void {
  if (existsSync(dir)) rmSync(dir, { recursive: true, force: true });
}

/**
 * Waits until `ok()` holds, re-checking every 100 ms: for state that changes asynchronously with no event a test can
 * subscribe to (a pool scaling down, a cgroup removed after a drain). Throws with `what` after `timeoutMs`.
 */
export async function waitUntil(ok: () => boolean | Promise<boolean>, what: string, timeoutMs = 15000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await ok())) {
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** PUTs application `name` and a listener on a free loopback port passing to it; returns the port. Throws on an error answer. */
export async function putAppWithListener(w: Wardend, name: string, app: Record<string, unknown>): Promise<number> {
  const port = await freePort();
  const res = await w.control('PUT', `/config/applications/${name}`, app);
  if (res.status !== 200) throw new Error(`PUT application ${name}: ${res.status} ${JSON.stringify(res.body)}`);
  const l = await w.control('PUT', `/config/listeners/127.0.0.1:${port}`, { pass: `applications/${name}` });
  if (l.status !== 200) throw new Error(`PUT listener for ${name}: ${l.status} ${JSON.stringify(l.body)}`);
  return port;
}

/**
 * Builds the Go program in `src` into `dir/app`, starts wardend in `dir` and serves the program as the app `name` on a
 * free loopback port.
 */
export async function serveGoApp(dir: string, src: string, name: string): Promise<{ w: Wardend; port: number }> {
  const bin = goBuild(src, join(dir, 'app'));
  const w = await startWardend([], dir);
  const port = await freePort();
  const res = await w.control('PUT', '/config', {
    listeners: { [`127.0.0.1:${port}`]: { pass: `applications/${name}` } },
    applications: { [name]: { type: 'external', working_directory: dir, executable: bin } },
  });
  if (res.status !== 200) {
    await w.stop();
    throw new Error(`PUT /config: ${res.status} ${JSON.stringify(res.body)}`);
  }
  return { w, port };
}

/** The router processes of a wardend (children titled `wardend: router N`), by pid. */
export function routerPids(w: Wardend): number[] {
  const pid = w.proc.pid!;
  const out: number[] = [];
  let kids: string[] = [];
  try {
    kids = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean);
  } catch {
    return out;
  }
  for (const k of kids) {
    try {
      if (readFileSync(`/proc/${k}/cmdline`, 'utf8').startsWith('wardend: router')) out.push(Number(k));
    } catch {
      /* exited meanwhile */
    }
  }
  return out;
}

/** Resident memory of wardend, main and routers together, in bytes (app processes not included). */
export function wardendRss(w: Wardend): number {
  let kb = 0;
  for (const pid of [w.proc.pid!, ...routerPids(w)]) {
    try {
      const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
      kb += m ? Number(m[1]) : 0;
    } catch {
      /* exited meanwhile */
    }
  }
  return kb * 1024;
}
