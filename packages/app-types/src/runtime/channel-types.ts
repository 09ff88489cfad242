import type { EventEmitter } from 'events';
import type { AppChannel, AppChannelSet, AppRequest, RequestHead } from '@warden/shm-transport';

/**
 * The app end of a request stream, as `@warden/shm-transport`'s `AppRequest` provides it (see its README). The runtime
 * depends on this shape only, so that it is testable with an in-memory double. The head fields are the channel's
 * `RequestHead` (method, target, flat headers, addresses, tls, contentLength: -1 when unknown).
 * Events: `'data'` (Buffer), `'end'`, `'abort'` (client went away), `'drain'` (after `write` returned false).
 */
export interface ChannelRequest extends EventEmitter, Readonly<RequestHead> {
  readonly id: number;
  /** The client connection's id (the same for the requests of a keep-alive connection); 0 or absent: not told. */
  readonly connection?: number;
  pause(): void;
  resume(): void;
  /** The response head; `reason`: the app's own reason phrase (node's `statusMessage`), when not the standard one. */
  respond(status: number, headers: string[], reason?: string): void;
  write(chunk: Buffer): boolean;
  end(chunk?: Buffer): void;
  /** Fails the request (the router answers 502); `reset`: the app dropped the connection (the client's is reset). */
  abort(reset?: boolean): void;
  /** Response trailers, sent before the end; false when the router does not take them (then dropped). */
  trailers?(headers: string[]): boolean;
  /** A 1xx response before the final head; false when the router does not take them (then dropped). */
  info?(status: number, headers: string[]): boolean;
}

/**
 * The app end of a channel, as `@warden/shm-transport`'s `AppChannel` provides it, or of every channel of the process
 * (one per wardend router), as its `AppChannelSet` does.
 * Events: `'request'` (ChannelRequest), `'shutdown'`, `'close'` (err?), `'connection-close'` (connection id), and
 * from a set `'channel-close'` (ordinal, err?): one channel closed, every connection id `c` of it
 * (`Math.floor(c / 2^32) === ordinal`) is gone, the others serve on.
 */
export interface ChannelEndpoint extends EventEmitter {
  /** READY; `connections`: ask for connection ids (`ChannelRequest.connection`) and 'connection-close' events; `upgrade`: take upgrade requests. */
  markReady(capabilities?: { connections?: boolean; upgrade?: boolean }): void;
  close(): void;
}

// Compile-time proof that the real transport fits these shapes (no runtime code).
type Assert<T extends true> = T;
/** @internal */
export type TransportFits = Assert<
  AppRequest extends ChannelRequest ? (AppChannel extends ChannelEndpoint ? (AppChannelSet extends ChannelEndpoint ? true : false) : false) : false
>;
