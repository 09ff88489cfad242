import { ChildProcess, execFileSync, spawn } from 'child_process';
import * as os from 'os';
import * as path from 'path';
import { RequestHead, RouterChannel, RouterStream } from '../src';

export const FIXTURES = path.join(__dirname, 'fixtures');

/** Spawns a TypeScript fixture as the app end, with the channel's fds at 3 and 4. */
export function spawnApp(ch: RouterChannel, fixture: string, opts: { prefix?: string[]; env?: NodeJS.ProcessEnv } = {}): ChildProcess {
  const argv = [...(opts.prefix ?? []), process.execPath, '-r', path.join(FIXTURES, 'ts-register.js'), path.join(FIXTURES, fixture)];
  const child = spawn(argv[0], argv.slice(1), {
    stdio: ['ignore', 'pipe', 'pipe', ch.fds[0], ch.fds[1]],
    env: { ...process.env, ...ch.env(), ...opts.env },
  });
  ch.closeChildFds();
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (d) => {
    stderrOf.set(child, (stderrOf.get(child) ?? '') + d);
  });
  return child;
}
export const stderrOf = new WeakMap<ChildProcess, string>();

/** A request head with defaults. */
export function head(over: Partial<RequestHead> = {}): RequestHead {
  return {
    method: 'GET',
    target: '/hello',
    httpVersion: '1.1',
    headers: ['host', 'example.test'],
    remoteAddress: '127.0.0.1',
    remotePort: 40000,
    localAddress: '127.0.0.1',
    localPort: 8080,
    tls: false,
    contentLength: 0,
    ...over,
  };
}

export interface Collected {
  status: number;
  headers: string[];
  body: Buffer;
}

/** Collects the response of a stream. */
export function collect(s: RouterStream): Promise<Collected> {
  return new Promise((resolve, reject) => {
    let status = 0;
    let headers: string[] = [];
    const chunks: Buffer[] = [];
    s.on('response', (st: number, h: string[]) => {
      status = st;
      headers = h;
    });
    s.on('data', (c: Buffer) => chunks.push(c));
    s.on('end', () => resolve({ status, headers, body: Buffer.concat(chunks) }));
    s.on('error', reject);
  });
}

/** Writes a body to the stream respecting back-pressure, then ends it. */
export async function sendBody(s: RouterStream, body: Buffer, chunk = 65536): Promise<void> {
  for (let off = 0; off < body.length; off += chunk) {
    if (!s.writeBody(body.subarray(off, off + chunk))) await new Promise((r) => s.once('drain', r));
  }
  s.endBody();
}

/** Waits for a child to exit. */
export function exited(child: ChildProcess): Promise<{ code: number | null; signal: string | null }> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  return new Promise((r) => child.once('exit', (code, signal) => r({ code, signal })));
}

import { AppChannel, RouterChannelOptions } from '../src';

/** Both ends in this process (the app end owns the child fds). */
export function inProcessPair(opts?: RouterChannelOptions): { router: RouterChannel; app: AppChannel } {
  const router = RouterChannel.create(opts);
  const app = AppChannel.open(router.fds[0], router.fds[1]);
  router._forgetChildFds();
  return { router, app };
}

/**
 * Whether a test can put the app in new network and ipc namespaces (root and a working `unshare --net --ipc`), and
 * the reason to put in the test name when it cannot.
 */
export function netIpcNamespaces(): { ok: boolean; skipReason: string } {
  if (process.getuid?.() !== 0) return { ok: false, skipReason: ' (skipped: requires root)' };
  try {
    execFileSync('unshare', ['--net', '--ipc', 'true'], { stdio: 'ignore' });
    return { ok: true, skipReason: '' };
  } catch {
    return { ok: false, skipReason: ' (skipped: unshare --net --ipc failed)' };
  }
}

/** The Go toolchain to build the Go app end with, or null when there is none. */
export function findGo(): string | null {
  for (const p of [process.env.GO, 'go', '/usr/lib/go/bin/go', '/usr/local/go/bin/go']) {
    if (!p) continue;
    try {
      execFileSync(p, ['version'], { stdio: 'ignore' });
      return p;
    } catch {
      // try the next candidate
    }
  }
  return null;
}

/** Builds packages/app-types/go/examples/hello (warden.ListenAndServe) into `dir`; returns the binary's path. */
export function buildGoHello(go: string, dir: string): string {
  const bin = path.join(dir, 'hello');
  execFileSync(go, ['build', '-o', bin, '.'], {
    cwd: path.join(__dirname, '..', '..', 'app-types', 'go', 'examples', 'hello'),
    env: { ...process.env, GOFLAGS: '-mod=mod', GOPROXY: 'off', GOTOOLCHAIN: 'local', GOCACHE: path.join(os.tmpdir(), 'warden-gocache') },
    stdio: 'pipe',
  });
  return bin;
}
