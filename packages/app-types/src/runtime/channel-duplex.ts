import { Duplex } from 'stream';
import type { RequestHead } from '@warden/shm-transport';

/**
 * What every socket the runtime hands to Node's HTTP code has of `net.Socket`: the peer's and the listener's
 * addresses as the router saw them, an error listener (as inside an http.Server), and the TCP knobs that mean
 * nothing over the channel. Base of ChannelSocket (one request) and UpgradeSocket (an upgraded connection).
 */
export abstract class ChannelDuplex extends Duplex {
  /** Client address and port as the router saw them. */
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly remoteFamily: string;
  /** The listener's address and port. */
  readonly localAddress: string;
  readonly localPort: number;
  /** True when the client connected over TLS (express's `req.protocol`, `req.secure` read it). */
  readonly encrypted: boolean | undefined;

  constructor(head: Readonly<RequestHead>) {
    super({ allowHalfOpen: true, decodeStrings: true, emitClose: true });
    this.remoteAddress = head.remoteAddress;
    this.remotePort = head.remotePort;
    this.remoteFamily = head.remoteAddress.includes(':') ? 'IPv6' : 'IPv4';
    this.localAddress = head.localAddress;
    this.localPort = head.localPort;
    this.encrypted = head.tls ? true : undefined;
    // A net.Socket inside http.Server always has an error listener; without one, destroy(err) would crash.
    this.on('error', () => undefined);
  }

  setNoDelay(_noDelay?: boolean): this {
    return this;
  }
  setKeepAlive(_enable?: boolean, _delay?: number): this {
    return this;
  }
  ref(): this {
    return this;
  }
  unref(): this {
    return this;
  }
  /** The listener's address, as `net.Socket.address()` gives it. */
  address(): { address: string; family: string; port: number } {
    return { address: this.localAddress, family: this.localAddress.includes(':') ? 'IPv6' : 'IPv4', port: this.localPort };
  }
}
