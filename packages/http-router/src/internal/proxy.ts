import { request, type Agent, type IncomingMessage, type OutgoingHttpHeaders } from 'http';
import type { ProxyTarget } from './compiled-config';
import { sendError } from './error-page';
import type { RouterLogger } from './ports';
import type { RequestContext } from './request-context';

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

function filterRaw(raw: string[], extra: Set<string> | null): string[] {
  const out: string[] = [];
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const n = raw[i].toLowerCase();
    if (HOP_BY_HOP.has(n) || (extra !== null && extra.has(n))) continue;
    out.push(raw[i], raw[i + 1]);
  }
  return out;
}

/**
 * Forwards the request to `target` (TCP or unix socket) over a keep-alive agent and streams both bodies with
 * backpressure; hop-by-hop fields are removed both ways. A target that cannot be reached gives 502.
 */
export function proxyRequest(ctx: RequestContext, target: ProxyTarget, agent: Agent, log: RouterLogger): void {
  const req = ctx.req;
  const res = ctx.res;
  const headers: OutgoingHttpHeaders = {};
  const extra = connectionTokens(req.headers.connection);
  const raw = req.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const n = raw[i].toLowerCase();
    if (HOP_BY_HOP.has(n) || (extra !== null && extra.has(n))) continue;
    const prev = headers[n];
    headers[n] = prev === undefined ? raw[i + 1] : `${String(prev)}${n === 'cookie' ? '; ' : ', '}${raw[i + 1]}`;
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
  });
  let finished = false;
  preq.on('response', (pres: IncomingMessage) => {
    if (finished) {
      pres.resume();
      return;
    }
    const rawOut = filterRaw(pres.rawHeaders, connectionTokens(pres.headers.connection));
    try {
      res.writeHead(pres.statusCode ?? 502, pres.statusMessage, rawOut);
    } catch (err) {
      log.warn({ err, proxy: target.text }, 'proxy response head rejected');
      pres.destroy();
      sendError(res, 502);
      return;
    }
    pres.pipe(res);
    pres.on('error', () => res.destroy());
  });
  preq.on('error', (err) => {
    if (finished) return;
    finished = true;
    log.debug({ err, proxy: target.text }, 'proxy upstream failed');
    sendError(res, 502);
  });
  res.on('close', () => {
    finished = true;
    if (!res.writableFinished) preq.destroy();
  });
  req.pipe(preq);
}
