import type { Socket } from 'net';
import { closingErrorPage } from './error-page';
import { createServer as createTlsServer, type Server as TlsServer, type TLSSocket } from 'tls';
import { readClientHello } from './client-hello';
import type { ListenerEntry } from './listener-entry';
import type { RouterLogger } from './ports';
import { selectCertificate, type TlsCertificateEntry } from './tls-config';

/**
 * TLS on a listener: the certificate is chosen by the SNI name of the ClientHello as Unit does (exact name,
 * wildcard, else the first), from the listener's config when the ClientHello arrives, and that certificate's TLS
 * server does the handshake (with its `session.cache_size` cache). A reconfiguration thus changes certificates for
 * new handshakes only.
 */
export class TlsSelector {
  constructor(
    private readonly log: RouterLogger,
    /** Gets each connection whose handshake completed. */
    private readonly secured: (entry: ListenerEntry, sock: TLSSocket) => void,
    /** The current `Server` field value. */
    private readonly serverHeader: () => string,
  ) {}

  /** Takes a new connection to the TLS listener `entry`; `timeout`: ClientHello and handshake time limit (ms). */
  start(entry: ListenerEntry, sock: Socket, timeout: number): void {
    const peer = peerKey(sock);
    entry.handshakes.set(peer, sock);
    sock.once('close', () => {
      if (entry.handshakes.get(peer) === sock) entry.handshakes.delete(peer);
    });
    readClientHello(sock, timeout, (servername, plain) => {
      const tls = entry.listener.tls;
      if (tls === null) {
        sock.destroy(); // TLS was switched off while the ClientHello came
        return;
      }
      if (plain) {
        refusePlain(sock, this.serverHeader(), timeout);
        return;
      }
      const cert = servername === null ? tls.certs[0] : selectCertificate(tls, servername);
      (cert.server ??= this.createServer(entry, cert, timeout)).emit('connection', sock);
    });
  }

  private createServer(entry: ListenerEntry, cert: TlsCertificateEntry, handshakeTimeout: number): TlsServer {
    const server = createTlsServer({ ...cert.options, handshakeTimeout: handshakeTimeout > 0 ? handshakeTimeout : 30_000 });
    server.on('secureConnection', (sock: TLSSocket) => {
      entry.handshakes.delete(peerKey(sock));
      this.secured(entry, sock);
    });
    server.on('tlsClientError', (err, sock) => {
      this.log.debug({ err, listener: entry.listener.name, certificate: cert.name }, 'TLS handshake failed');
      sock.destroy();
    });
    // `session.cache_size`: server-side session cache (ids → session data), oldest entries dropped first.
    const sessions = new Map<string, Buffer>();
    server.on('newSession', (id: Buffer, data: Buffer, done: () => void) => {
      const max = entry.listener.tls?.sessionCacheSize ?? 0;
      if (max > 0) {
        sessions.set(id.toString('hex'), data);
        for (const k of sessions.keys()) {
          if (sessions.size <= max) break;
          sessions.delete(k);
        }
      } else sessions.clear();
      done();
    });
    server.on('resumeSession', (id: Buffer, done: (err: Error | null, data: Buffer | null) => void) => {
      done(null, sessions.get(id.toString('hex')) ?? null);
    });
    return server;
  }
}

/** A connection's client address and port (the same for a TLS socket and the connection under it). */
function peerKey(sock: Socket): string {
  return `${sock.remoteAddress}|${sock.remotePort}`;
}

/** The most of a plain HTTP head read before the answer (Unit's default header buffers hold 2048 + 4 × 8192). */
const PLAIN_HEAD_MAX = 34_816;

/**
 * A connection to a TLS listener whose first byte is not a TLS handshake record: as Unit (nxt_h1p_conn_request_header
 * parse, NXT_HTTP_TO_HTTPS), its head is read and answered `400 The plain HTTP request was sent to HTTPS port` with
 * the error page of status 497, then the connection closes. Bytes that never end a head get the same answer at
 * `timeout` (or at PLAIN_HEAD_MAX bytes), so that a client is not left waiting.
 */
function refusePlain(sock: Socket, serverHeader: string, timeout: number): void {
  let seen = 0;
  let tail = '';
  const answer = (): void => {
    sock.off('data', onData);
    sock.off('timeout', answer);
    sock.setTimeout(0);
    if (!sock.writable) {
      sock.destroy();
      return;
    }
    sock.end(closingErrorPage(497, serverHeader, 'HTTP/1.1 400 The plain HTTP request was sent to HTTPS port\r\n'));
    sock.resume(); // what the client sends meanwhile is read and dropped, so that the close is not a reset
  };
  const onData = (chunk: Buffer): void => {
    seen += chunk.length;
    const text = tail + chunk.toString('latin1');
    if (/\r?\n\r?\n/.test(text) || seen >= PLAIN_HEAD_MAX) answer();
    else tail = text.slice(-3);
  };
  sock.on('data', onData);
  sock.on('error', () => sock.destroy());
  if (timeout > 0) {
    sock.setTimeout(timeout);
    sock.on('timeout', answer);
  }
  sock.resume();
}
