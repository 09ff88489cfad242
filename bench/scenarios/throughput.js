// Throughput and latency: each case is a pair of servers measured with wrk in interleaved rounds (A, B, A, B, ...),
// so both sides see the same machine state. Cases, per app (Go: net/http directly, `external` under wardend; Node:
// node:http directly, `node` under wardend):
//   - direct vs through wardend: GET 64 B and GET 64 KiB at each connection count, POST 1 MiB echo at the first one;
//   - all namespaces off vs on, both through wardend: GET 64 B at the first connection count (needs root).
'use strict';
const { appConfig, freePort, postScript, startDirect, waitFor200, wrk } = require('../support');

const LABEL = { go: 'Go', node: 'Node' };

/** The cases to measure for `apps` at `connections` (pure: the plan only). */
function plan(apps, connections, isolation) {
  const cases = [];
  for (const app of apps) {
    for (const [size, path] of [
      ['64 B', '/'],
      ['64 KiB', '/64k'],
    ]) {
      for (const c of connections) cases.push({ name: `${LABEL[app]} GET ${size}`, app, path, connections: c, a: 'direct', b: 'wardend' });
    }
    cases.push({ name: `${LABEL[app]} POST 1 MiB echo`, app, path: '/echo', post: 1 << 20, connections: connections[0], a: 'direct', b: 'wardend' });
    if (isolation) cases.push({ name: `${LABEL[app]} GET 64 B, all namespaces`, app, path: '/', connections: connections[0], a: 'wardend', b: 'wardend-ns' });
  }
  return cases;
}

const SIDE_LABEL = { direct: 'direct', wardend: 'wardend', 'wardend-ns': 'wardend, all ns' };

/**
 * Runs the throughput cases on the wardend `w` (the apps and listeners added here stay until the caller stops it) and
 * on the apps served directly (stopped here); returns the cases with every round's figures. `o`: { apps, connections, duration, rounds, threads, isolation, warmup }.
 */
async function throughput(w, ctx, o) {
  const { bin, dir, log } = ctx;
  const servers = {}; // `${app}:${side}` → port
  const direct = [];
  try {
    for (const app of o.apps) {
      const d = await startDirect(app, bin);
      direct.push(d.proc);
      servers[`${app}:direct`] = d.port;
      for (const [side, isolated] of [
        ['wardend', false],
        ['wardend-ns', true],
      ]) {
        if (isolated && !o.isolation) continue;
        const port = await freePort();
        const name = `${app}${isolated ? '-ns' : ''}`;
        await w.control('PUT', `/config/applications/${name}`, appConfig(app, bin, isolated));
        await w.control('PUT', `/config/listeners/127.0.0.1:${port}`, { pass: `applications/${name}` });
        await waitFor200(port);
        servers[`${app}:${side}`] = port;
      }
    }
    const post = postScript(dir, 1 << 20);
    const cases = plan(o.apps, o.connections, o.isolation);
    const warm = new Set();
    for (const c of cases) {
      const run = (side, duration) =>
        wrk(`http://127.0.0.1:${servers[`${c.app}:${side}`]}${c.path}`, {
          threads: o.threads,
          connections: c.connections,
          duration,
          script: c.post ? post : undefined,
        });
      const [sa, sb] = [c.a, c.b];
      for (const side of [sa, sb]) {
        const key = `${c.app}:${side}:${c.path}`;
        if (o.warmup && !warm.has(key)) {
          await run(side, o.warmup);
          warm.add(key);
        }
      }
      c.a = { label: SIDE_LABEL[sa], rounds: [] };
      c.b = { label: SIDE_LABEL[sb], rounds: [] };
      for (let i = 0; i < o.rounds; i++) {
        c.a.rounds.push(await run(sa, o.duration));
        c.b.rounds.push(await run(sb, o.duration));
      }
      const last = (s) => s.rounds[s.rounds.length - 1];
      log(
        `  ${c.name}, ${c.connections} conns: ${c.a.label} ${Math.round(last(c.a).rps)} req/s p99 ${last(c.a).p99} ms | ${c.b.label} ${Math.round(last(c.b).rps)} req/s p99 ${last(c.b).p99} ms`,
      );
    }
    return cases;
  } finally {
    direct.forEach((p) => p.kill('SIGTERM'));
  }
}

module.exports = { throughput, plan };
