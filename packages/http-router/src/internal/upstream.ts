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
