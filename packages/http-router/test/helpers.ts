import { request, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'http';
import { mkdtempSync, readFileSync, rmSync } from 'fs';
import { connect, type Socket } from 'net';
import { tmpdir } from 'os';
import { join } from 'path';
import { HttpRouter, type ApplicationGateway, type RequestInfo, type RouterConfig, type RouterConfigError } from '../src';

/** A gateway that answers with what it was asked, as JSON. */
export class EchoGateway implements ApplicationGateway {
  calls = 0;
  handle(app: string, target: string | undefined, req: IncomingMessage, res: ServerResponse, info: RequestInfo): void {
    this.calls++;
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = JSON.stringify({ app, target, url: req.url, method: req.method, info, headers: req.headers, body: Buffer.concat(chunks).toString() });
      res.writeHead(200, ['Content-Type', 'application/json', 'X-App', app]);
      res.end(body);
    });
  }
}

export interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** One HTTP request over a fresh connection. */
export function fetchText(
  port: number,
  path: string,
  opts: { method?: string; headers?: Record<string, string>; body?: string | Buffer; host?: string; agent?: import('http').Agent | false } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: opts.host ?? '127.0.0.1', port, path, method: opts.method ?? 'GET', headers: opts.headers, agent: opts.agent ?? false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(opts.body);
  });
}

/** Sends raw bytes and resolves with everything the server wrote before closing. */
export function rawRequest(port: number, data: string | Buffer, host = '127.0.0.1', halfClose = false): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = connect(port, host);
    const chunks: Buffer[] = [];
    sock.on('data', (c) => chunks.push(c));
    sock.on('error', reject);
    sock.on('close', () => resolve(Buffer.concat(chunks).toString('latin1')));
    if (halfClose) sock.end(data);
    else sock.write(data);
  });
}

/**
 * Sends `rounds` requests made of 1..maxPieces random `pieces` (a fixed-seed generator, so runs repeat) plus a
 * final CRLF CRLF, each on its own half-closed connection; connection errors are expected and ignored.
 */
export async function sendRandomRequests(port: number, pieces: string[], seed: number, rounds: number, maxPieces: number): Promise<void> {
  const rnd = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff);
  for (let i = 0; i < rounds; i++) {
    let s = '';
    const n = 1 + (rnd() % maxPieces);
    for (let k = 0; k < n; k++) s += pieces[rnd() % pieces.length];
    await rawRequest(port, Buffer.from(s + '\r\n\r\n', 'latin1'), '127.0.0.1', true).catch(() => undefined);
  }
}

/** Starts a router on 127.0.0.1 port 0 with `config` (the listener key is replaced by `127.0.0.1:0`). */
export async function startRouter(
  listener: Record<string, unknown>,
  rest: Omit<RouterConfig, 'listeners'> = {},
  gateway: ApplicationGateway = new EchoGateway(),
): Promise<{ router: HttpRouter; port: number; gateway: ApplicationGateway }> {
  const router = new HttpRouter({ ephemeralPorts: true, gateway });
  const prepared = await router.prepare({
    applications: { app: {}, other: {}, multi: { targets: { front: {}, back: {} } } },
    ...rest,
    listeners: { '127.0.0.1:0': listener },
  });
  await prepared.commit();
  const port = router.addresses()['127.0.0.1:0'].port;
  return { router, port, gateway };
}

/** A key/cert pair from a bundle in test/fixtures/tls (made by make.sh; test-only keys). */
export function tlsFixture(name: string): { key: string; cert: string } {
  const pem = readFileSync(join(__dirname, 'fixtures/tls', `${name}.pem`), 'latin1');
  const blocks = pem.match(/-----BEGIN ([A-Z ]+)-----[\s\S]*?-----END \1-----\n/g) ?? [];
  return { key: blocks.filter((b) => b.includes('PRIVATE KEY')).join(''), cert: blocks.filter((b) => b.includes('CERTIFICATE')).join('') };
}

/**
 * Routers and directories of one test file, closed and removed after each test: `start` (startRouter, kept for
 * closing), `tmpDir` (a new directory), `compileError` (the error a config is refused with by `prepare`).
 */
export function routerScope(prefix: string) {
  const routers: HttpRouter[] = [];
  const dirs: string[] = [];
  afterEach(async () => {
    await Promise.all(routers.splice(0).map((r) => r.close(100)));
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });
  return {
    routers,
    async start(...args: Parameters<typeof startRouter>) {
      const s = await startRouter(...args);
      routers.push(s.router);
      return s;
    },
    tmpDir(): string {
      const dir = mkdtempSync(join(tmpdir(), prefix));
      dirs.push(dir);
      return dir;
    },
    async compileError(config: Parameters<HttpRouter['prepare']>[0]): Promise<RouterConfigError> {
      const router = new HttpRouter({ ephemeralPorts: true, gateway: new EchoGateway() });
      routers.push(router);
      try {
        await router.prepare(config);
      } catch (err) {
        return err as RouterConfigError;
      }
      throw new Error('the config was accepted');
    },
  };
}

/**
 * Connects and sends `head` in two pieces, the first `split` bytes at once and the rest `ms` later (a head that takes
 * that long to arrive); resolves with the socket once the first bytes of the answer came.
 */
export async function slowHead(port: number, head: string, split: number, ms: number): Promise<Socket> {
  const sock = connect(port, '127.0.0.1');
  await new Promise((r) => sock.once('connect', r));
  sock.write(head.slice(0, split));
  await new Promise((r) => setTimeout(r, ms));
  const answered = new Promise((r) => sock.once('data', r));
  sock.write(head.slice(split));
  await answered;
  return sock;
}
