// Cold start: the time from sending `PUT /config` (a new listener passing to a new app) to the first 200 on that
// listener, per variant, the variants interleaved sample by sample; between samples the app and listener are removed
// (PUT of an empty config), so every sample starts a new prototype and a new app process, once the last one has exited
// (a Node app that is still exiting took two cores' worth of time from the next sample: Go 29.3 instead of 25.1 ms).
// Also records when the PUT itself was answered (wardend answers once the app's first process is ready).
'use strict';
const { performance } = require('perf_hooks');
const fs = require('fs');
const path = require('path');
const { appConfig, descendants, freePort, get, median, routerPids, sleep, startWardend } = require('../support');

/** The variants measured: Go with no isolation, Go with every namespace (root only), the Node app. */
function variants(isolation) {
  return [
    { name: 'Go, no namespaces', app: 'go', isolated: false },
    ...(isolation ? [{ name: 'Go, all namespaces', app: 'go', isolated: true }] : []),
    { name: 'Node, no namespaces', app: 'node', isolated: false },
  ];
}

/** One sample: ms to the PUT's answer and to the first 200. */
async function sample(w, bin, v) {
  const port = await freePort();
  const config = { listeners: { [`127.0.0.1:${port}`]: { pass: 'applications/cold' } }, applications: { cold: appConfig(v.app, bin, v.isolated) } };
  const t0 = performance.now();
  await w.control('PUT', '/config', config);
  const put = performance.now() - t0;
  for (;;) {
    const status = await get(port).catch(() => 0);
    if (status === 200) break;
    if (performance.now() - t0 > 30000) throw new Error(`cold start (${v.name}): no 200 within 30 s (last ${status})`);
  }
  const first = performance.now() - t0;
  await w.control('PUT', '/config', { listeners: {}, applications: {} });
  await appsGone(w);
  return { put, first };
}

/** Waits (5 s at most) until wardend's only child processes are its routers: the removed app has exited. */
async function appsGone(w) {
  for (let i = 0; i < 1000; i++) {
    const routers = routerPids(w.pid);
    if (descendants(w.pid).every((d) => routers.includes(d.pid))) return;
    await sleep(5);
  }
}

/** Runs `samples` interleaved samples of every variant on wardend `w`; returns [{ name, firstMs, putMs, samples }]. */
async function coldStart(w, ctx, o) {
  const vs = variants(o.isolation).map((v) => ({ ...v, samples: [] }));
  await sample(w, ctx.bin, vs[0]); // warm the page cache and wardend's code paths
  for (let i = 0; i < o.samples; i++) for (const v of vs) v.samples.push(await sample(w, ctx.bin, v));
  return summary(vs, ctx);
}

/**
 * The first start of a wardend's life, as after a boot or a deploy: a new wardend (its first `PUT /config`, nothing
 * warmed by an earlier start) per sample, Go with no namespaces and (root) with all, interleaved; `samples` of each.
 * Each wardend runs one second before its PUT, so that its own start is over.
 */
async function firstStarts(ctx, o, samples) {
  const vs = variants(o.isolation)
    .filter((v) => v.app === 'go')
    .map((v) => ({ ...v, name: `${v.name}, first start of a new wardend`, samples: [] }));
  for (let i = 0; i < samples; i++) {
    for (const v of vs) {
      const dir = fs.mkdtempSync(path.join(ctx.dir, 'first-'));
      fs.chmodSync(dir, 0o755);
      const w = await startWardend(dir);
      try {
        await sleep(1000);
        v.samples.push(await sample(w, ctx.bin, v));
      } finally {
        await w.stop();
        fs.rmSync(dir, { recursive: true, force: true });
      }
    }
  }
  return summary(vs, ctx);
}

/** Each variant's medians as the report takes them, logged as they come: [{ name, firstMs, putMs, samples }]. */
function summary(vs, ctx) {
  return vs.map((v) => {
    const r = { name: v.name, firstMs: median(v.samples.map((s) => s.first)), putMs: median(v.samples.map((s) => s.put)), samples: v.samples };
    ctx.log(`  cold start, ${v.name}: first 200 after ${r.firstMs.toFixed(1)} ms (PUT answered after ${r.putMs.toFixed(1)} ms)`);
    return r;
  });
}

module.exports = { coldStart, firstStarts, variants };
