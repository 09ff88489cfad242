import { connect } from 'net';
import { request } from 'http';
import { join } from 'path';
import { ROOT, cleanup, freePort, http, startWardend, worldDir, type Wardend } from './support/wardend';

const FIXTURES = join(ROOT, 'packages/app-types/test/fixtures');

/** A GET over the control socket, with the response's content type (controlRequest keeps only the body). */
function controlGet(socket: string, path: string): Promise<{ status: number; type: string; text: string }> {
  return new Promise((ok, fail) => {
    request({ socketPath: socket, path }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (text += c));
      res.on('end', () => ok({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), text }));
    })
      .on('error', fail)
      .end();
  });
}

/** One sample of the Prometheus text format: name, labels, value. */
interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** A small parser of the Prometheus text exposition (0.0.4): `# HELP`/`# TYPE` lines, then `name{l="v",...} value`. */
export function parseExposition(text: string): { samples: Sample[]; types: Record<string, string> } {
  const samples: Sample[] = [];
  const types: Record<string, string> = {};
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const t = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (t) {
      types[t[1]!] = t[2]!;
      continue;
    }
    if (line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`not an exposition line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!.replace(/\\(.)/g, '$1');
    samples.push({ name: m[1]!, labels, value: m[3] === '+Inf' ? Infinity : Number(m[3]) });
  }
  return { samples, types };
}

/** The value of the sample `name` whose labels include `labels` (0 when there is none). */
function value(samples: Sample[], name: string, labels: Record<string, string>): number {
  const s = samples.find((x) => x.name === name && Object.entries(labels).every(([k, v]) => x.labels[k] === v));
  return s?.value ?? 0;
}

describe('Prometheus metrics on the control socket and on settings.metrics.listen', () => {
  let dir: string;
  let w: Wardend;
  let direct: number;
  let routed: number;
  let lDirect: string;
  let lRouted: string;

  beforeAll(async () => {
    dir = worldDir('warden-metrics-');
    w = await startWardend([], dir);
    direct = await freePort();
    routed = await freePort();
    lDirect = `127.0.0.1:${direct}`;
    lRouted = `127.0.0.1:${routed}`;
    const res = await w.control('PUT', '/config', {
      listeners: { [lDirect]: { pass: 'applications/hello' }, [lRouted]: { pass: 'routes' } },
      routes: [{ match: { uri: '/missing' }, action: { return: 404 } }, { action: { pass: 'applications/hello' } }],
      applications: { hello: { type: 'node', working_directory: FIXTURES, script: 'hello-cjs.js' } },
    });
    expect(res).toEqual({ status: 200, body: { success: 'Reconfiguration done.' } });
  });
  afterAll(async () => {
    await w?.stop();
    cleanup(dir);
  });

  async function scrape(): Promise<Sample[]> {
    const res = await controlGet(w.socket, '/metrics');
    expect(res.status).toBe(200);
    return parseExposition(res.text).samples;
  }

  it('serves the Prometheus text format with its content type and metric types', async () => {
    const res = await controlGet(w.socket, '/metrics');
    expect(res.status).toBe(200);
    expect(res.type).toBe('text/plain; version=0.0.4; charset=utf-8');
    const { types } = parseExposition(res.text);
    expect(types).toMatchObject({
      warden_http_requests_total: 'counter',
      warden_http_request_duration_seconds: 'histogram',
      warden_app_requests_total: 'counter',
      warden_app_request_duration_seconds: 'histogram',
      warden_connections: 'gauge',
      warden_app_processes: 'gauge',
      warden_app_restarts_total: 'counter',
      warden_app_spawn_duration_seconds: 'histogram',
      warden_channel_ring_full_total: 'counter',
      warden_process_cpu_user_seconds_total: 'counter',
    });
  });

  it('moves the request counters and histograms of each listener and app by exactly the requests sent', async () => {
    const before = await scrape();
    for (let i = 0; i < 7; i++) expect((await http(direct, '/hello')).status).toBe(200);
    for (let i = 0; i < 5; i++) expect((await http(routed, '/missing')).status).toBe(404);
    for (let i = 0; i < 3; i++) expect((await http(routed, '/hello')).status).toBe(200);
    const after = await scrape();
    const delta = (name: string, labels: Record<string, string>) => value(after, name, labels) - value(before, name, labels);

    expect(delta('warden_http_requests_total', { listener: lDirect, code: '2xx' })).toBe(7);
    expect(delta('warden_http_requests_total', { listener: lRouted, code: '4xx' })).toBe(5);
    expect(delta('warden_http_requests_total', { listener: lRouted, code: '2xx' })).toBe(3);
    expect(delta('warden_app_requests_total', { app: 'hello', code: '2xx' })).toBe(10);
    expect(delta('warden_app_requests_total', { app: 'hello', code: '4xx' })).toBe(0);

    expect(delta('warden_http_request_duration_seconds_count', { listener: lDirect })).toBe(7);
    expect(delta('warden_http_request_duration_seconds_bucket', { listener: lDirect, le: '+Inf' })).toBe(7);
    expect(delta('warden_http_request_duration_seconds_count', { listener: lRouted })).toBe(8);
    expect(delta('warden_app_request_duration_seconds_count', { app: 'hello' })).toBe(10);
    expect(delta('warden_app_request_duration_seconds_sum', { app: 'hello' })).toBeGreaterThan(0);
    // Buckets are cumulative: non-decreasing in `le`, ending at the count; local requests take well under 10 s.
    const buckets = after.filter((s) => s.name === 'warden_app_request_duration_seconds_bucket' && s.labels.app === 'hello');
    expect(buckets.length).toBeGreaterThan(5);
    for (let i = 1; i < buckets.length; i++) expect(buckets[i]!.value).toBeGreaterThanOrEqual(buckets[i - 1]!.value);
    expect(value(after, 'warden_app_request_duration_seconds_bucket', { app: 'hello', le: '10' })).toBe(
      value(after, 'warden_app_request_duration_seconds_count', { app: 'hello' }),
    );
  });

  it('shows app processes by state, spawn latency and connections', async () => {
    const s = await scrape();
    const processes = s.filter((x) => x.name === 'warden_app_processes' && x.labels.app === 'hello').reduce((n, x) => n + x.value, 0);
    expect(processes).toBeGreaterThanOrEqual(1);
    expect(value(s, 'warden_app_spawn_duration_seconds_count', { app: 'hello' })).toBeGreaterThanOrEqual(1);
    expect(value(s, 'warden_connections_accepted_total', {})).toBeGreaterThanOrEqual(1);
    expect(value(s, 'warden_app_restarts_total', { app: 'hello', cause: 'restart' })).toBe(0);
  });

  it('counts a control API restart as restarts of the replaced processes', async () => {
    const before = await scrape();
    const replaced = before.filter((x) => x.name === 'warden_app_processes' && x.labels.app === 'hello').reduce((n, x) => n + x.value, 0);
    expect((await w.control('GET', '/control/applications/hello/restart')).status).toBe(200);
    const after = await scrape();
    expect(value(after, 'warden_app_restarts_total', { app: 'hello', cause: 'restart' })).toBe(replaced);
    expect(value(after, 'warden_app_spawn_duration_seconds_count', { app: 'hello' })).toBeGreaterThan(
      value(before, 'warden_app_spawn_duration_seconds_count', { app: 'hello' }),
    );
  });

  it('refuses an invalid settings.metrics.listen with an error naming the path, and keeps running', async () => {
    const res = await w.control('PUT', '/config/settings', { metrics: { listen: 'everywhere' } });
    expect(res.status).toBe(400);
    expect(JSON.stringify(res.body)).toMatch(/settings\/metrics\/listen/);
    const unknown = await w.control('PUT', '/config/settings', { metrics: { port: 9100 } });
    expect(unknown.status).toBe(400);
    expect((await http(direct, '/hello')).status).toBe(200);
  });

  it('serves /metrics, /ui and its JSON (and nothing else) on settings.metrics.listen', async () => {
    const port = await freePort();
    const res = await w.control('PUT', '/config/settings', { metrics: { listen: `127.0.0.1:${port}` } });
    expect(res).toEqual({ status: 200, body: { success: 'Reconfiguration done.' } });
    const m = await http(port, '/metrics');
    expect(m.status).toBe(200);
    expect(m.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(value(parseExposition(m.body.toString()).samples, 'warden_app_requests_total', { app: 'hello', code: '2xx' })).toBeGreaterThanOrEqual(10);
    const page = await http(port, '/ui');
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(page.body.toString()).toMatch(/<title>Warden status<\/title>/);
    const overview = JSON.parse((await http(port, '/ui/overview.json')).body.toString());
    expect(overview.applications.map((a: { name: string }) => a.name)).toEqual(['hello']);
    expect((await http(port, '/config')).status).toBe(404); // the control API is not there
    expect((await http(port, '/metrics', { method: 'POST' })).status).toBe(405);
    // Removing the setting closes the listener.
    expect((await w.control('DELETE', '/config/settings/metrics')).status).toBe(200);
    // A new TCP connection, not one of the agent's kept-alive sockets (which the close reset).
    const connecting = new Promise<void>((ok, fail) => {
      const s = connect(port, '127.0.0.1', () => {
        s.destroy();
        ok();
      });
      s.on('error', fail);
    });
    await expect(connecting).rejects.toThrow(/ECONNREFUSED/);
  });
});
