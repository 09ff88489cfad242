// Latency histograms as plain numbers, without prom-client: the router processes count every request into them and
// never load prom-client (about 5 MB of heap and code per process); main exports them through its registry.

/** Upper bounds (seconds) of the request latency histograms. */
export const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** Upper bounds (seconds) of the spawn latency histogram (process start to READY). */
export const SPAWN_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/**
 * A histogram kept as plain numbers: `observe` is a bucket search and three additions (no allocation), so it can
 * run once per request. prom-client's own `observe` hashes its labels and allocates on every call (about 1 µs per
 * request measured here); this one is exported through prom-client's registry at scrape time instead.
 */
export class HistogramCounts {
  readonly buckets: Float64Array;
  sum = 0;
  count = 0;

  constructor(readonly bounds: readonly number[]) {
    this.buckets = new Float64Array(bounds.length);
  }

  observe(v: number): void {
    observeHistogram(this, this.bounds, v);
  }
}

/** Counts `v` into histogram `h` (its bucket per upper bound `bounds`, beyond the last one only in `count`). */
export function observeHistogram(h: { buckets: { [i: number]: number }; sum: number; count: number }, bounds: readonly number[], v: number): void {
  let i = 0;
  while (i < bounds.length && v > bounds[i]!) i++;
  if (i < bounds.length) h.buckets[i]!++;
  h.sum += v;
  h.count++;
}
