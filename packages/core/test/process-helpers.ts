import { execFileSync, spawn } from 'child_process';
import type { ChildProcess } from 'child_process';
import { existsSync } from 'fs';
import { request } from 'http';
import { createServer } from 'net';
import { join } from 'path';

export const CORE_DIR = join(__dirname, '..');
export const REPO_ROOT = join(CORE_DIR, '..', '..');
export const WARDEND = join(CORE_DIR, 'bin', 'wardend.js');
export const FIXTURE_PLUGIN = join(__dirname, 'fixtures', 'launcher-plugin.js');

/**
 * Builds core (and what it references) so that bin/wardend.js runs the current sources. Type errors in packages
 * being written by others do not stop tsc from emitting; only a missing output fails.
 */
export function buildCore(): void {
  try {
    execFileSync(process.execPath, [join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-b', CORE_DIR], { cwd: REPO_ROOT, stdio: 'pipe' });
  } catch (e) {
    if (!existsSync(join(CORE_DIR, 'dist', 'daemon', 'main.js'))) throw e;
  }
}

/** A wardend child process started in the foreground. */
export interface RunningWardend {
  proc: ChildProcess;
  control: string;
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts `wardend --no-daemon ...args` and resolves once it logs `wardend ready`. */
export function startWardend(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<RunningWardend> {
  const proc = spawn(process.execPath, [WARDEND, '--no-daemon', ...args], { stdio: ['ignore', 'pipe', 'pipe'], env });
  let err = '';
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal })));
  return new Promise((resolve, reject) => {
    proc.stderr!.setEncoding('utf8');
    proc.stderr!.on('data', (d: string) => {
      err += d;
      for (const line of err.split('\n')) {
        if (!line.startsWith('{')) continue;
        try {
          const rec = JSON.parse(line);
          if (rec.msg === 'wardend ready') resolve({ proc, control: rec.control, stderr: () => err, exited });
        } catch {
          /* partial line */
        }
      }
    });
    void exited.then(({ code, signal }) => reject(new Error(`wardend exited (${code ?? signal}) before it was ready:\n${err}`)));
  });
}

/** Runs wardend to completion (one-shot commands). */
export function runWardend(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const proc = spawn(process.execPath, [WARDEND, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  proc.stdout!.on('data', (d) => (stdout += d));
  proc.stderr!.on('data', (d) => (stderr += d));
  return new Promise((resolve) => proc.on('close', (code) => resolve({ code, stdout, stderr })));
}

/** One control-API request over a unix socket or TCP (`unix:/path` or `host:port`). */
export function controlRequest(
  control: string,
  method: string,
  path: string,
  body?: string,
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; text: string; json: any }> {
  const target = control.startsWith('unix:')
    ? { socketPath: control.slice(5) }
    : { host: control.slice(0, control.lastIndexOf(':')).replace(/^\[|\]$/g, ''), port: Number(control.slice(control.lastIndexOf(':') + 1)) };
  return new Promise((resolve, reject) => {
    const req = request({ ...target, method, path, headers: body === undefined ? {} : { 'Content-Length': Buffer.byteLength(body) } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (text += d));
      res.on('end', () => {
        let json: unknown;
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** A TCP port on 127.0.0.1 that was free a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/** Resolves with the first stderr line of `w` that contains `text` (including lines already written). */
export function waitForStderr(w: RunningWardend, text: string, ms = 20000): Promise<string> {
  return new Promise((resolve, reject) => {
    const find = () =>
      w
        .stderr()
        .split('\n')
        .find((l) => l.includes(text));
    const onData = () => {
      const line = find();
      if (line === undefined) return;
      finish();
      resolve(line);
    };
    const timer = setTimeout(() => {
      finish();
      reject(new Error(`"${text}" did not appear on wardend's stderr within ${ms} ms:\n${w.stderr().slice(-2000)}`));
    }, ms);
    const finish = () => {
      clearTimeout(timer);
      w.proc.stderr!.off('data', onData);
    };
    w.proc.stderr!.on('data', onData);
    onData();
  });
}

/** A wardend whose output is read as text (any --log-format), optionally on a terminal. */
export interface TextWardend {
  proc: ChildProcess;
  /** Everything written so far (stderr, or the terminal's output). */
  output(): string;
  /** Resolves once `text` has been written. */
  waitFor(text: string, ms?: number): Promise<void>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * Starts `wardend --no-daemon ...args`. With `tty`, wardend runs on a pseudo-terminal made by util-linux `script`
 * (its stderr is then a terminal); signal it through its pid file, `proc` is `script`.
 */
export function spawnTextWardend(args: string[], tty = false): TextWardend {
  const argv = [process.execPath, WARDEND, '--no-daemon', ...args];
  const proc = tty
    ? spawn('script', ['-qefc', argv.map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' '), '/dev/null'], { stdio: ['ignore', 'pipe', 'pipe'] })
    : spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const waiters = new Set<() => void>();
  const onData = (d: Buffer) => {
    out += d.toString();
    for (const w of waiters) w();
  };
  proc.stdout!.on('data', onData);
  proc.stderr!.on('data', onData);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal })));
  const waitFor = (text: string, ms = 20000) =>
    new Promise<void>((resolve, reject) => {
      const check = () => {
        if (!out.includes(text)) return;
        done();
        resolve();
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`"${text}" was not written within ${ms} ms:\n${out.slice(-2000)}`));
      }, ms);
      const done = () => {
        clearTimeout(timer);
        waiters.delete(check);
      };
      waiters.add(check);
      check();
    });
  return { proc, output: () => out, waitFor, exited };
}
