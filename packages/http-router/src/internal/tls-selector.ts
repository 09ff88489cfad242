import type { Socket } from 'net';
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
  ) {}

  /** Takes a new connection to the TLS listener `entry`; `timeout`: ClientHello and handshake time limit (ms). */
  start(entry: ListenerEntry, sock: Socket, timeout: number): void {
    const peer = peerKey(sock);
    entry.handshakes.set(peer, sock);
    sock.once('close', () => {
      if (entry.handshakes.get(peer) === sock) entry.handshakes.delete(peer);
    });
    readClientHello(sock, timeout, (servername) => {
      const tls = entry.listener.tls;
      if (tls === null) {
        sock.destroy(); // TLS was switched off while the ClientHello came
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
