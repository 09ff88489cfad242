// Real cross-process tests: a RouterChannel in the jest process, a Node app spawned the way wardend spawns it (the
// launcher's LaunchSpec, the channel's fds at 3, 4, ... and its env). Needs the built package (dist/runtime) and the
// built shm-transport (dist + native addon): `npm run build` does both.
import { spawn, type ChildProcess } from 'child_process';
import { once } from 'events';
import { createHash, randomBytes } from 'crypto';
import * as fs from 'fs';
import * as http from 'http';
import * as path from 'path';
import { RouterChannel, type RouterStream } from '@warden/shm-transport';
import type { LaunchSpec, PlanContext } from '@warden/core';
import { ExternalLauncher, NodeLauncher, PRELOAD_PATH } from '../src';

// Each test spawns Node processes; on a loaded CI machine that can take seconds (the preset's testTimeout is a
// global-only option that per-project configs ignore, so set it here).
jest.setTimeout(30000);

const FIXTURES = path.join(__dirname, 'fixtures');
const ctx: PlanContext = {
  appName: 'node-app',
  daemonUid: process.getuid?.() ?? 0,
  daemonGid: process.getgid?.() ?? 0,
  defaultUser: 'nobody',
  defaultGroup: 'nogroup',
  tmpdir: '/tmp',
  credentials: { user: 'nobody', uid: 65534, group: 'nogroup', gid: 65534, groups: [65534], home: '/' },
};

let expressAvailable = true;
try {
  require.resolve('express');
} catch {
  expressAvailable = false;
}

beforeAll(() => {
  if (!fs.existsSync(PRELOAD_PATH)) {
    throw new Error(`${PRELOAD_PATH} is missing: run "npm run build" before these tests`);
  }
});

interface RunningApp {
  child: ChildProcess;
  channel: RouterChannel;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stderr: () => string;
}

const running: RunningApp[] = [];
afterEach(async () => {
  for (const app of running.splice(0)) {
    if (app.child.exitCode === null && app.child.signalCode === null) app.child.kill('SIGKILL');
    await app.exited;
    app.channel.close();
  }
});

/** What the supervisor does with a LaunchSpec (without isolation): spawn with the channel's fds and env. */
async function start(spec: LaunchSpec, ids?: { uid: number; gid: number }): Promise<RunningApp> {
  const channel = RouterChannel.create();
  const child = spawn(spec.executable, spec.argv.slice(1), {
    ...ids,
    argv0: spec.argv[0],
    cwd: spec.cwd,
    env: { ...spec.env, ...channel.env() },
    stdio: ['ignore', 'pipe', 'pipe', ...channel.fds],
  });
  channel.closeChildFds();
  let err = '';
  child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
  child.stdout!.resume();
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const app = { child, channel, exited, stderr: () => err };
  running.push(app);
  await Promise.race([
    channel.ready,
    exited.then(({ code, signal }) => {
      throw new Error(`app exited (${code ?? signal}) before READY: ${err}`);
    }),
  ]);
  return app;
}

interface Answer {
  status: number;
  headers: string[];
  body: Buffer;
  /** Body bytes received before the response ended, per 'data' event. */
  chunks: Buffer[];
}

function header(a: Answer, name: string): string | undefined {
  for (let i = 0; i < a.headers.length; i += 2) if (a.headers[i].toLowerCase() === name) return a.headers[i + 1];
  return undefined;
}

function send(channel: RouterChannel, method: string, target: string, body?: Buffer, headers: string[] = []): RouterStream {
  const stream = channel.request({
    method,
    target,
    httpVersion: '1.1',
    headers: ['Host', 'app.test', ...headers],
    remoteAddress: '203.0.113.9',
    remotePort: 50123,
    localAddress: '127.0.0.1',
    localPort: 8080,
    tls: false,
    contentLength: body ? body.length : 0,
  });
  void (async () => {
    if (body) {
      for (let off = 0; off < body.length; off += 65536) {
        if (!stream.writeBody(body.subarray(off, off + 65536))) await once(stream, 'drain');
      }
    }
    stream.endBody();
  })().catch(() => undefined);
  return stream;
}

function collect(stream: RouterStream): Promise<Answer> {
  return new Promise((resolve, reject) => {
    let status = 0;
    let headers: string[] = [];
    const chunks: Buffer[] = [];
    stream.on('response', (s: number, h: string[]) => {
      status = s;
      headers = h;
    });
    stream.on('data', (c: Buffer) => chunks.push(Buffer.from(c)));
    stream.on('end', () => resolve({ status, headers, body: Buffer.concat(chunks), chunks }));
    stream.on('error', reject);
  });
}

const roundTrip = (channel: RouterChannel, method: string, target: string, body?: Buffer, headers?: string[]) =>
  collect(send(channel, method, target, body, headers));

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

async function exercise(app: RunningApp, kind: string): Promise<void> {
  const hello = await roundTrip(app.channel, 'GET', '/hello');
  expect(hello.status).toBe(200);
  expect(hello.body.toString()).toBe(`hello from ${kind} ${app.child.pid}\n`);
  expect(header(hello, 'x-app')).toBe(kind);

  const body = randomBytes(1 << 20);
  const sum = await roundTrip(app.channel, 'POST', '/sum', body, ['Content-Length', String(body.length)]);
  expect(JSON.parse(sum.body.toString())).toEqual({ bytes: body.length, sha256: sha256(body) });

  const empty = await roundTrip(app.channel, 'POST', '/sum', Buffer.alloc(0), ['Content-Length', '0']);
  expect(JSON.parse(empty.body.toString())).toEqual({ bytes: 0, sha256: sha256(Buffer.alloc(0)) });

  // Streaming: the first chunk arrives while the handler still holds the response open.
  const streaming = send(app.channel, 'GET', '/stream');
  const answer = collect(streaming);
  const [first] = (await once(streaming, 'data')) as [Buffer];
  expect(first.toString()).toBe('first;');
  const released = await roundTrip(app.channel, 'GET', '/release');
  expect(released.body.toString()).toBe('released');
  const streamed = await answer;
  expect(streamed.body.toString()).toBe('first;last');
  expect(header(streamed, 'content-length')).toBeUndefined();
}

async function shutdownCleanly(app: RunningApp): Promise<void> {
  app.channel.shutdown();
  const { code } = await app.exited;
  expect(code).toBe(0);
}

describe('Node apps over the real channel', () => {
  it('serves an unmodified CommonJS http.createServer app started by the node launcher', async () => {
    const app = await start(new NodeLauncher().launch({ type: 'node', script: 'hello-cjs.js', working_directory: FIXTURES }, ctx));
    await exercise(app, 'cjs');

    const info = JSON.parse((await roundTrip(app.channel, 'GET', '/info?x=1', undefined, ['X-Multi', 'a', 'X-Multi', 'b'])).body.toString());
    expect(info).toMatchObject({
      method: 'GET',
      url: '/info?x=1',
      httpVersion: '1.1',
      headers: { host: 'app.test', 'x-multi': 'a, b' },
      remoteAddress: '203.0.113.9',
      remotePort: 50123,
      listening: true,
      // Taken out of the environment so that the app's own children do not try to open the channel.
      channelEnv: null,
    });
    expect(info.address).toEqual({ address: '::', family: 'IPv6', port: 0 });

    // 4 MiB response written with back-pressure.
    const big = await roundTrip(app.channel, 'GET', '/big');
    expect(big.body.length).toBe(4 << 20);

    // Concurrent requests on one process.
    const many = await Promise.all(Array.from({ length: 20 }, () => roundTrip(app.channel, 'GET', '/hello')));
    expect(many.every((a) => a.status === 200)).toBe(true);
    await shutdownCleanly(app);
  });

  const root = process.getuid?.() === 0;
  (root ? it : it.skip)('serves the app when it runs as an unprivileged user, as wardend started as root does (requires root)', async () => {
    const app = await start(new NodeLauncher().launch({ type: 'node', script: 'hello-cjs.js', working_directory: FIXTURES }, ctx), { uid: 65534, gid: 65534 });
    await exercise(app, 'cjs');
    await shutdownCleanly(app);
  });

  it('serves an unmodified ES module app with the same preload (no loader needed)', async () => {
    const app = await start(new NodeLauncher().launch({ type: 'node', script: 'hello-esm.mjs', working_directory: FIXTURES }, ctx));
    await exercise(app, 'esm');
    await shutdownCleanly(app);
  });

  it('serves the same app as an external app with --require <preload> in its arguments', async () => {
    const spec = new ExternalLauncher().launch(
      {
        type: 'external',
        executable: process.execPath,
        arguments: ['--require', PRELOAD_PATH, 'hello-cjs.js'],
        working_directory: FIXTURES,
      },
      ctx,
    );
    const app = await start(spec);
    await exercise(app, 'cjs');
    await shutdownCleanly(app);
  });

  it('serves an app that uses the explicit module @warden/app-types/http without the preload', async () => {
    const app = await start({
      executable: process.execPath,
      argv: [process.execPath, 'explicit-module.js'],
      env: {},
      cwd: FIXTURES,
    });
    const a = await roundTrip(app.channel, 'DELETE', '/x?y');
    expect(a.body.toString()).toBe('explicit DELETE /x?y\n');
    await shutdownCleanly(app);
  });

  (expressAvailable ? it : it.skip)('serves an unmodified express app', async () => {
    const app = await start(new NodeLauncher().launch({ type: 'node', script: 'hello-express.js', working_directory: FIXTURES }, ctx));
    await exercise(app, 'express');
    const info = JSON.parse((await roundTrip(app.channel, 'GET', '/info?q=1')).body.toString());
    expect(info).toEqual({ ip: '203.0.113.9', protocol: 'http', hostname: 'app.test', query: { q: '1' } });
    const json = await roundTrip(app.channel, 'POST', '/json', Buffer.from('{"a":[1,2]}'), ['Content-Type', 'application/json', 'Content-Length', '11']);
    expect(json.status).toBe(201);
    expect(JSON.parse(json.body.toString())).toEqual({ got: { a: [1, 2] } });
    await shutdownCleanly(app);
  });

  it('a client abort reaches the app as a closed response', async () => {
    const app = await start(new NodeLauncher().launch({ type: 'node', script: 'hello-cjs.js', working_directory: FIXTURES }, ctx));
    const held = send(app.channel, 'GET', '/stream');
    held.on('error', () => undefined);
    await once(held, 'data');
    held.abort();
    const stats = JSON.parse((await roundTrip(app.channel, 'GET', '/wait-closed-early')).body.toString());
    expect(stats).toEqual({ closedEarly: 1 });
    await shutdownCleanly(app);
  });

  it('an app that closes its server ends by itself: the channel does not keep it alive', async () => {
    const app = await start(new NodeLauncher().launch({ type: 'node', script: 'hello-cjs.js', working_directory: FIXTURES }, ctx));
    const routerSawClose = once(app.channel, 'close');
    expect((await roundTrip(app.channel, 'GET', '/close')).body.toString()).toBe('closing');
    expect((await app.exited).code).toBe(0);
    await routerSawClose;
  });

  it('a crashing app fails its requests instead of hanging the router', async () => {
    const app = await start(new NodeLauncher().launch({ type: 'node', script: 'hello-cjs.js', working_directory: FIXTURES }, ctx));
    const held = collect(send(app.channel, 'GET', '/stream'));
    const crash = collect(send(app.channel, 'GET', '/crash'));
    await expect(crash).rejects.toBeInstanceOf(Error);
    await expect(held).rejects.toBeInstanceOf(Error);
    const { code } = await app.exited;
    expect(code).not.toBe(0);
    expect(app.stderr()).toContain('fixture crash on purpose');
  });

  it('a broken WARDEN_CHANNEL makes listen() emit a clear error instead of listening', async () => {
    const child = spawn(process.execPath, ['--require', PRELOAD_PATH, 'hello-cjs.js'], {
      cwd: FIXTURES,
      env: { WARDEN_CHANNEL: 'v1:fds=nonsense' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let err = '';
    child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
    const [code] = (await once(child, 'exit')) as [number | null];
    expect(code).not.toBe(0);
    expect(err).toContain('WARDEN_ERR_NODE_CHANNEL');
    expect(err).toContain('Cannot open the Warden channel');
  });

  it('outside wardend the preload changes nothing: the app listens on a real port', async () => {
    const child = spawn(process.execPath, ['--require', PRELOAD_PATH, 'hello-cjs.js'], {
      cwd: FIXTURES,
      env: { PORT: '0' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const exited = once(child, 'exit');
    try {
      let out = '';
      const port = await new Promise<number>((resolve, reject) => {
        child.stdout!.on('data', (c: Buffer) => {
          out += c.toString();
          const m = /listening (\d+)/.exec(out);
          if (m) resolve(Number(m[1]));
        });
        child.once('exit', () => reject(new Error(`app exited: ${out}`)));
      });
      expect(port).toBeGreaterThan(0);
      const body = await new Promise<string>((resolve, reject) => {
        http
          .get({ host: '127.0.0.1', port, path: '/hello' }, (res) => {
            let b = '';
            res.on('data', (c) => (b += c));
            res.on('end', () => resolve(b));
          })
          .on('error', reject);
      });
      expect(body).toBe(`hello from cjs ${child.pid}\n`);
    } finally {
      child.kill();
      await exited;
    }
  });
});
