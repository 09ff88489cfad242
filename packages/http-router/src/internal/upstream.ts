import { Agent } from 'http';
import type { Socket } from 'net';
import type { ProxyTarget } from './compiled-config';

interface Server {
  target: ProxyTarget;
  weight: number;
  current: number;
}

/**
 * An upstream group with smooth weighted round robin (as nginx): each pick adds every server's weight to its
 * running score, takes the highest and subtracts the total, so a 3:1 group yields a a b a, not a a a b.
 */
export class Upstream {
  private readonly servers: Server[];
  private readonly total: number;

  constructor(
    readonly name: string,
    servers: Array<{ target: ProxyTarget; weight: number }>,
  ) {
    this.servers = servers.filter((s) => s.weight > 0).map((s) => ({ target: s.target, weight: s.weight, current: 0 }));
    this.total = this.servers.reduce((a, s) => a + s.weight, 0);
  }

  /** The next server, or null when the group has none with a weight above 0. */
  pick(): ProxyTarget | null {
    const list = this.servers;
    if (list.length === 0) return null;
    if (list.length === 1) return list[0].target;
    let best = list[0];
    for (let i = 0; i < list.length; i++) {
      const s = list[i];
      s.current += s.weight;
      if (s.current > best.current) best = s;
    }
    best.current -= this.total;
    return best.target;
  }
}

/** Idle keep-alive connections kept per proxy target; more are closed as their requests end. */
export const IDLE_CONNECTIONS_PER_TARGET = 16;
/**
 * An idle upstream connection is closed after this long (shorter than the 5 s node:http and most servers keep an
 * idle connection, so that a request rarely meets a connection the upstream is closing at that moment).
 */
export const IDLE_CONNECTION_TIMEOUT_MS = 4000;

/**
 * The keep-alive agent of `proxy` actions and upstreams: at most {@link IDLE_CONNECTIONS_PER_TARGET} idle
 * connections per target (Node keeps up to 256), each closed after {@link IDLE_CONNECTION_TIMEOUT_MS} idle (Node
 * keeps them until the upstream closes them), most recently used first so that surplus connections time out.
 */
export class UpstreamAgent extends Agent {
  constructor() {
    super({ keepAlive: true, maxFreeSockets: IDLE_CONNECTIONS_PER_TARGET, scheduling: 'lifo' });
  }

  /** Node's keep-alive handling (it honours the upstream's `Keep-Alive: timeout=` hint), then our idle bound. */
  override keepSocketAlive(socket: Socket): boolean {
    // Node returns false when the socket must not be kept (its typings say void).
    if ((super.keepSocketAlive(socket) as unknown) === false) return false;
    if (socket.timeout === undefined || socket.timeout === 0 || socket.timeout > IDLE_CONNECTION_TIMEOUT_MS) {
      socket.setTimeout(IDLE_CONNECTION_TIMEOUT_MS); // the agent destroys a free socket that times out
    }
    return true;
  }
}
