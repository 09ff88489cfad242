import type { Server } from 'http';
import type { Socket } from 'net';
import type { CompiledListener } from './compiled-config';

/** A bound listener: its server, the sockets it holds and the compiled config it serves (swapped at commit). */
export class ListenerEntry {
  /** False until the prepare that bound it is committed: requests before that get 503. */
  live = false;
  /** Set when a reconfiguration removed it: finishing responses close their connections. */
  closing = false;
  /** Requests may take the fast path straight to the gateway. */
  fast = false;
  readonly sockets = new Set<Socket>();

  constructor(
    readonly server: Server,
    public listener: CompiledListener,
  ) {}
}
