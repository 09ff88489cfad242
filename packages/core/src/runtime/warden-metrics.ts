import type { Metric, Registry } from 'prom-client';
import type { RouterStats } from '@warden/http-router';
import type { RecorderSnapshot, SeriesSnapshot } from './fleet/request-recorder';
import { HistogramCounts, LATENCY_BUCKETS, SPAWN_BUCKETS } from './histogram';
import { processState } from './overview';

/** The `code` label of the request counters: status class, `aborted` when the client left before a response. */
const CLASSES = ['aborted', '1xx', '2xx', '3xx', '4xx', '5xx'] as const;

type Prom = typeof import('prom-client');

const NO_REQUESTS: RecorderSnapshot = { listeners: {}, apps: {} };

/** The per-application counters that outlive the application's pools (a restart makes a new pool). */
export class AppStats {
  /** Processes replaced because they exited unexpectedly (crash, kill, OOM). */
  crashes = 0;
  /** Processes replaced because they stopped reading their requests. */
  stalls = 0;
  /** `/control/applications/<app>/restart` and reconfigurations that replaced every process. */
  restarts = 0;
  /** Process start to READY, seconds. */
  readonly spawn = new HistogramCounts(SPAWN_BUCKETS);
  /** Back-pressure counts of channels whose processes are gone (those of live ones are read at scrape time). */
  retiredRingFull = 0;
  retiredCreditWaits = 0;
}

/** One process as the metrics see it. */
export interface ProcessView {
  readonly state: string;
  readonly stalled: boolean;
  readonly inflight: number;
  readonly channel: { readonly ringFullWaits: number; readonly creditWaits: number };
}

/** What the metrics read at scrape time. */
export interface MetricsSources {
  /** Unit's connection counters, summed over the routers. */
  connections(): RouterStats['connections'];
  /** Request counters per listener and application, summed over the routers (as of the last refresh). */
  requests(): RecorderSnapshot;
  /** The running applications and their processes (processes being started count as `starting`). */
  apps(): Iterable<{ name: string; processes: Iterable<ProcessView>; starting: number }>;
}

/**
 * wardend's Prometheus metrics (prom-client registry): requests by status class and latency per listener and per
 * application, connections, app processes by state, restarts, spawn latency and channel back-pressure, plus
 * prom-client's default process metrics. The request path calls only {@link requestDone}, http-router's
 * `onRequestDone` hook (no allocation after the
 * first request of a listener or app); everything else is read when scraped.
 */
export class WardenMetrics {
  private built: Registry | null = null;
  private readonly appStats = new Map<string, AppStats>();
  private sources: MetricsSources | null = null;

  /**
   * prom-client's registry with every metric, made at the first scrape: a wardend nobody scrapes never loads
   * prom-client (about 5 MB of heap and code). Every metric is read from wardend's own counters when scraped, so
   * nothing is lost before; only prom-client's default process metrics that observe events (GC durations, event
   * loop lag) start with the first scrape.
   */
  private get registry(): Registry {
    if (this.built === null) {
      // eslint-disable-next-line @typescript-eslint/no-require-imports -- deliberately lazy (see above)
      const prom = require('prom-client') as typeof import('prom-client');
      const registry = new prom.Registry();
      prom.collectDefaultMetrics({ register: registry, prefix: 'warden_' });
      this.defineRequestMetrics(prom, registry, 'listener', () => (this.sources?.requests() ?? NO_REQUESTS).listeners, 'warden_http');
      this.defineRequestMetrics(prom, registry, 'app', () => (this.sources?.requests() ?? NO_REQUESTS).apps, 'warden_app');
      this.defineRuntimeMetrics(prom, registry);
      this.built = registry;
    }
    return this.built;
  }

  /** Where connection and process numbers come from (set once the router and supervisor exist). */
  attach(sources: MetricsSources): void {
    this.sources = sources;
  }

  /** The counters of application `app` (created at its first pool). */
  app(name: string): AppStats {
    let s = this.appStats.get(name);
    if (s === undefined) this.appStats.set(name, (s = new AppStats()));
    return s;
  }

  /** Request totals of one listener or application (zeros before its first request). */
  requests(kind: 'listener' | 'app', name: string): { total: number; codes: Record<string, number>; latencySum: number } {
    const all = this.sources?.requests() ?? NO_REQUESTS;
    const s = (kind === 'listener' ? all.listeners : all.apps)[name];
    const codes: Record<string, number> = {};
    for (let i = 0; i < CLASSES.length; i++) codes[CLASSES[i]!] = s?.codes[i] ?? 0;
    return { total: s?.count ?? 0, codes, latencySum: s?.sum ?? 0 };
  }

  /** The exposition (Prometheus text format 0.0.4) and its content type. */
  async exposition(): Promise<{ contentType: string; text: string }> {
    return { contentType: this.registry.contentType, text: await this.registry.metrics() };
  }

  private defineRequestMetrics(prom: Prom, registry: Registry, label: string, series: () => Record<string, SeriesSnapshot>, prefix: string): void {
    const what = label === 'listener' ? 'listener' : 'application';
    new prom.Counter({
      name: `${prefix}_requests_total`,
      help: `Requests completed per ${what} and status class (code="aborted": the client went away before a response)`,
      labelNames: [label, 'code'],
      registers: [registry],
      collect() {
        this.reset();
        for (const [name, s] of Object.entries(series())) {
          for (let i = 0; i < CLASSES.length; i++) if (s.codes[i]! > 0) this.inc({ [label]: name, code: CLASSES[i] }, s.codes[i]!);
        }
      },
    });
    registry.registerMetric(
      histogramMetric(
        `${prefix}_request_duration_seconds`,
        `Request latency per ${what}, from the request head to the end of the response`,
        label,
        LATENCY_BUCKETS,
        () => Object.entries(series()),
      ),
    );
  }

  private defineRuntimeMetrics(prom: Prom, registry: Registry): void {
    const self = this;
    const r = [registry];
    new prom.Gauge({
      name: 'warden_connections',
      help: 'Client connections open now, by state (active: a request in progress)',
      labelNames: ['state'],
      registers: r,
      collect() {
        const c = self.sources?.connections();
        this.set({ state: 'active' }, c?.active ?? 0);
        this.set({ state: 'idle' }, c?.idle ?? 0);
      },
    });
    new prom.Counter({
      name: 'warden_connections_accepted_total',
      help: 'Client connections accepted',
      registers: r,
      collect() {
        this.reset();
        this.inc(self.sources?.connections().accepted ?? 0);
      },
    });
    new prom.Gauge({
      name: 'warden_app_processes',
      help: 'Application processes by state (starting, idle, busy, stalled: out of rotation, draining)',
      labelNames: ['app', 'state'],
      registers: r,
      collect() {
        this.reset();
        for (const app of self.sources?.apps() ?? []) {
          const n: Record<string, number> = { starting: app.starting, idle: 0, busy: 0, stalled: 0, draining: 0 };
          for (const p of app.processes) {
            const state = processState(p);
            if (state in n) n[state]!++;
          }
          for (const [state, v] of Object.entries(n)) this.set({ app: app.name, state }, v);
        }
      },
    });
    new prom.Counter({
      name: 'warden_app_restarts_total',
      help: 'Application processes replaced, by cause (crash: exited unexpectedly; stall: stopped reading requests; restart: control API restart)',
      labelNames: ['app', 'cause'],
      registers: r,
      collect() {
        this.reset();
        for (const [app, s] of self.appStats) {
          this.inc({ app, cause: 'crash' }, s.crashes);
          this.inc({ app, cause: 'stall' }, s.stalls);
          this.inc({ app, cause: 'restart' }, s.restarts);
        }
      },
    });
    registry.registerMetric(
      histogramMetric('warden_app_spawn_duration_seconds', 'Application process start until the process said READY on its channel', 'app', SPAWN_BUCKETS, () =>
        mapValues(this.appStats, (s) => s.spawn),
      ),
    );
    const backPressure = (name: string, help: string, retired: (s: AppStats) => number, live: (p: ProcessView) => number) =>
      new prom.Counter({
        name,
        help,
        labelNames: ['app'],
        registers: r,
        collect() {
          this.reset();
          const liveByApp = new Map<string, number>();
          for (const app of self.sources?.apps() ?? []) {
            let n = 0;
            for (const p of app.processes) n += live(p);
            liveByApp.set(app.name, n);
          }
          for (const [app, s] of self.appStats) this.inc({ app }, retired(s) + (liveByApp.get(app) ?? 0));
        },
      });
    backPressure(
      'warden_channel_ring_full_total',
      "Times wardend found an app process's request ring full and waited for the process to read (the app is slower than its traffic)",
      (s) => s.retiredRingFull,
      (p) => p.channel.ringFullWaits,
    );
    backPressure(
      'warden_channel_credit_waits_total',
      "Times a request body sent to an app process went beyond the process's flow-control window and waited for it",
      (s) => s.retiredCreditWaits,
      (p) => p.channel.creditWaits,
    );
  }
}

function* mapValues<K, V, W>(m: Map<K, V>, f: (v: V) => W): Iterable<[K, W]> {
  for (const [k, v] of m) yield [k, f(v)];
}

/**
 * A prom-client registry entry for histograms kept in {@link HistogramCounts}: the registry formats what `get()`
 * returns exactly as it does for its own Histogram (`_bucket` with cumulative `le`, `+Inf`, `_sum`, `_count`).
 */
function histogramMetric(
  name: string,
  help: string,
  label: string,
  bounds: readonly number[],
  series: () => Iterable<[string, { buckets: ArrayLike<number>; sum: number; count: number }]>,
): Metric {
  const metric = {
    name,
    help,
    type: 'histogram',
    aggregator: 'sum',
    reset() {},
    async get() {
      const values: { labels: Record<string, string | number>; value: number; metricName: string }[] = [];
      for (const [key, h] of series()) {
        let acc = 0;
        for (let i = 0; i < bounds.length; i++) {
          acc += h.buckets[i]!;
          values.push({ labels: { [label]: key, le: bounds[i]! }, value: acc, metricName: `${name}_bucket` });
        }
        values.push({ labels: { [label]: key, le: '+Inf' }, value: h.count, metricName: `${name}_bucket` });
        values.push({ labels: { [label]: key }, value: h.sum, metricName: `${name}_sum` });
        values.push({ labels: { [label]: key }, value: h.count, metricName: `${name}_count` });
      }
      return { name, help, type: 'histogram', values, aggregator: 'sum' };
    },
  };
  return metric as unknown as Metric;
}
