/** Stable error codes of @warden/shm-transport. */
export const ShmErrorCode = {
  /** The peer broke the protocol: malformed frame, out-of-range length or counter, counter moved backwards. */
  PROTOCOL: 'WARDEN_ERR_SHM_PROTOCOL',
  /** The peer process went away (doorbell EOF) without being asked to shut down. */
  PEER_GONE: 'WARDEN_ERR_SHM_PEER_GONE',
  /** The channel was closed locally (close() called) while the stream was open. */
  CLOSED: 'WARDEN_ERR_SHM_CLOSED',
  /** The other end aborted this stream (app failed the request / client went away). */
  STREAM_ABORTED: 'WARDEN_ERR_SHM_STREAM_ABORTED',
  /** The app reset this stream (ABORT reason 3): the client connection is to be reset, with no error page. */
  STREAM_RESET: 'WARDEN_ERR_SHM_STREAM_RESET',
  /** A request or response head does not fit in one frame (see maxFrameBytes in PROTOCOL.md). */
  HEAD_TOO_LARGE: 'WARDEN_ERR_SHM_HEAD_TOO_LARGE',
  /** WARDEN_CHANNEL is malformed or the inherited memory does not hold a valid channel header. */
  BAD_SETUP: 'WARDEN_ERR_SHM_SETUP',
  /** The native addon is missing or a system call failed while creating the channel. */
  NATIVE: 'WARDEN_ERR_SHM_NATIVE',
  /** Passing a message with fds over an FdSocket failed (peer gone, not reading, or a malformed message). */
  FD_PASS: 'WARDEN_ERR_SHM_FD_PASS',
  /** An event listener of this package's user threw; the channel was closed to stay consistent. */
  LISTENER: 'WARDEN_ERR_SHM_LISTENER',
} as const;

/** Error with a stable `code` (one of {@link ShmErrorCode}). */
export class ShmError extends Error {
  constructor(
    /** Stable code, `WARDEN_ERR_SHM_*`. */
    readonly code: string,
    message: string,
  ) {
    super(`${code}: ${message}`);
    this.name = 'ShmError';
  }
}
