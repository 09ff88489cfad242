import { chmodSync, chownSync, lstatSync, mkdirSync, unlinkSync } from 'fs';
import { createConnection } from 'net';
import { createServer } from 'http';
import type { IncomingMessage, Server, ServerResponse } from 'http';
import { dirname } from 'path';
import type { Logger } from 'pino';
import { WardenError } from '../contracts';
import { readUserDatabase, resolveCredentials } from '../isolation';
import type { ControlAddress } from './control-address';
import type { ControlApi } from './control-api';
import { errorBody } from './control-error';

export { parseControlAddress } from './control-address';
export type { ControlAddress } from './control-address';

/** How the unix control socket is created (Unit's `--control-mode`, `--control-user`, `--control-group`). */
export interface ControlSocketOptions {
  /** Permission bits, default 0o600. */
  mode?: number;
  user?: string;
  group?: string;
  /** Largest accepted request body in bytes (default 32 MiB). */
  maxBodySize?: number;
}

const DEFAULT_MAX_BODY = 32 * 1024 * 1024;
/** The most of a body over the limit that is read (and dropped) so that its client gets the 413; past it, a reset. */
const DRAIN_MAX = 1024 * 1024 * 1024;

/**
 * Serves a ControlApi over HTTP: every answer is pretty-printed JSON with `Content-Type: application/json`, and the
 * connection is closed after it, as in Unit. The unix socket is created with a restrictive umask and then given
 * its final mode/owner, so it is never more accessible than asked for, even for an instant.
 */
export class ControlServer {
  private server?: Server;
  private unixPath?: string;
  /** The address actually bound (for `IP:0`, the chosen port). */
  boundAddress?: string;

  constructor(
    private readonly api: ControlApi,
    private readonly log: Logger,
    private readonly options: ControlSocketOptions = {},
  ) {}

  /** Binds and starts serving; rejects with WardenError when the address is in use or unusable. */
  async listen(address: ControlAddress): Promise<void> {
    const server = createServer((req, res) => void this.onRequest(req, res));
    // `Expect: 100-continue` (curl's for bodies over 1 MiB): a body over the limit is refused before the client sends
    // it (node:http would answer 100 by itself, and the 413 would then meet a client still sending).
    server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => {
      if (Number(req.headers['content-length'] ?? 0) > this.bodyLimit()) {
        send(res, 413, tooLarge(this.bodyLimit()));
        return;
      }
      res.writeContinue();
      void this.onRequest(req, res);
    });
    server.keepAliveTimeout = 0;
    // One request per connection, as Unit's controller reads one: a request pipelined after it is not run (its change
    // was applied and saved, and its answer lost with the connection that the first answer closes).
    server.maxRequestsPerSocket = 1;
    // A client may shut down its write side once its request is sent (`curl` does not, `nc -N` and scripts do):
    // node:http would then abort the request and end the socket before the answer. With half-open allowed, the answer
    // is written and the connection closed after it (Connection: close), as Unit does.
    (server as Server & { httpAllowHalfOpen: boolean }).httpAllowHalfOpen = true;
    server.headersTimeout = 30_000;
    server.requestTimeout = 120_000;
    this.server = server;
    if (address.kind === 'unix') {
      await prepareSocketPath(address.path);
      const mode = this.options.mode ?? 0o600;
      // bind() happens synchronously inside listen(): the umask only covers this socket's creation.
      const oldMask = process.umask(0o177);
      try {
        await listenOn(server, () => server.listen(address.path));
      } finally {
        process.umask(oldMask);
      }
      this.unixPath = address.path;
      try {
        if (this.options.user !== undefined || this.options.group !== undefined) {
          const uid = this.options.user !== undefined ? resolveCredentials(this.options.user, undefined).uid : -1;
          const gid = this.options.group !== undefined ? lookupGroup(this.options.group) : -1;
          chownSync(address.path, uid, gid);
        }
        chmodSync(address.path, mode);
      } catch (e) {
        await this.close();
        throw new WardenError('WARDEN_ERR_CONTROL_SOCKET', `Cannot set the owner/mode of the control socket ${address.path}: ${(e as Error).message}.`);
      }
      this.boundAddress = `unix:${address.path}`;
    } else {
      if (!/^(127\.|::1$|localhost$)/.test(address.host)) {
        this.log.warn({ host: address.host }, 'the control API listens on a non-loopback address: anyone who can reach it can reconfigure wardend');
      }
      await listenOn(server, () => server.listen(address.port, address.host));
      const a = server.address();
      const port = typeof a === 'object' && a ? a.port : address.port;
      this.boundAddress = address.host.includes(':') ? `[${address.host}]:${port}` : `${address.host}:${port}`;
    }
  }

  /**
   * Stops accepting and removes the unix socket. Requests being handled (a PUT waiting for its apply) get their answer
   * for up to `graceMs`; idle connections, and whatever is still open after the grace, are closed.
   */
  async close(graceMs = 0): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (server) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => server.closeAllConnections(), graceMs);
        server.close(() => {
          clearTimeout(timer);
          resolve();
        });
        server.closeIdleConnections();
      });
    }
    if (this.unixPath) {
      try {
        unlinkSync(this.unixPath);
      } catch {
        /* already gone */
      }
      this.unixPath = undefined;
    }
  }

  private bodyLimit(): number {
    return this.options.maxBodySize ?? DEFAULT_MAX_BODY;
  }

  private async onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const limit = this.bodyLimit();
    const chunks: Buffer[] = [];
    let size = 0;
    // A body over the limit is read to its end and dropped, then refused: a client gets the 413 only if it is not
    // reset while it still sends (past DRAIN_MAX it is, rather than read on).
    let over = Number(req.headers['content-length'] ?? 0) > limit;
    try {
      for await (const chunk of req) {
        size += (chunk as Buffer).length;
        if (size > limit) over = true;
        if (size > DRAIN_MAX) {
          req.destroy();
          return;
        }
        if (!over) chunks.push(chunk as Buffer);
      }
    } catch {
      return; // client went away
    }
    if (over) {
      send(res, 413, tooLarge(limit));
      return;
    }
    const response = await this.api.handle(req.method ?? 'GET', req.url ?? '/', Buffer.concat(chunks));
    this.log.debug({ method: req.method, url: req.url, status: response.status }, 'control request');
    send(res, response.status, response.body, response.contentType);
  }
}

/** The 413 of a body over `limit` bytes. */
function tooLarge(limit: number): unknown {
  return errorBody('Request body is too large.', `WARDEN_ERR_CONTROL_BODY_SIZE: the control API accepts at most ${limit} bytes.`);
}

/** Unit's output: pretty-printed JSON (or a text answer as is), connection closed after the answer. */
function send(res: ServerResponse, status: number, body: unknown, contentType?: string): void {
  const data = Buffer.from(contentType !== undefined ? String(body) : JSON.stringify(body, null, '\t') + '\n');
  res.writeHead(status, {
    'Content-Type': contentType ?? 'application/json',
    'Content-Length': data.length,
    Connection: 'close',
    Server: 'Warden',
  });
  res.end(data);
}

function listenOn(server: Server, start: () => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (e: NodeJS.ErrnoException) => {
      reject(new WardenError('WARDEN_ERR_CONTROL_LISTEN', `Cannot listen on the control address: ${e.message}.`));
    };
    server.once('error', onError);
    server.once('listening', () => {
      server.off('error', onError);
      resolve();
    });
    start();
  });
}

/**
 * Checks a control address before anything else starts: for a unix socket, creates its directory, removes a stale
 * socket left by a killed daemon (nobody accepts on it) and refuses with WARDEN_ERR_CONTROL_IN_USE when another
 * process serves it. `listen()` checks again, so a socket that appears meanwhile is still refused.
 */
export async function claimControlAddress(address: ControlAddress): Promise<void> {
  if (address.kind === 'unix') await prepareSocketPath(address.path);
}

/** Creates the socket's directory; removes a stale socket left by a dead daemon, refuses a live one. */
async function prepareSocketPath(path: string): Promise<void> {
  try {
    mkdirSync(dirname(path), { recursive: true, mode: 0o755 });
  } catch (e) {
    throw new WardenError(
      'WARDEN_ERR_CONTROL_SOCKET',
      `Cannot create the directory of the control socket ${path}: ${(e as Error).message}. Choose another --control.`,
    );
  }
  let st;
  try {
    st = lstatSync(path);
  } catch {
    return;
  }
  if (!st.isSocket()) {
    throw new WardenError('WARDEN_ERR_CONTROL_SOCKET', `The control socket path ${path} exists and is not a socket; remove it or choose another --control.`);
  }
  const alive = await new Promise<boolean>((resolve) => {
    const c = createConnection(path);
    c.once('connect', () => {
      c.destroy();
      resolve(true);
    });
    c.once('error', () => resolve(false));
  });
  if (alive) {
    throw new WardenError(
      'WARDEN_ERR_CONTROL_IN_USE',
      `Another process is already serving the control socket ${path}; stop it first or choose another --control.`,
    );
  }
  unlinkSync(path);
}

function lookupGroup(group: string): number {
  if (/^\d+$/.test(group)) return Number(group);
  const entry = readUserDatabase().group(group);
  if (!entry) throw new Error(`group "${group}" is not found`);
  return entry.gid;
}
