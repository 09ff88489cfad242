import { closeSync } from 'fs';
import { constants } from 'os';
import { ShmError, ShmErrorCode } from './errors';
import { native } from './internal/native';
import { errnoName } from './internal/errno';

/** The largest payload of one FdSocket message. */
const MAX_PAYLOAD = 64 * 1024;
/** The most fds one FdSocket message carries (native/fd-socket.cc kMaxFds). */
const MAX_FDS = 16;
/** Messages read per wake-up of the poll before the event loop gets its turn (see onPoll). */
const READ_BATCH = 64;

/** One receive buffer for every socket: a message is copied out of it before it is dispatched. */
let recvBuf: Buffer | undefined;

function fdPassError(message: string): ShmError {
  return new ShmError(ShmErrorCode.FD_PASS, message);
}

/**
 * Messages with file descriptors over an AF_UNIX SOCK_SEQPACKET socket: one message = a payload of 1..64 KiB and up to
 * 16 fds (SCM_RIGHTS), delivered whole and in order from libuv's loop. wardend's main process relays channel fds to
 * an app process with it (WARDEN_CONTROL, PROTOCOL.md "Several routers").
 *
 * A peer's EOF (or ECONNRESET) calls `onClose()`; a failure (a truncated message, a socket error) calls
 * `onClose(err)` with a ShmError `WARDEN_ERR_SHM_FD_PASS`; either way the socket is closed first. `close()` does not
 * call `onClose`. Received fds are close-on-exec and belong to `onMessage`, which must use or close them. An exception
 * thrown by `onMessage` propagates (out of the loop's callback, or out of `drain()`).
 */
export class FdSocket {
  /** The largest payload of one message (64 KiB). */
  static readonly MAX_PAYLOAD = MAX_PAYLOAD;
  /** The most fds of one message (16). */
  static readonly MAX_FDS = MAX_FDS;

  /** A connected AF_UNIX SOCK_SEQPACKET pair, both ends O_CLOEXEC and O_NONBLOCK. */
  static pair(): [number, number] {
    try {
      return native().fdSocketPair();
    } catch (e) {
      throw fdPassError(`cannot create a socket pair: ${(e as Error).message}`);
    }
  }

  /** The socket's fd (-1 once closed). */
  get fd(): number {
    return this._fd;
  }

  private _fd: number;
  private readonly poll: { ref(): void; unref(): void; stop(): void };

  /**
   * Takes ownership of `fd` (a SOCK_SEQPACKET unix socket; marked close-on-exec here) and starts delivering its
   * messages from libuv's loop, in order.
   */
  constructor(
    fd: number,
    private readonly onMessage: (payload: Buffer, fds: number[]) => void,
    private readonly onClose: (err?: Error) => void,
  ) {
    if (!Number.isInteger(fd) || fd < 0) throw fdPassError(`fd ${fd} is not a file descriptor`);
    const n = native();
    try {
      n.setCloexec(fd);
      this.poll = new n.FdPoll(fd, (status) => this.onPoll(status));
    } catch (e) {
      throw fdPassError(`cannot poll fd ${fd}: ${(e as Error).message}`);
    }
    this._fd = fd;
  }

  /**
   * Sends one message: `payload` (1..64 KiB; a string is sent as UTF-8) and `fds` (up to 16, passed as SCM_RIGHTS:
   * the caller keeps its own copies). Never blocks: throws ShmError `WARDEN_ERR_SHM_FD_PASS` when the message cannot
   * be sent now, EAGAIN included (the peer is not reading), or when the socket is closed or the peer is gone.
   */
  send(payload: Buffer | string, fds: number[] = []): void {
    const buf = typeof payload === 'string' ? Buffer.from(payload) : payload;
    if (this._fd < 0) throw fdPassError('the socket is closed');
    if (buf.length === 0 || buf.length > MAX_PAYLOAD) throw fdPassError(`a payload of ${buf.length} bytes is outside 1..${MAX_PAYLOAD}`);
    if (fds.length > MAX_FDS) throw fdPassError(`${fds.length} fds exceed the limit of ${MAX_FDS} per message`);
    for (const f of fds) if (!Number.isInteger(f) || f < 0 || f > 0x7fffffff) throw fdPassError(`fd ${f} is not a file descriptor`);
    const err = native().fdSend(this._fd, buf, fds);
    if (err === 0) return;
    if (err === constants.errno.EAGAIN) throw fdPassError('EAGAIN: the peer is not reading (its socket buffer is full)');
    if (err === constants.errno.EPIPE || err === constants.errno.ECONNRESET) throw fdPassError(`${errnoName(err)}: the peer is gone`);
    throw fdPassError(`sendmsg: ${errnoName(err)}`);
  }

  /**
   * Receives and dispatches, synchronously, every message already queued: a receiver told on another channel that
   * something was sent here first gets it before it goes on.
   */
  drain(): void {
    this.readAll();
  }

  /** The socket keeps the event loop alive (the default). */
  ref(): void {
    this.poll.ref();
  }

  /** The socket does not keep the event loop alive on its own. */
  unref(): void {
    this.poll.unref();
  }

  /** Closes the socket (idempotent); fds sent to it and not yet received are closed by the kernel with it. */
  close(): void {
    if (this._fd < 0) return;
    this.poll.stop();
    const fd = this._fd;
    this._fd = -1;
    closeSync(fd);
  }

  private onPoll(status: number): void {
    if (this._fd < 0) return;
    if (status < 0) return this.finish(fdPassError(`polling fd ${this._fd} failed: libuv error ${status}`));
    // At most a batch per wake-up: a peer that sends without pause gets its turn with the rest of the event loop
    // (the poll is level-triggered: what is left wakes us again at the next turn).
    this.readAll(READ_BATCH);
  }

  private readAll(limit = Infinity): void {
    const n = native();
    const buf = (recvBuf ??= Buffer.allocUnsafe(MAX_PAYLOAD));
    for (let i = 0; i < limit && this._fd >= 0; i++) {
      const m = n.fdRecv(this._fd, buf);
      if (m === undefined) return;
      if (m.bytes < 0) {
        // EOF, or a peer that went away with unread data (ECONNRESET): the ordinary end. Anything else is a failure.
        const ordinary = m.error === 0 || m.error === constants.errno.ECONNRESET;
        return this.finish(ordinary ? undefined : fdPassError(`recvmsg: ${errnoName(m.error)}`));
      }
      if (m.truncated) {
        for (const f of m.fds) closeQuietly(f);
        return this.finish(fdPassError(`a message was truncated (over ${MAX_PAYLOAD} bytes or ${MAX_FDS} fds): closing the socket`));
      }
      this.onMessage(Buffer.from(buf.subarray(0, m.bytes)), m.fds);
    }
  }

  private finish(err?: Error): void {
    this.close();
    this.onClose(err);
  }
}

/** Closes a file descriptor (close(2)), e.g. one received with an FdSocket message that is not used. */
export function closeFd(fd: number): void {
  try {
    closeSync(fd);
  } catch (e) {
    throw fdPassError(`cannot close fd ${fd}: ${(e as Error).message}`);
  }
}

/** @internal close(2) that ignores an fd already closed. */
export function closeQuietly(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    // Already closed: nothing to release.
  }
}
