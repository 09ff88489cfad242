import { isIPv4, isIPv6 } from 'net';
import { MATCH_ERROR, RouterConfigError } from './errors';

/** A compiled test of a peer address and port (`source` / `destination`, `forwarded.source`); port -1 = any. */
export type AddressTest = (addr: string, port: number) => boolean;

interface AddrRule {
  negative: boolean;
  /** 4 or 6; 0 means any IP family (`*`); `unix`: a unix domain socket (Unit's `"unix"` pattern). */
  family: 0 | 4 | 6 | 'unix';
  lo: bigint;
  hi: bigint;
  portLo: number;
  portHi: number;
}

/** Parses an IPv4 or IPv6 literal into a number (IPv4-mapped IPv6 becomes IPv4). Returns null when invalid. */
export function parseIp(s: string): { family: 4 | 6; value: bigint } | null {
  if (isIPv4(s)) return { family: 4, value: BigInt(ipv4ToInt(s)) };
  if (!isIPv6(s)) return null;
  const lower = s.toLowerCase();
  if (lower.startsWith('::ffff:') && isIPv4(lower.slice(7))) return { family: 4, value: BigInt(ipv4ToInt(lower.slice(7))) };
  return { family: 6, value: ipv6ToBigInt(lower) };
}

function ipv4ToInt(s: string): number {
  let v = 0;
  let part = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 46) {
      v = v * 256 + part;
      part = 0;
    } else part = part * 10 + (c - 48);
  }
  return v * 256 + part;
}

function ipv6ToBigInt(s: string): bigint {
  let text = s;
  const lastColon = text.lastIndexOf(':');
  const tail = text.slice(lastColon + 1);
  if (tail.includes('.')) {
    const n = ipv4ToInt(tail);
    text = `${text.slice(0, lastColon + 1)}${(n >>> 16).toString(16)}:${(n & 0xffff).toString(16)}`;
  }
  const dbl = text.indexOf('::');
  let groups: string[];
  if (dbl >= 0) {
    const h = dbl > 0 ? text.slice(0, dbl).split(':') : [];
    const r = dbl + 2 < text.length ? text.slice(dbl + 2).split(':') : [];
    groups = [...h, ...new Array<string>(8 - h.length - r.length).fill('0'), ...r];
  } else groups = text.split(':');
  let v = 0n;
  for (const g of groups) v = (v << 16n) | BigInt(parseInt(g, 16));
  return v;
}

function badAddress(raw: string, path: string): RouterConfigError {
  return new RouterConfigError(`The "${raw}" address is invalid.`, path, MATCH_ERROR);
}

function parsePorts(spec: string, raw: string, path: string): [number, number] {
  const m = /^(\d{1,5})(?:-(\d{1,5}))?$/.exec(spec);
  if (!m) throw badAddress(raw, path);
  const lo = Number(m[1]);
  const hi = m[2] !== undefined ? Number(m[2]) : lo;
  if (lo > 65535 || hi > 65535 || lo > hi) throw badAddress(raw, path);
  return [lo, hi];
}

function parseRange(addr: string, raw: string, path: string): { family: 0 | 4 | 6; lo: bigint; hi: bigint } {
  if (addr === '*') return { family: 0, lo: 0n, hi: 0n };
  const slash = addr.indexOf('/');
  if (slash >= 0) {
    const base = parseIp(addr.slice(0, slash));
    const bitsText = addr.slice(slash + 1);
    if (!base || !/^\d{1,3}$/.test(bitsText)) throw badAddress(raw, path);
    const width = base.family === 4 ? 32 : 128;
    const bits = Number(bitsText);
    if (bits > width) throw badAddress(raw, path);
    const hostBits = BigInt(width - bits);
    const mask = ((1n << BigInt(width)) - 1n) ^ ((1n << hostBits) - 1n);
    const lo = base.value & mask;
    return { family: base.family, lo, hi: lo | ((1n << hostBits) - 1n) };
  }
  const dash = addr.indexOf('-');
  if (dash >= 0) {
    const a = parseIp(addr.slice(0, dash));
    const b = parseIp(addr.slice(dash + 1));
    if (!a || !b || a.family !== b.family || a.value > b.value) throw badAddress(raw, path);
    return { family: a.family, lo: a.value, hi: b.value };
  }
  const ip = parseIp(addr);
  if (!ip) throw badAddress(raw, path);
  return { family: ip.family, lo: ip.value, hi: ip.value };
}

function compileRule(raw: unknown, path: string): AddrRule {
  if (typeof raw !== 'string') throw new RouterConfigError('An address pattern must be a string.', path, MATCH_ERROR);
  let s = raw.trim();
  let negative = false;
  if (s.startsWith('!')) {
    negative = true;
    s = s.slice(1);
  }
  if (s === 'unix') return { negative, family: 'unix', lo: 0n, hi: 0n, portLo: 0, portHi: 65535 };
  let addr: string;
  let ports: [number, number] = [0, 65535];
  if (s.startsWith('[')) {
    const close = s.indexOf(']');
    if (close < 0) throw badAddress(raw, path);
    addr = s.slice(1, close);
    const rest = s.slice(close + 1);
    if (rest !== '') {
      if (!rest.startsWith(':')) throw badAddress(raw, path);
      ports = parsePorts(rest.slice(1), raw, path);
    }
    if (addr === '*') throw badAddress(raw, path);
  } else {
    const colons = s.split(':').length - 1;
    if (colons === 1) {
      const c = s.indexOf(':');
      addr = s.slice(0, c);
      ports = parsePorts(s.slice(c + 1), raw, path);
    } else addr = s;
  }
  const r = parseRange(addr, raw, path);
  return { negative, family: r.family, lo: r.lo, hi: r.hi, portLo: ports[0], portHi: ports[1] };
}

function ruleHits(r: AddrRule, family: 4 | 6 | 'unix', value: bigint, port: number): boolean {
  if (r.family === 'unix' || family === 'unix') return r.family === family; // `*` is any IP address, not a unix socket
  if (port >= 0 && (port < r.portLo || port > r.portHi)) return false;
  if (r.family === 0) return true;
  return r.family === family && value >= r.lo && value <= r.hi;
}

/**
 * Compiles an address pattern or array (`*`, `IP`, `IP/CIDR`, `IP-IP`, each optionally `:port` or `:lo-hi`, IPv6 in
 * brackets when a port follows, `!` negation) with Unit's array rule (negatives first).
 */
export function compileAddressSet(value: unknown, path: string): AddressTest {
  const list = Array.isArray(value) ? value : [value];
  const rules = list.map((v, i) => compileRule(v, Array.isArray(value) ? `${path}/${i}` : path));
  const negatives = rules.filter((r) => r.negative);
  const positives = rules.filter((r) => !r.negative);
  if (rules.length === 0) return () => false; // Unit: an empty list matches nothing (nxt_http_route_addr_rule)
  return (addr, port) => {
    const ip = addr.startsWith('unix:') ? { family: 'unix' as const, value: 0n } : parseIp(addr);
    if (!ip) return false;
    for (const r of negatives) if (ruleHits(r, ip.family, ip.value, port)) return false;
    if (positives.length === 0) return true;
    for (const r of positives) if (ruleHits(r, ip.family, ip.value, port)) return true;
    return false;
  };
}
