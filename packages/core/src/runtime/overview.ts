import type { RouterStats } from '@warden/http-router';
import type { WardenConfig } from '../contracts';
import { readProcessIsolation } from './process-isolation';
import type { ObservedIsolation } from './process-isolation';
import type { Supervisor } from './supervisor';
import type { WardenMetrics } from './warden-metrics';

/** One process of an application in the overview. */
export interface OverviewProcess {
  pid: number;
  /** starting, idle, busy, stalled (out of rotation), draining. */
  state: string;
  /** Requests in flight on its channel. */
  inflight: number;
  /**
   * What the process really runs in, read from `/proc/<pid>` when the overview is taken (namespaces compared with
   * wardend's, uid/gid maps, cgroup and its limits); null when it cannot be read (not started yet, gone).
   */
  observed: ObservedIsolation | null;
}

/** Request totals of a listener or application (monotonic; rates are the difference between two overviews). */
export interface OverviewRequests {
  total: number;
  /** By status class: aborted, 1xx .. 5xx. */
  codes: Record<string, number>;
  /** Sum of the latencies, seconds (mean = sum / total). */
  latencySum: number;
}

/** What the status page and `warden top` show: a JSON snapshot, polled. */
export interface Overview {
  /** Milliseconds since the epoch when taken. */
  time: number;
  /** Seconds wardend has been running. */
  uptime: number;
  pid: number;
  connections: RouterStats['connections'];
  /** The router processes (`wardend: router N`): pid, RSS, and their own connection and request counters. */
  routers: RouterView[];
  listeners: { name: string; pass: string; tls: boolean; requests: OverviewRequests }[];
  applications: {
    name: string;
    type: string;
    /**
     * The app's `isolation` as configured: namespaces, uidmap/gidmap, cgroup, rootfs (absent: not isolated). What
     * each process really runs in is its `observed`.
     */
    isolation: {
      namespaces: string[];
      uidmap: unknown[];
      gidmap: unknown[];
      cgroup: unknown;
      rootfs: string | null;
    } | null;
    prototypePid: number | null;
    processes: OverviewProcess[];
    restarts: { crash: number; stall: number; restart: number };
    requests: OverviewRequests;
  }[];
}

/** One router process as the overview shows it. */
export interface RouterView {
  index: number;
  pid: number;
  rssKb: number;
  connections: RouterStats['connections'];
  requests: number;
}

/** What the overview is built from. */
export interface OverviewSources {
  config(): WardenConfig;
  supervisor: Supervisor;
  metrics: WardenMetrics;
  connections(): RouterStats['connections'];
  routers?(): RouterView[];
}

/** A snapshot of listeners, applications, processes with their isolation, and request counters. */
export function buildOverview(src: OverviewSources): Overview {
  const config = src.config();
  const pools = src.supervisor.runningPools();
  const listeners = Object.entries(config.listeners ?? {}).map(([name, l]) => {
    const listener = l as { pass?: string; tls?: unknown };
    return { name, pass: listener.pass ?? '', tls: listener.tls !== undefined, requests: src.metrics.requests('listener', name) };
  });
  const applications = Object.entries(config.applications ?? {}).map(([name, app]) => {
    const pool = pools.get(name);
    const iso = app.isolation as Record<string, unknown> | undefined;
    const ns = (iso?.namespaces ?? {}) as Record<string, unknown>;
    const stats = src.metrics.app(name);
    return {
      name,
      type: app.type,
      isolation: iso
        ? {
            namespaces: Object.keys(ns).filter((k) => ns[k] === true),
            uidmap: (iso.uidmap as unknown[] | undefined) ?? [],
            gidmap: (iso.gidmap as unknown[] | undefined) ?? [],
            cgroup: iso.cgroup ?? null,
            rootfs: typeof iso.rootfs === 'string' ? iso.rootfs : null,
          }
        : null,
      prototypePid: pool?.prototypePid() ?? null,
      processes: (pool?.workers ?? [])
        .filter((w) => w.state !== 'exited')
        .map((w) => ({ pid: w.pid, state: processState(w), inflight: w.inflight, observed: readProcessIsolation(w.pid) })),
      restarts: { crash: stats.crashes, stall: stats.stalls, restart: stats.restarts },
      requests: src.metrics.requests('app', name),
    };
  });
  return {
    time: Date.now(),
    uptime: Math.round(process.uptime()),
    pid: process.pid,
    connections: src.connections(),
    routers: src.routers?.() ?? [],
    listeners,
    applications,
  };
}

/** The state label of a process, as in the `warden_app_processes` metric. */
export function processState(w: { state: string; stalled: boolean; inflight: number }): string {
  if (w.state !== 'running') return w.state;
  if (w.stalled) return 'stalled';
  return w.inflight === 0 ? 'idle' : 'busy';
}
