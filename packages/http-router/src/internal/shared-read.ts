import { Socket } from 'net';

/**
 * Reading plain TCP client sockets into one buffer that all the lean connections of a process share.
 *
 * Without it, Node allocates a 64 KiB ArrayBuffer for every read of every socket (and shrinks it to the bytes read,
 * a copy): a 64-byte GET costs an allocation, a 1 MiB body sixteen, and their external memory drives V8's garbage
 * collections (in the router under 32 concurrent 1 MiB uploads, major GC work took a quarter of its CPU). What a lean
 * connection reads is parsed, or written into the app's ring, before the read callback returns; only what must wait
 * is copied (FastConnection, LeanHandler.onBodyView, RouterStream.writeBodyView, which also stops the reading while
 * the ring is full, so that bytes wait in the client's socket rather than in the router's memory).
 *
 * Node offers this as `net.Socket`'s `onread` option, which sockets accepted by a `net.Server` cannot be given: the
 * same switch is made on the accepted socket (its handle's `useUserBuffer` and the socket's three `onread` slots,
 * found by their symbols' descriptions). On a Node without them, sockets keep Node's own reads.
 */

/** Bytes one read may take: Node's own read size. */
const READ_SIZE = 64 * 1024;

/** The buffer every shared read lands in (allocated at the first use). */
let shared: Buffer | null = null;

interface OnreadKeys {
  buffer: symbol;
  callback: symbol;
  generator: symbol;
}
let keys: OnreadKeys | null | undefined;

/** The symbols of net.Socket's `onread` slots, or null when this Node has not got them (looked up once). */
function onreadKeys(): OnreadKeys | null {
  if (keys !== undefined) return keys;
  const probe = new Socket();
  const find = (name: string): symbol | undefined => Object.getOwnPropertySymbols(probe).find((s) => s.description === name);
  const buffer = find('kBuffer');
  const callback = find('kBufferCb');
  const generator = find('kBufferGen');
  keys = buffer !== undefined && callback !== undefined && generator !== undefined ? { buffer, callback, generator } : null;
  probe.destroy();
  return keys;
}

/**
 * What reads on a shared socket are given: the bytes read (`buf`, valid only during the call: the next read of any
 * shared socket overwrites them), with the socket as `this`. Returning false stops reading, as a false `push()` does,
 * until `resume()`.
 */
export type SharedReadCallback = (this: Socket, nread: number, buf: Buffer) => boolean;

type Handle = { useUserBuffer?: (buf: Uint8Array) => void; reading?: boolean };
type Slots = Socket & { _handle?: Handle | null; encrypted?: boolean } & Record<symbol, unknown>;

/**
 * Makes `sock`'s reads land in the shared buffer and go to `callback` instead of 'data' events; false (nothing
 * changed) for a socket this cannot apply to: a TLS socket, one without a stream handle, one already read from
 * (bytes buffered, a 'data' listener or its own `onread`), or a Node without the slots.
 */
export function readShared(sock: Socket, callback: SharedReadCallback): boolean {
  const s = sock as Slots;
  const handle = s._handle;
  if (s.encrypted === true || handle === null || handle === undefined || typeof handle.useUserBuffer !== 'function') return false;
  if (sock.readableLength > 0 || sock.listenerCount('data') > 0) return false;
  const k = onreadKeys();
  if (k === null || s[k.buffer] !== null || s[k.callback] !== null) return false;
  shared ??= Buffer.allocUnsafeSlow(READ_SIZE);
  handle.useUserBuffer(shared);
  s[k.buffer] = shared;
  s[k.callback] = callback;
  return true;
}

/** True when `b` is (a view of) the shared read buffer: valid only until the read callback returns. */
export function isSharedRead(b: Buffer): boolean {
  return shared !== null && b.buffer === shared.buffer;
}

/** `b` itself, or a copy of it when it is a view of the shared read buffer (to keep past the read callback). */
export function ownBytes(b: Buffer): Buffer {
  return isSharedRead(b) ? Buffer.from(b) : b;
}

/**
 * For a shared socket that is no longer read by its owner (handed to node:http, a tunnel): what Node does with a
 * read when the socket has no `onread`, on a copy of the bytes: push them to the stream ('data' events).
 */
export function pushCopy(sock: Socket, nread: number, buf: Buffer): boolean {
  return sock.push(Buffer.from(buf.subarray(0, nread)));
}
