// Apps written for NGINX Unit, run by wardend with their Unit configuration unchanged: Node apps through unit-http
// (`@warden/unit-http`, installed as `unit-http`) and its loaders, a node:http app for contrast, and a Go app that
// imports unit.nginx.org/go with one `replace` line.
import { execFileSync } from 'child_process';
import { appendFileSync, cpSync, mkdirSync, readFileSync, symlinkSync } from 'fs';
import { get as httpsGet } from 'https';
import { createHash, randomBytes } from 'crypto';
import { join } from 'path';
import WebSocket from 'ws';
import { ROOT, cleanup, freePort, haveGo, http, serveGoApp, startWardend, waitUntil, worldDir, type Wardend } from './support/wardend';

const APPS = join(ROOT, 'test/e2e/apps/unit-node');
const UNIT_HTTP = join(ROOT, 'packages/unit-http');
const UNIT_GO_APP = join(ROOT, 'test/e2e/apps/unit-go');
const UNIT_GO_MODULE = join(ROOT, 'packages/app-types/go/unit');
const TLS_FIXTURES = join(ROOT, 'packages/http-router/test/fixtures/tls');
const UNIT_WARNING = 'http.Server constructor was called with unsupported options, using default settings';

let expressAvailable = true;
try {
  require.resolve('express');
} catch {
  expressAvailable = false;
}

/** Unit's documented form of a Node app: `/usr/bin/env node <node args> <script>` in the app's directory. */
function unitNodeApp(dir: string, nodeArgs: string[], script: string) {
  return { type: 'external', working_directory: dir, executable: '/usr/bin/env', arguments: ['node', ...nodeArgs, script] };
}

/** Opens a WebSocket to 127.0.0.1:port/path; rejects with ws's error (e.g. "Unexpected server response: 404"). */
async function wsOpen(port: number, path: string, protocols: string[] = []): Promise<WebSocket> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}${path}`, protocols, { maxPayload: 64 << 20 });
  await new Promise<void>((ok, fail) => {
    ws.once('open', () => ok());
    ws.once('error', fail);
  });
  return ws;
}

/** The close code and reason the client saw. */
function wsClosed(ws: WebSocket): Promise<[number, string]> {
  return new Promise((resolve) => ws.once('close', (code: number, reason: Buffer) => resolve([code, reason.toString()])));
}

describe('Node apps written for Unit (unit-http) served by wardend', () => {
  let dir: string;
  let app: string;
  let w: Wardend;
  const ports: Record<string, number> = {};

  beforeAll(async () => {
    dir = worldDir('warden-unit-app-');
    // The app's directory as a Unit user has it: the app's files and node_modules/unit-http (here a link to this
    // repository's package, as `npm install unit-http@npm:@warden/unit-http` would install it).
    app = join(dir, 'app');
    cpSync(APPS, app, { recursive: true });
    mkdirSync(join(app, 'node_modules'));
    symlinkSync(UNIT_HTTP, join(app, 'node_modules/unit-http'));
    if (expressAvailable) symlinkSync(join(ROOT, 'node_modules/express'), join(app, 'node_modules/express'));
    w = await startWardend([], dir);
    const apps: Record<string, object> = {
      cjs: unitNodeApp(app, ['--require', 'unit-http/loader'], 'app.js'),
      esm: unitNodeApp(app, ['--loader', 'unit-http/loader.mjs', '--require', 'unit-http/loader'], 'app.mjs'),
      explicit: unitNodeApp(app, [], 'explicit.js'),
      shebang: { type: 'external', working_directory: app, executable: 'explicit.js' },
      'node-http': { type: 'node', working_directory: app, script: 'node-http.js' },
      'ws-mirror': unitNodeApp(app, ['--require', 'unit-http/loader'], 'ws-mirror.js'),
      'ws-explicit': unitNodeApp(app, [], 'ws-explicit.js'),
    };
    if (expressAvailable) apps.express = unitNodeApp(app, ['--require', 'unit-http/loader'], 'express-app.js');
    for (const name of Object.keys(apps)) ports[name] = await freePort();
    const res = await w.control('PUT', '/config', {
      listeners: Object.fromEntries(Object.entries(ports).map(([n, p]) => [`127.0.0.1:${p}`, { pass: `applications/${n}` }])),
      applications: apps,
      // Frames of up to 8 MiB pass the router (Unit's default, 1 MiB, would close the 4 MiB one below with 1009).
      settings: { http: { websocket: { max_frame_size: 8 << 20 } } },
    });
    expect(res).toEqual({ status: 200, body: { success: 'Reconfiguration done.' } });
  });
  afterAll(async () => {
    await w?.stop();
    cleanup(dir);
  });

  it('serves a CommonJS app started with --require unit-http/loader, whose require("http") is unit-http', async () => {
    const res = await http(ports.cjs, '/hello');
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body.toString())).toMatchObject({ kind: 'cjs', loaderSubstitutesHttp: true });
  });

  it('serves an ES module app started with --loader unit-http/loader.mjs, whose import from "http" is unit-http', async () => {
    const res = await http(ports.esm, '/hello');
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body.toString())).toMatchObject({ kind: 'esm', loaderSubstitutesHttp: true });
  });

  it('serves an app that calls require("unit-http") itself, without a loader', async () => {
    const res = await http(ports.explicit, '/hello');
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body.toString())).toMatchObject({ kind: 'explicit', httpIsNode: true });
  });

  it('serves an app whose executable is the script itself, started through its #!/usr/bin/env node line', async () => {
    const res = await http(ports.shebang, '/hello');
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body.toString())).toMatchObject({ kind: 'explicit', httpIsNode: true });
  });

  it("logs Unit's warning when createServer is given options", async () => {
    await w.waitForLog(new RegExp(UNIT_WARNING));
  });

  it.each(['cjs', 'esm', 'explicit'])('%s: write() before writeHead() sends the body with the head of the first write, as Unit does', async (name) => {
    const res = await http(ports[name], '/write-then-writehead');
    expect(res.status).toBe(200);
    expect(res.headers['x-late']).toBeUndefined();
    expect(res.body.toString()).toBe('a;b');
  });

  it.each(['cjs', 'esm', 'explicit'])('%s: writeHead() after end() is ignored and the app keeps serving', async (name) => {
    const res = await http(ports[name], '/writehead-after-end');
    expect(res.status).toBe(200);
    expect(res.headers['x-late']).toBeUndefined();
    expect(res.body.toString()).toBe('ended');
    expect((await http(ports[name], '/hello')).status).toBe(200);
  });

  it.each(['cjs', 'esm', 'explicit'])('%s: writeHead() twice and setHeader() after writeHead() merge into the head, as Unit does', async (name) => {
    const res = await http(ports[name], '/writehead-twice');
    expect(res.status).toBe(201);
    expect([res.headers['x-first'], res.headers['x-second'], res.headers['x-third']]).toEqual(['1', '2', '3']);
    expect(res.body.toString()).toBe('twice');
  });

  it('a node:http app keeps node:http behaviour: each late header call throws ERR_HTTP_HEADERS_SENT', async () => {
    const port = ports['node-http'];
    const late = await http(port, '/write-then-writehead');
    expect([late.status, late.body.toString()]).toEqual([200, 'a;b']);
    await http(port, '/writehead-after-end');
    const twice = await http(port, '/writehead-twice');
    expect([twice.status, twice.headers['x-first'], twice.headers['x-second']]).toEqual([404, '1', undefined]);
    const errors = JSON.parse((await http(port, '/errors')).body.toString());
    expect(errors).toEqual(['ERR_HTTP_HEADERS_SENT', 'ERR_HTTP_HEADERS_SENT', 'ERR_HTTP_HEADERS_SENT', 'ERR_HTTP_HEADERS_SENT']);
  });

  it("unit-http/websocket under the loader (Unit's mirror test app): text and binary messages, 4 MiB, a subprotocol", async () => {
    const ws = await wsOpen(ports['ws-mirror'], '/', ['chat', 'mirror']);
    expect(ws.protocol).toBe('mirror');
    const big = randomBytes(4 << 20);
    const got: Array<[string, boolean]> = [];
    ws.on('message', (data: Buffer, isBinary: boolean) => got.push([createHash('sha256').update(data).digest('hex'), isBinary]));
    ws.send('héllo');
    ws.send(Buffer.from([0, 1, 2, 255]));
    ws.send(big);
    await waitUntil(() => got.length === 3, 'three echoed messages');
    const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');
    expect(got).toEqual([
      [sha('héllo'), false],
      [sha(Buffer.from([0, 1, 2, 255])), true],
      [sha(big), true],
    ]);
    const pong = new Promise<Buffer>((resolve) => ws.once('pong', resolve));
    ws.ping('are you there');
    expect((await pong).toString()).toBe('are you there');
    // Answered with 1000 and no reason, as Unit's module answers a client's close.
    ws.close(4000, 'done');
    expect(await wsClosed(ws)).toEqual([1000, '']);
  });

  it('unit-http/websocket: the app closes with its code and reason; the client sees them', async () => {
    const ws = await wsOpen(ports['ws-mirror'], '/');
    ws.send('close 4001 bye now');
    expect(await wsClosed(ws)).toEqual([4001, 'bye now']);
  });

  it('unit-http/websocket required by name: its router accepts /chat only; frames are limited by the router, fragmented messages by the app (1009)', async () => {
    const plain = await http(ports['ws-explicit'], '/');
    expect([plain.status, plain.body.toString()]).toEqual([200, 'plain http\n']);
    await expect(wsOpen(ports['ws-explicit'], '/elsewhere')).rejects.toThrow(/Unexpected server response: 404/);
    const ws = await wsOpen(ports['ws-explicit'], '/chat');
    const reply = new Promise<string>((resolve) => ws.once('message', (d: Buffer) => resolve(d.toString())));
    ws.send('hi');
    expect(await reply).toBe('chat: hi');
    // One 2 MiB frame: within the router's max_frame_size (8 MiB here); the module leaves frame sizes to the router.
    const big = new Promise<string>((resolve) => ws.once('message', (d: Buffer) => resolve(d.toString())));
    ws.send(Buffer.alloc(2 << 20));
    expect(await big).toBe('chat: 2097152 bytes');
    // The same 2 MiB in 32 fragments: over the module's default maxReceivedMessageSize (1 MiB).
    for (let i = 0; i < 32; i++) ws.send(Buffer.alloc(64 << 10), { fin: i === 31, binary: true });
    expect(await wsClosed(ws)).toEqual([1009, 'Maximum message size exceeded.']);
  });

  (expressAvailable ? it : it.skip)("serves an express app through the loader with a unit-http server and Unit's tolerance", async () => {
    const hello = await http(ports.express, '/hello');
    expect(JSON.parse(hello.body.toString())).toEqual({ kind: 'express', unitServer: true });
    const late = await http(ports.express, '/write-then-writehead');
    expect([late.status, late.body.toString()]).toEqual([200, 'a;b']);
  });
});

const describeGo = haveGo() ? describe : describe.skip;
if (!haveGo()) console.warn('unit-app Go e2e skipped: `go` is not installed (scripts/setup.sh installs golang-go)');

describeGo('a Go app written for Unit (unit.nginx.org/go) served by wardend', () => {
  let dir: string;
  let w: Wardend;
  let port: number;

  beforeAll(async () => {
    dir = worldDir('warden-unit-go-');
    const src = join(dir, 'src');
    cpSync(UNIT_GO_APP, src, { recursive: true });
    // The one change a Unit user makes.
    appendFileSync(join(src, 'go.mod'), `\nreplace unit.nginx.org/go => ${UNIT_GO_MODULE}\n`);
    ({ w, port } = await serveGoApp(dir, src, 'unit-go'));
  });
  afterAll(async () => {
    await w?.stop();
    cleanup(dir);
  });

  it("builds with a replace line only and answers through wardend, with Unit's default Content-Type and URL scheme", async () => {
    const res = await http(port, '/hello');
    expect(res.status).toBe(200);
    expect(res.body.toString()).toBe('Hello from a Unit Go app: GET /hello (http)\n');
    expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
  });

  it('sets r.URL.Scheme to https behind a TLS listener, as Unit does', async () => {
    expect((await w.control('PUT', '/certificates/b', readFileSync(join(TLS_FIXTURES, 'b.pem'), 'latin1'))).status).toBe(200);
    const tlsPort = await freePort();
    const put = await w.control('PUT', `/config/listeners/127.0.0.1:${tlsPort}`, { pass: 'applications/unit-go', tls: { certificate: 'b' } });
    expect(put.status).toBe(200);
    const body = await new Promise<string>((ok, fail) => {
      const ca = readFileSync(join(TLS_FIXTURES, 'ca.pem'));
      httpsGet({ host: '127.0.0.1', port: tlsPort, path: '/tls', ca, servername: 'b.example.test', agent: false }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => ok(text));
      }).on('error', fail);
    });
    expect(body).toBe('Hello from a Unit Go app: GET /tls (https)\n');
  });

  it('round-trips a 1 MiB request body', async () => {
    const body = randomBytes(1 << 20);
    const res = await http(port, '/echo', { method: 'POST', body });
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('application/octet-stream');
    expect(createHash('sha256').update(res.body).digest('hex')).toBe(createHash('sha256').update(body).digest('hex'));
  });

  it("links every file of Warden's Go packages into the unit.nginx.org/go module (its go test)", () => {
    execFileSync('go', ['test', '-count=1', '.'], {
      cwd: UNIT_GO_MODULE,
      env: { ...process.env, GOFLAGS: '-mod=mod', GOPROXY: 'off', GOTOOLCHAIN: 'local', CGO_ENABLED: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  });
});
