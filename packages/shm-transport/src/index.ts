// Public API of @warden/shm-transport: the shared-memory channel between wardend (router end) and an app process
// (app end). See README.md and PROTOCOL.md.
export { RouterChannel, RouterStream } from './router-channel';
export type { RouterChannelOptions } from './router-channel';
export { AppChannel, AppRequest } from './app-channel';
export { AppChannelSet } from './app-channel-set';
export type { AppChannelSetOptions } from './app-channel-set';
export type { AppRequestSink, RequestHead, RouterStreamSink, ShmLogger, StreamSink } from './types';
export { ShmError, ShmErrorCode } from './errors';
export { FdSocket, closeFd } from './fd-socket';
export { encodeFrame, decodeFrame } from './internal/codec';
export type { Frame } from './internal/codec';
export { listenSocket, hardenProcess, spawnProcess, hostUserDatabase } from './process-support';
export type { ListenAddress, BoundSocket, SpawnOptions, SpawnedProcess, HostUser, HostGroup, HostUserDatabase } from './process-support';
