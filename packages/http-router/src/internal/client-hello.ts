import type { Socket } from 'net';

/** Bytes of a first TLS record the router waits for at most (a record is at most 16 KiB plus its 5-byte header). */
const CLIENT_HELLO_MAX = 16384 + 5;

/**
 * The SNI host name of a TLS ClientHello at the start of `buf` (RFC 8446 4.1.2, RFC 6066 3): the name, `null` when
 * the bytes are not a ClientHello or carry no server_name, `undefined` when the first record is not complete yet.
 * Only the first record is read; a ClientHello fragmented over several records counts as complete at its end.
 * Every length is checked against the bytes present, so any input is safe.
 */
export function clientHelloServerName(buf: Buffer): string | null | undefined {
  if (buf.length < 5) return buf.length === 0 || buf[0] === 0x16 ? undefined : null;
  if (buf[0] !== 0x16) return null; // not a handshake record
  const recordEnd = 5 + buf.readUInt16BE(3);
  if (buf.length < recordEnd) return undefined;
  let p = 5;
  if (recordEnd - p < 4 || buf[p] !== 0x01) return null; // not a ClientHello
  const end = Math.min(recordEnd, p + 4 + buf.readUIntBE(p + 1, 3));
  p += 4 + 2 + 32; // handshake header, legacy_version, random
  const skip = (lenBytes: number): boolean => {
    if (p + lenBytes > end) return false;
    const len = lenBytes === 1 ? buf[p] : buf.readUInt16BE(p);
    p += lenBytes + len;
    return p <= end;
  };
  if (!skip(1) || !skip(2) || !skip(1)) return null; // session id, cipher suites, compression methods
  if (p + 2 > end) return null; // no extensions
  const extEnd = Math.min(end, p + 2 + buf.readUInt16BE(p));
  p += 2;
  while (p + 4 <= extEnd) {
    const type = buf.readUInt16BE(p);
    const len = buf.readUInt16BE(p + 2);
    p += 4;
    if (p + len > extEnd) return null;
    if (type === 0) return firstHostName(buf, p, p + len);
    p += len;
  }
  return null;
}

/** The first host_name entry of a server_name extension body. */
function firstHostName(buf: Buffer, start: number, end: number): string | null {
  if (start + 2 > end) return null;
  let p = start + 2;
  const listEnd = Math.min(end, p + buf.readUInt16BE(start));
  while (p + 3 <= listEnd) {
    const type = buf[p];
    const len = buf.readUInt16BE(p + 1);
    p += 3;
    if (p + len > listEnd) return null;
    if (type === 0) return buf.toString('latin1', p, p + len);
    p += len;
  }
  return null;
}

/**
 * Reads a connection's first TLS record without consuming it: once the SNI name is known (or known to be absent),
 * the bytes are put back, the socket is left paused and `done` gets the name, so that a TLS server can take the
 * socket over and read the ClientHello itself. A client that sends nothing for `timeoutMs` (0: no limit), or goes
 * away, is dropped and `done` is never called.
 */
export function readClientHello(sock: Socket, timeoutMs: number, done: (servername: string | null, plain: boolean) => void): void {
  let buf: Buffer | null = null;
  const onData = (chunk: Buffer): void => {
    buf = buf === null ? chunk : Buffer.concat([buf, chunk]);
    const name = clientHelloServerName(buf);
    if (name === undefined && buf.length < CLIENT_HELLO_MAX) return;
    cleanup();
    sock.pause();
    sock.unshift(buf);
    done(name ?? null, buf[0] !== 0x16);
  };
  const onTimeout = (): void => {
    cleanup();
    sock.destroy();
  };
  const onGone = (): void => {
    cleanup();
    sock.destroy();
  };
  const cleanup = (): void => {
    sock.off('data', onData);
    sock.off('timeout', onTimeout);
    sock.off('end', onGone);
    sock.off('error', onGone);
    sock.setTimeout(0);
  };
  sock.on('data', onData);
  sock.on('end', onGone);
  sock.on('error', onGone);
  if (timeoutMs > 0) {
    sock.setTimeout(timeoutMs);
    sock.on('timeout', onTimeout);
  }
}
