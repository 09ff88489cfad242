import fs from 'fs';
import os from 'os';
import path from 'path';
import { connect, type Socket } from 'net';
import type { ApplicationGateway, HttpRouter } from '../src';
import { EchoGateway, startRouter } from './helpers';
import { LeanGateway } from './lean-gateway';

/**
 * The three ways a request is served: node:http alone (a gateway without the lean method), the lean path (which
 * hands what it does not take to node:http on the same connection), node:http because an access log is configured.
 */
export type PathKind = 'node:http' | 'lean' | 'node:http with access log';
export const PATHS: PathKind[] = ['node:http', 'lean', 'node:http with access log'];

/** Starts routers on one of the PATHS and removes them (and their access logs) in `cleanup()` (call it in afterEach). */
export class PathRouters {
  private readonly routers: HttpRouter[] = [];
  private readonly dirs: string[] = [];

  /** `logFormat`: the access log format of 'node:http with access log'. */
  async start(kind: PathKind, listener: Record<string, unknown>, rest: Parameters<typeof startRouter>[1] = {}, logFormat = '$status $host $uri') {
    const gw: ApplicationGateway & { calls: number; lean?: number } = kind === 'lean' ? new LeanGateway() : new EchoGateway();
    let log: string | null = null;
    if (kind === 'node:http with access log') {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'router-paths-'));
      this.dirs.push(dir);
      log = path.join(dir, 'access.log');
      rest = { ...rest, access_log: { path: log, format: logFormat } };
    }
    const s = await startRouter(listener, rest, gw);
    this.routers.push(s.router);
    /** Requests the app got, on either gateway method. */
    const served = () => gw.calls + (gw.lean ?? 0);
    return { ...s, gw, log, served };
  }

  /** Closes `router` now (its access log is then complete) and forgets it. */
  async close(router: HttpRouter): Promise<void> {
    await router.close(100);
    this.routers.splice(this.routers.indexOf(router), 1);
  }

  async cleanup(): Promise<void> {
    await Promise.all(this.routers.splice(0).map((r) => r.close(100)));
    for (const d of this.dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
  }
}

/**
 * A connection that sent one `GET /` and got its whole response (an EchoGateway or LeanGateway JSON answer), kept
 * alive: `text()` is everything received, `first` the length of that first response, `closed` resolves on close.
 */
export async function keptAliveConnection(port: number): Promise<{ sock: Socket; text: () => string; first: number; closed: Promise<unknown> }> {
  const sock = connect(port, '127.0.0.1');
  let text = '';
  sock.on('data', (d) => (text += d.toString('latin1')));
  const closed = new Promise((r) => sock.on('close', r));
  sock.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
  while (!/\}(\r\n0\r\n\r\n)?$/.test(text)) await new Promise((r) => sock.once('data', r));
  return { sock, text: () => text, first: text.length, closed };
}
