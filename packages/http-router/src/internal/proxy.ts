import { request, type Agent, type IncomingMessage, type OutgoingHttpHeaders, type ServerResponse } from 'http';
import type { Socket } from 'net';
import type { HttpSettings, ProxyTarget } from './compiled-config';
import { sendError, unitReason } from './error-page';
import type { RouterLogger } from './ports';
import type { NodeRequestContext } from './request-context';
import { spliceSockets, switchingHead, upgradeOf } from './upgrade';

/** Hop-by-hop fields (RFC 9110 §7.6.1) never forwarded in either direction. */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

/** The header fields named by the Connection header are hop-by-hop too. */
function connectionTokens(v: string | string[] | undefined): Set<string> | null {
  if (v === undefined) return null;
  const text = Array.isArray(v) ? v.join(',') : v;
  const set = new Set<string>();
  for (const t of text.split(',')) {
    const n = t.trim().toLowerCase();
    if (n) set.add(n);
  }
  return set;
}

/** The fields of `raw` (a flat list) without hop-by-hop ones, those in `extra`, and `Server` when `noServer`. */
function filterRaw(raw: string[], extra: Set<string> | null, noServer = false): string[] {
  const out: string[] = [];
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const n = raw[i].toLowerCase();
    if (HOP_BY_HOP.has(n) || (extra !== null && extra.has(n)) || (noServer && n === 'server')) continue;
    out.push(raw[i], raw[i + 1]);
  }
  return out;
}

/** `host:port` as a Host field names it (an IPv6 address in brackets). */
function authority(host: string, port: number): string {
  return `${host.includes(':') ? `[${host}]` : host}:${port}`;
}

/** The `Via` pseudonym a Warden proxy adds (RFC 9110 §7.6.3); counted to find loops. */
const VIA_NAME = 'warden';
/** The largest upstream response head taken, as Unit's `proxy_header_buffer_size` (64 KiB); larger is a 502. */
const UPSTREAM_HEAD_MAX = 64 * 1024;

/**
 * A request that already went through this many Warden proxies is answered 508 instead of being forwarded again:
 * a route that proxies to itself (or two that proxy to each other) stops after this many hops.
 */
export const MAX_PROXY_HOPS = 10;

/** Number of `Via` entries whose received-by name is {@link VIA_NAME}. */
export function proxyHops(via: string | string[] | undefined): number {
  if (via === undefined) return 0;
  const text = Array.isArray(via) ? via.join(',') : via;
  if (text.indexOf(VIA_NAME) === -1) return 0;
  let n = 0;
  for (const entry of text.split(',')) {
    const words = entry.trim().split(/[ \t]+/);
    if (words.length >= 2 && words[1].toLowerCase() === VIA_NAME) n++;
  }
  return n;
}

type TimeoutPhase = 'connect' | 'send' | 'read';

/**
 * Forwards the request to `target` (TCP or unix socket) over a keep-alive agent and streams both bodies with
 * backpressure; hop-by-hop fields are removed both ways and `Via` gets this hop. A target that cannot be reached
 * gives 502; one that does not connect, take the request or answer within the `proxy_*_timeout` settings gives 504
 * (or a cut connection once the response started); a request that already passed {@link MAX_PROXY_HOPS} Warden
 * proxies gives 508.
 */
/**
 * Ends a response the upstream cut short: the bytes written so far go out, then the client's connection closes
 * without the response's end (no last chunk), so the client cannot take it for complete.
 */
function cut(res: ServerResponse): void {
  const sock = res.socket;
  if (res.writableEnded || sock === null || sock.destroyed) {
    if (!res.writableEnded) res.destroy();
    return;
  }
  sock.end();
}

export function proxyRequest(ctx: NodeRequestContext, target: ProxyTarget, agent: Agent, s: HttpSettings, log: RouterLogger): void {
  const req = ctx.req;
  const res = ctx.res;
  const hops = proxyHops(req.headers.via);
  if (hops >= MAX_PROXY_HOPS) {
    log.warn({ proxy: target.text, hops }, 'proxy loop: the request already passed through too many Warden proxies (508)');
    sendError(res, 508);
    return;
  }
  const headers: OutgoingHttpHeaders = {};
  const extra = connectionTokens(req.headers.connection);
  const raw = req.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const n = raw[i].toLowerCase();
    if (HOP_BY_HOP.has(n) || (extra !== null && extra.has(n))) continue;
    const prev = headers[n];
    headers[n] = prev === undefined ? raw[i + 1] : `${String(prev)}${n === 'cookie' ? '; ' : ', '}${raw[i + 1]}`;
  }
  // A request without Host (HTTP/1.0) goes upstream as HTTP/1.1, which needs one: the upstream's address, as nginx
  // sends by default (Unit's HTTP/1.0 upstream request may omit it; a strict HTTP/1.1 upstream answers 400 without).
  if (headers.host === undefined) headers.host = target.socketPath !== undefined ? 'localhost' : authority(target.host, target.port);
  const via = `${req.httpVersion} ${VIA_NAME}`;
  headers.via = headers.via === undefined ? via : `${String(headers.via)}, ${via}`;
  const upgrade = upgradeOf(req);
  if (upgrade !== null) {
    // The upgrade goes on to the upstream (its hop-by-hop fields are this hop's request to switch).
    headers.connection = 'upgrade';
    headers.upgrade = req.headers.upgrade;
  }
  const chunked = req.headers['transfer-encoding'] !== undefined && req.headers['content-length'] === undefined;
  if (chunked) headers['transfer-encoding'] = 'chunked';
  const preq = request({
    host: target.socketPath ? undefined : target.host,
    port: target.socketPath ? undefined : target.port,
    socketPath: target.socketPath,
    method: req.method,
    path: ctx.target,
    headers,
    agent,
    setHost: false,
    maxHeaderSize: UPSTREAM_HEAD_MAX,
  });
  let finished = false;
  let timedOut: TimeoutPhase | null = null;
  const expire = (phase: TimeoutPhase) => {
    timedOut = phase;
    preq.destroy();
  };
  if (s.proxyConnectTimeout > 0) {
    preq.once('socket', (sock: Socket) => {
      if (!sock.connecting) return; // a kept-alive connection
      const timer = setTimeout(expire, s.proxyConnectTimeout, 'connect');
      const clear = () => clearTimeout(timer);
      sock.once('connect', clear);
      sock.once('close', clear);
    });
  }
  // Socket inactivity (node:http arms it once connected): send_timeout while the request goes out, then
  // read_timeout until the response is complete.
  let phase: TimeoutPhase = 'send';
  preq.setTimeout(s.proxySendTimeout);
  preq.once('finish', () => {
    phase = 'read';
    preq.setTimeout(s.proxyReadTimeout);
  });
  preq.on('timeout', () => expire(phase));
  if (upgrade !== null) {
    preq.on('upgrade', (pres: IncomingMessage, psock: Socket, phead: Buffer) => {
      const head = finished ? null : switchingHead(pres.statusCode ?? 101, pres.statusMessage, pres.rawHeaders);
      if (head === null) {
        psock.destroy();
        if (!finished) sendError(res, 502);
        return;
      }
      finished = true;
      res.statusCode = 101;
      const client = upgrade.socket;
      client.write(head);
      if (phead.length > 0) client.write(phead);
      if (upgrade.head.length > 0) psock.write(upgrade.head);
      spliceSockets(client, psock);
    });
  }
  let headOut = false;
  preq.on('response', (pres: IncomingMessage) => {
    if (finished) {
      pres.resume();
      return;
    }
    // A body cut short (the upstream closed or failed mid-body): what came goes out, then the connection is cut, so
    // that the client cannot take it for complete.
    let cutShort = false;
    pres.on('error', () => {
      if (headOut) cut(res);
      else cutShort = true;
    });
    // As Unit, which parses the upstream's head and the body bytes read with it before it answers: a body already
    // malformed there is a 502 (preq's 'error'), not a dropped connection. The head goes out on the next turn.
    setImmediate(() => {
      if (finished) {
        pres.destroy();
        return;
      }
      // The upstream's `Server` gives way to ours, as in Unit (nxt_h1p_peer_fields: the peer's Server is skipped).
      const rawOut = filterRaw(pres.rawHeaders, connectionTokens(pres.headers.connection), true);
      try {
        // Unit writes its own status line (nxt_h1p_request_header_send): the upstream's reason phrase is not kept.
        res.writeHead(pres.statusCode ?? 502, unitReason(pres.statusCode ?? 502), rawOut);
      } catch (err) {
        log.warn({ err, proxy: target.text }, 'proxy response head rejected');
        pres.destroy();
        sendError(res, 502);
        return;
      }
      headOut = true;
      if (!cutShort) {
        pres.pipe(res);
        return;
      }
      for (let c = pres.read() as Buffer | null; c !== null; c = pres.read() as Buffer | null) res.write(c);
      cut(res);
    });
  });
  preq.on('error', (err) => {
    if (finished) return;
    if (headOut) {
      cut(res); // the response is going out: it ends where the upstream failed
      return;
    }
    finished = true;
    if (timedOut !== null) {
      log.warn({ proxy: target.text, timeout: `proxy_${timedOut}_timeout` }, `proxy upstream timed out (${timedOut})`);
      sendError(res, 504); // drops the connection when the response already started
    } else {
      log.debug({ err, proxy: target.text }, 'proxy upstream failed');
      sendError(res, 502);
    }
  });
  res.on('close', () => {
    finished = true;
    if (!res.writableFinished) preq.destroy();
  });
  req.pipe(preq);
}
