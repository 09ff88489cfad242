import type { CompletedRequest } from '@warden/http-router';
import { LATENCY_BUCKETS, observeHistogram } from '../histogram';

/** Status classes in the order of {@link SeriesSnapshot.codes}: `aborted`, 1xx ... 5xx. */
export const STATUS_CLASSES = ['aborted', '1xx', '2xx', '3xx', '4xx', '5xx'] as const;

/** Requests of one listener or application: count per status class and the latency histogram (plain numbers, JSON-able). */
export interface SeriesSnapshot {
  codes: number[];
  buckets: number[];
  sum: number;
  count: number;
}

/** A router's request counters since it started. */
export interface RecorderSnapshot {
  listeners: Record<string, SeriesSnapshot>;
  apps: Record<string, SeriesSnapshot>;
}

function series(): SeriesSnapshot {
  return { codes: new Array<number>(STATUS_CLASSES.length).fill(0), buckets: new Array<number>(LATENCY_BUCKETS.length).fill(0), sum: 0, count: 0 };
}

function observe(s: SeriesSnapshot, cls: number, seconds: number): void {
  s.codes[cls]!++;
  observeHistogram(s, LATENCY_BUCKETS, seconds);
}

/**
 * The request counters of one router process, fed by http-router's `onRequestDone` (a bucket search and a few
 * additions per request, no allocation after a listener's or app's first request); main sums every router's
 * snapshot into the metrics and the status page.
 */
export class RequestRecorder {
  private readonly data: RecorderSnapshot = { listeners: Object.create(null), apps: Object.create(null) };

  readonly requestDone = (r: CompletedRequest): void => {
    const seconds = r.durationMs / 1000;
    const cls = r.status < 100 ? 0 : r.status >= 600 ? 5 : (r.status / 100) | 0;
    observe((this.data.listeners[r.listener] ??= series()), cls, seconds);
    if (r.app !== null) observe((this.data.apps[r.app] ??= series()), cls, seconds);
  };

  snapshot(): RecorderSnapshot {
    return this.data;
  }
}

/** Adds `b` into `a` (same shapes). */
export function addSnapshot(a: RecorderSnapshot, b: RecorderSnapshot): void {
  for (const kind of ['listeners', 'apps'] as const) {
    for (const [name, s] of Object.entries(b[kind])) {
      const t = (a[kind][name] ??= series());
      for (let i = 0; i < t.codes.length; i++) t.codes[i]! += s.codes[i] ?? 0;
      for (let i = 0; i < t.buckets.length; i++) t.buckets[i]! += s.buckets[i] ?? 0;
      t.sum += s.sum;
      t.count += s.count;
    }
  }
}

export function emptySnapshot(): RecorderSnapshot {
  return { listeners: Object.create(null), apps: Object.create(null) };
}
