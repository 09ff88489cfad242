import { execFileSync, spawn } from 'child_process';
import type { ChildProcess } from 'child_process';
import { existsSync } from 'fs';
import { request } from 'http';
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
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.on('exit', (code, signal) => resolve({ code, signal })),
  );
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
    exited.then(({ code, signal }) => reject(new Error(`wardend exited (${code ?? signal}) before it was ready:\n${err}`)));
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
