import type { EventEmitter } from 'events';
import type { AppChannel, AppRequest } from '@warden/shm-transport';

/**
 * The app end of a request stream, as `@warden/shm-transport`'s `AppRequest` provides it (SHM-API.md). The runtime
 * depends on this shape only, so that it is testable with an in-memory double.
 * Events: `'data'` (Buffer), `'end'`, `'abort'` (client went away), `'drain'` (after `write` returned false).
 */
export interface ChannelRequest extends EventEmitter {
  readonly id: number;
  readonly method: string;
  readonly target: string;
  readonly httpVersion: string;
  /** Flat `[name, value, name, value, ...]`. */
  readonly headers: string[];
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly localAddress: string;
  readonly localPort: number;
  readonly tls: boolean;
  /** -1 when unknown (chunked). */
  readonly contentLength: number;
  pause(): void;
  resume(): void;
  respond(status: number, headers: string[]): void;
  write(chunk: Buffer): boolean;
  end(chunk?: Buffer): void;
  abort(): void;
}

/**
 * The app end of a channel, as `@warden/shm-transport`'s `AppChannel` provides it.
 * Events: `'request'` (ChannelRequest), `'shutdown'`, `'close'` (err?).
 */
export interface ChannelEndpoint extends EventEmitter {
  markReady(): void;
  close(): void;
}

// Compile-time proof that the real transport fits these shapes (no runtime code).
type Assert<T extends true> = T;
/** @internal */
export type TransportFits = Assert<AppRequest extends ChannelRequest ? (AppChannel extends ChannelEndpoint ? true : false) : false>;
