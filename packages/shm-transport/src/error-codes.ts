/** Every stable error code @warden/shm-transport raises (`ShmError`'s `code`; `ShmErrorCode` names them), with its meaning. */
export const ERROR_CODES = {
  WARDEN_ERR_SHM_PROTOCOL: 'The peer broke the protocol (malformed frame, out-of-range length or counter).',
  WARDEN_ERR_SHM_PEER_GONE: 'The peer process went away without being asked to shut down.',
  WARDEN_ERR_SHM_CLOSED: 'The channel was closed locally while the stream was open.',
  WARDEN_ERR_SHM_STREAM_ABORTED: 'The other end aborted the stream.',
  WARDEN_ERR_SHM_STREAM_RESET: 'The app reset the stream: the client connection is reset, with no error page.',
  WARDEN_ERR_SHM_HEAD_TOO_LARGE: 'A request or response head does not fit in one frame.',
  WARDEN_ERR_SHM_SETUP: 'WARDEN_CHANNEL is malformed or the inherited memory holds no valid channel.',
  WARDEN_ERR_SHM_NATIVE: 'The native addon is missing or a system call failed while creating the channel.',
  WARDEN_ERR_SHM_FD_PASS: 'Passing a message with fds over an FdSocket failed (peer gone or not reading, bad message).',
  WARDEN_ERR_SHM_LISTENER: "A listener of the package's user threw; the channel was closed.",
} as const;
