import type { Overview } from '../runtime/overview';
import { controlRequest, WardenCliError } from './warden-control-client';
import type { WardenControlTarget } from './warden-control-client';

/** How often `warden top` refreshes. */
export const TOP_INTERVAL_MS = 2000;

const pad = (s: string | number, n: number) => String(s).padEnd(n);
const lpad = (s: string | number, n: number) => String(s).padStart(n);
const rate = (now: number, before: number | undefined, dt: number) => (before === undefined || dt <= 0 ? 0 : Math.max(0, (now - before) / dt));
const errors = (r: Overview['listeners'][number]['requests']) => (r.codes['4xx'] ?? 0) + (r.codes['5xx'] ?? 0);
const fmt = (n: number) => (n >= 100 ? n.toFixed(0) : n.toFixed(1));
const meanMs = (r: Overview['listeners'][number]['requests']) => (r.total > 0 ? `${((1000 * r.latencySum) / r.total).toFixed(2)} ms` : '-');

/**
 * One frame of `warden top` (plain text, no terminal codes): wardend, the listeners with their request and error
 * rates (against `previous`, the frame before; 0 on the first), the applications with their isolation and their
 * processes. The same information as the status page (`/ui`).
 */
export function renderTop(o: Overview, previous?: Overview): string {
  const dt = previous ? (o.time - previous.time) / 1000 : 0;
  const lines: string[] = [];
  const c = o.connections;
  lines.push(
    `wardend pid ${o.pid}, up ${o.uptime} s; connections ${c.active} active, ${c.idle} idle, ${c.accepted} accepted; ${new Date(o.time).toISOString()}`,
  );
  lines.push('');
  lines.push(`${pad('LISTENER', 24)}${pad('PASS', 28)}${lpad('REQ/S', 9)}${lpad('ERR/S', 9)}${lpad('TOTAL', 10)}${lpad('MEAN', 12)}`);
  for (const l of o.listeners) {
    const b = previous?.listeners.find((x) => x.name === l.name)?.requests;
    lines.push(
      `${pad(l.name + (l.tls ? ' (tls)' : ''), 24)}${pad(l.pass, 28)}${lpad(fmt(rate(l.requests.total, b?.total, dt)), 9)}${lpad(fmt(rate(errors(l.requests), b && errors(b), dt)), 9)}${lpad(l.requests.total, 10)}${lpad(meanMs(l.requests), 12)}`,
    );
  }
  lines.push('');
  lines.push(
    `${pad('APPLICATION', 24)}${pad('TYPE', 10)}${lpad('PROCS', 6)}${lpad('REQ/S', 9)}${lpad('ERR/S', 9)}${lpad('TOTAL', 10)}${lpad('RESTARTS', 10)}  ISOLATION`,
  );
  for (const a of o.applications) {
    const b = previous?.applications.find((x) => x.name === a.name)?.requests;
    const restarts = a.restarts.crash + a.restarts.stall + a.restarts.restart;
    lines.push(
      `${pad(a.name, 24)}${pad(a.type, 10)}${lpad(a.processes.length, 6)}${lpad(fmt(rate(a.requests.total, b?.total, dt)), 9)}${lpad(fmt(rate(errors(a.requests), b && errors(b), dt)), 9)}${lpad(a.requests.total, 10)}${lpad(restarts, 10)}  ${isolationText(a.isolation)}`,
    );
    if (a.prototypePid !== null) lines.push(`    prototype pid ${a.prototypePid}`);
    for (const p of a.processes) {
      lines.push(`    pid ${pad(p.pid, 8)} ${pad(p.state, 9)} ${pad(`${p.inflight} in flight`, 13)} runs in: ${observedText(p.observed)}`);
    }
  }
  return lines.join('\n') + '\n';
}

function isolationText(i: Overview['applications'][number]['isolation']): string {
  if (i === null) return 'none';
  const maps = (m: unknown[]) => mapText(m as { host?: number; container?: number; size?: number }[]);
  const parts = [`ns: ${i.namespaces.join(',') || 'none'}`];
  if (i.uidmap.length > 0) parts.push(`uidmap ${maps(i.uidmap)}`);
  if (i.gidmap.length > 0) parts.push(`gidmap ${maps(i.gidmap)}`);
  if (i.cgroup !== null) parts.push(`cgroup ${JSON.stringify(i.cgroup)}`);
  if (i.rootfs !== null) parts.push(`rootfs ${i.rootfs}`);
  return parts.join('; ');
}

const mapText = (m: { host?: number; container?: number; size?: number }[]) => m.map((e) => `${e.host}->${e.container}(${e.size ?? 1})`).join(',');

/** What a process really runs in (read from /proc by wardend), on one line. */
function observedText(o: Overview['applications'][number]['processes'][number]['observed']): string {
  if (o === null) return 'unknown (not readable)';
  const parts = [`ns: ${o.namespaces.join(',') || 'none'}`];
  if (o.namespaces.includes('credential')) parts.push(`uidmap ${mapText(o.uidmap)}`, `gidmap ${mapText(o.gidmap)}`);
  if (o.cgroup !== null) parts.push(`cgroup ${o.cgroup}`);
  const limits = Object.entries(o.limits).filter(([, v]) => v !== 'max' && v !== 'max 100000');
  if (limits.length > 0) parts.push(limits.map(([k, v]) => `${k}=${v}`).join(' '));
  return parts.join('; ');
}

/** Reads one overview from wardend (`GET /ui/overview.json`). */
export async function fetchOverview(target: WardenControlTarget): Promise<Overview> {
  const res = await controlRequest(target, 'GET', '/ui/overview.json');
  if (res.status !== 200 || res.json === undefined) {
    throw new WardenCliError(
      'WARDEN_ERR_CLI_REQUEST',
      `wardend at ${target.text} answered ${res.status} to GET /ui/overview.json (${res.text.trim().slice(0, 200)})`,
      1,
    );
  }
  return res.json as Overview;
}

/**
 * `warden top`: prints a frame every {@link TOP_INTERVAL_MS} (clearing the terminal before each when `tty`) until
 * interrupted; `once` prints one frame and returns.
 */
export async function top(target: WardenControlTarget, out: (t: string) => void, opts: { once: boolean; tty: boolean }): Promise<number> {
  let previous: Overview | undefined;
  for (;;) {
    const o = await fetchOverview(target);
    out((opts.tty && !opts.once ? '\x1b[H\x1b[2J' : '') + renderTop(o, previous));
    if (opts.once) return 0;
    previous = o;
    await new Promise((r) => setTimeout(r, TOP_INTERVAL_MS));
  }
}
