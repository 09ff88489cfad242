import type { EventEmitter } from 'events';
import type { AppChannel, AppRequest, RequestHead } from '@warden/shm-transport';

/**
 * The app end of a request stream, as `@warden/shm-transport`'s `AppRequest` provides it (see its README). The runtime
 * depends on this shape only, so that it is testable with an in-memory double. The head fields are the channel's
 * `RequestHead` (method, target, flat headers, addresses, tls, contentLength: -1 when unknown).
 * Events: `'data'` (Buffer), `'end'`, `'abort'` (client went away), `'drain'` (after `write` returned false).
 */
export interface ChannelRequest extends EventEmitter, Readonly<RequestHead> {
  readonly id: number;
  pause(): void;
  resume(): void;
  /** The response head; `reason`: the app's own reason phrase (node's `statusMessage`), when not the standard one. */
  respond(status: number, headers: string[], reason?: string): void;
  write(chunk: Buffer): boolean;
  end(chunk?: Buffer): void;
  /** Fails the request (the router answers 502); `reset`: the app dropped the connection (the client's is reset). */
  abort(reset?: boolean): void;
}

/**
 * The app end of a channel, as `@warden/shm-transport`'s `AppChannel` provides it.
 * Events: `'request'` (ChannelRequest), `'shutdown'`, `'close'` (err?).
 */
export interface ChannelEndpoint extends EventEmitter {
  /** READY; `capabilities`: the READY arg bits the app takes (AppChannel.CAP_UPGRADE). */
  markReady(capabilities?: number): void;
  close(): void;
}

// Compile-time proof that the real transport fits these shapes (no runtime code).
type Assert<T extends true> = T;
/** @internal */
export type TransportFits = Assert<AppRequest extends ChannelRequest ? (AppChannel extends ChannelEndpoint ? true : false) : false>;
