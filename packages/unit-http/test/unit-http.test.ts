import { execFileSync } from 'child_process';
import { existsSync } from 'fs';
import * as nodeHttp from 'http';
import type { AddressInfo } from 'net';
import * as path from 'path';
import * as unitHttp from '../src/http';

const DIST = path.join(__dirname, '..', 'dist');
const UNIT_WARNING = 'http.Server constructor was called with unsupported options, using default settings';

interface Answer {
  status: number;
  headers: nodeHttp.IncomingHttpHeaders;
  body: string;
}

/** Serves one request with `handler` on a unit-http server (outside wardend it listens on a real port). */
async function serveOnce(handler: nodeHttp.RequestListener): Promise<{ answer: Answer; thrown: unknown[] }> {
  const thrown: unknown[] = [];
  const server = unitHttp.createServer((req, res) => {
    try {
      handler(req, res);
    } catch (err) {
      thrown.push(err);
      if (!res.writableEnded) res.end();
    }
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  try {
    const { port } = server.address() as AddressInfo;
    const answer = await new Promise<Answer>((ok, fail) => {
      nodeHttp
        .get({ host: '127.0.0.1', port, path: '/' }, (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => (body += c));
          res.on('end', () => ok({ status: res.statusCode ?? 0, headers: res.headers, body }));
        })
        .on('error', fail);
    });
    return { answer, thrown };
  } finally {
    await new Promise((ok) => server.close(ok));
  }
}

describe('unit-http responses have Unit semantics', () => {
  it('sends the head of the first write() and ignores a later writeHead()', async () => {
    const { answer, thrown } = await serveOnce((req, res) => {
      res.write('a;');
      res.writeHead(404, { 'X-Late': '1' });
      res.end('b');
    });
    expect(thrown).toEqual([]);
    expect([answer.status, answer.headers['x-late'], answer.body]).toEqual([200, undefined, 'a;b']);
  });

  it('ignores writeHead(), setHeader() and removeHeader() after end()', async () => {
    const { answer, thrown } = await serveOnce((req, res) => {
      res.setHeader('X-Kept', 'yes');
      res.end('ended');
      res.writeHead(500, { 'X-Late': '1' });
      res.setHeader('X-Late', '2');
      res.removeHeader('X-Kept');
      res.appendHeader('X-Late', '3');
    });
    expect(thrown).toEqual([]);
    expect([answer.status, answer.headers['x-kept'], answer.headers['x-late'], answer.body]).toEqual([200, 'yes', undefined, 'ended']);
  });

  it('merges writeHead() called twice and setHeader() after writeHead() into the head sent by end()', async () => {
    const { answer, thrown } = await serveOnce((req, res) => {
      res.writeHead(404, 'Nope', { 'X-First': '1' });
      expect(res.headersSent).toBe(false);
      res.writeHead(201, [['X-Second', '2']] as unknown as nodeHttp.OutgoingHttpHeaders);
      res.setHeader('X-Third', '3');
      res.end('twice');
    });
    expect(thrown).toEqual([]);
    expect(answer.status).toBe(201);
    expect([answer.headers['x-first'], answer.headers['x-second'], answer.headers['x-third']]).toEqual(['1', '2', '3']);
  });

  it('still goes through a writeHead wrapper installed by middleware (on-headers) when the app never calls writeHead', async () => {
    const seen: number[] = [];
    const { answer } = await serveOnce((req, res) => {
      const previous = res.writeHead;
      res.writeHead = function wrapped(this: nodeHttp.ServerResponse, ...args: unknown[]) {
        seen.push(this.statusCode);
        this.setHeader('X-Wrapped', 'yes');
        return (previous as (...a: unknown[]) => nodeHttp.ServerResponse).apply(this, args);
      } as typeof res.writeHead;
      res.statusCode = 202;
      res.end('ok');
    });
    expect(seen).toEqual([202]);
    expect([answer.status, answer.headers['x-wrapped']]).toEqual([202, 'yes']);
  });

  it('keeps node:http validation of header values and status codes', async () => {
    const codes: unknown[] = [];
    await serveOnce((req, res) => {
      for (const bad of [() => res.setHeader('X-Bad', 'a\r\nInjected: 1'), () => res.writeHead(99), () => res.writeHead(1000)]) {
        try {
          bad();
        } catch (err) {
          codes.push((err as { code?: string }).code);
        }
      }
      res.end();
    });
    expect(codes).toEqual(['ERR_INVALID_CHAR', 'ERR_HTTP_INVALID_STATUS_CODE', 'ERR_HTTP_INVALID_STATUS_CODE']);
  });
});

describe('unit-http module', () => {
  let warn: jest.SpyInstance;
  beforeEach(() => (warn = jest.spyOn(console, 'warn').mockImplementation(() => undefined)));
  afterEach(() => warn.mockRestore());

  it("logs Unit's warning and ignores the options when createServer gets options", () => {
    const server = unitHttp.createServer({ keepAliveTimeout: 1 } as never, () => undefined);
    expect(warn.mock.calls).toEqual([[UNIT_WARNING]]);
    expect(server.keepAliveTimeout).not.toBe(1);
    expect(server.listenerCount('request')).toBe(1);
  });

  it('logs nothing for createServer(listener), createServer() and new Server(listener)', () => {
    unitHttp.createServer(() => undefined);
    unitHttp.createServer();
    new unitHttp.Server(() => undefined);
    expect(warn).not.toHaveBeenCalled();
  });

  it("is node:http's module with unit-http's Server, createServer and ServerResponse", () => {
    const names = Object.keys(nodeHttp).filter((k) => k !== 'default'); // `default` is the namespace import's own
    for (const name of names) expect(unitHttp).toHaveProperty(name);
    expect(unitHttp.request).toBe(nodeHttp.request);
    expect(unitHttp.STATUS_CODES).toBe(nodeHttp.STATUS_CODES);
    expect(unitHttp.IncomingMessage).toBe(nodeHttp.IncomingMessage);
    expect(unitHttp.createServer(() => undefined)).toBeInstanceOf(nodeHttp.Server);
    expect(Object.getPrototypeOf(unitHttp.ServerResponse)).toBe(nodeHttp.ServerResponse);
  });
});

describe('unit-http loaders (spawned node, built dist/)', () => {
  beforeAll(() => {
    if (!existsSync(path.join(DIST, 'loader.js'))) throw new Error(`${DIST}/loader.js is missing: run "npm run build" first`);
  });

  const runNode = (args: string[]): string =>
    execFileSync(process.execPath, args, { cwd: path.join(__dirname, '..'), env: { PATH: process.env.PATH ?? '' }, encoding: 'utf8' });

  it('--require loader makes require("http"), require("node:http") and require("unit-http") unit-http', () => {
    const out = runNode([
      '--require',
      path.join(DIST, 'loader.js'),
      '-e',
      `const h = require('http'); console.log(JSON.stringify([h === require('node:http'), h === require('unit-http'), h.createServer === require(${JSON.stringify(path.join(DIST, 'http.js'))}).createServer]))`,
    ]);
    expect(JSON.parse(out)).toEqual([true, true, true]);
  });

  it('changes nothing when the loader is required by code instead of --require', () => {
    const loader = JSON.stringify(path.join(DIST, 'loader.js'));
    const unit = JSON.stringify(path.join(DIST, 'http.js'));
    const out = runNode(['-e', `require(${loader}); console.log(require('http').createServer === require(${unit}).createServer)`]);
    expect(out.trim()).toBe('false');
  });

  it('--loader loader.mjs makes ES imports of "http" and "node:http" unit-http, with named exports', () => {
    const out = runNode([
      '--no-warnings',
      '--loader',
      path.join(__dirname, '..', 'loader.mjs'),
      '--input-type=module',
      '-e',
      `import http, { createServer, request, STATUS_CODES } from 'http'; import * as n from 'node:http';
       const u = (await import(${JSON.stringify(path.join(DIST, 'http.js'))})).default;
       console.log(JSON.stringify([http === u, createServer === u.createServer, n.default === u, typeof request, STATUS_CODES[404]]));`,
    ]);
    expect(JSON.parse(out)).toEqual([true, true, true, 'function', 'Not Found']);
  });

  it('--require loader makes require("websocket") and require("unit-http/websocket") unit-http\'s WebSocket module', () => {
    const out = runNode([
      '--require',
      path.join(DIST, 'loader.js'),
      '-e',
      `const w = require('websocket'); console.log(JSON.stringify([Object.keys(w).sort(), w === require('unit-http/websocket'), w === require(${JSON.stringify(path.join(DIST, 'websocket.js'))}), w.connection.CLOSE_REASON_NORMAL, typeof new w.server({ httpServer: require('http').createServer() }).mount]))`,
    ]);
    expect(JSON.parse(out)).toEqual([['connection', 'frame', 'request', 'router', 'server'], true, true, 1000, 'function']);
  });

  it('--loader loader.mjs resolves an ES import of "websocket" to the WebSocket module, with named exports', () => {
    const out = runNode([
      '--no-warnings',
      '--loader',
      path.join(__dirname, '..', 'loader.mjs'),
      '--input-type=module',
      '-e',
      `import ws, { server, router, frame, request, connection } from 'websocket';
       console.log(JSON.stringify([Object.keys(ws).sort(), server === ws.server, [router, frame, request, connection].every((c) => typeof c === 'function')]));`,
    ]);
    expect(JSON.parse(out)).toEqual([['connection', 'frame', 'request', 'router', 'server'], true, true]);
  });
});
