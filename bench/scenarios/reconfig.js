// Reconfiguration: (1) the time `PUT /config` takes to apply a config whose listener passes to 1,000 routes (the app
// is already running and unchanged, only the routes differ from the running config), median of a few; (2) failed
// requests while wrk loads that listener and the config is replaced `reconfigs` times, alternating between the
// 1,000-route config with one app and a variant with other routes and a second app (so apps start and stop too).
// Every route passes to the loaded app, so every failure wrk sees (non-2xx, socket errors) is one a client would see.
'use strict';
const { performance } = require('perf_hooks');
const { appConfig, freePort, waitFor200, wrkRun } = require('../support');

/** A config whose listener on `port` passes to `routes` routes (prefix `tag`) ending in a catch-all. */
function routesConfig(bin, port, routes, tag, extraApp) {
  const pass = { pass: 'applications/hello' };
  const list = Array.from({ length: routes - 1 }, (_, i) => ({ match: { uri: `/${tag}/${i}/*` }, action: pass }));
  list.push({ action: pass });
  const applications = { hello: appConfig('go', bin) };
  if (extraApp) applications.extra = appConfig('go', bin);
  return { listeners: { [`127.0.0.1:${port}`]: { pass: 'routes' } }, routes: list, applications };
}

/** Runs both measurements on wardend `w`; `o`: { routes, applies, reconfigs, threads }. */
async function reconfig(w, ctx, o) {
  const { bin, log } = ctx;
  const port = await freePort();
  const configs = [routesConfig(bin, port, o.routes, 'a', false), routesConfig(bin, port, o.routes, 'b', true)];
  const routesOnly = routesConfig(bin, port, o.routes, 'c', false);
  await w.control('PUT', '/config', configs[0]);
  await waitFor200(port);

  const applyMs = [];
  for (let i = 0; i < o.applies; i++) {
    const t0 = performance.now();
    await w.control('PUT', '/config', i % 2 ? configs[0] : routesOnly);
    applyMs.push(performance.now() - t0);
  }
  await w.control('PUT', '/config', configs[0]);

  const load = wrkRun(`http://127.0.0.1:${port}/`, { threads: o.threads, connections: 32, duration: 3600 });
  let done = 0;
  let loadError;
  load.result.catch((e) => (loadError = e));
  await new Promise((r) => setTimeout(r, 500)); // wrk connected and loading
  const t0 = performance.now();
  try {
    for (; done < o.reconfigs && !loadError; done++) await w.control('PUT', '/config', configs[(done + 1) % 2]);
  } finally {
    await new Promise((r) => setTimeout(r, 500)); // requests in flight at the last switch complete
    load.stop();
  }
  const elapsed = performance.now() - t0;
  const r = await load.result;
  await w.control('PUT', '/config', { listeners: {}, applications: {} });
  log(
    `  ${o.routes} routes applied in ${applyMs.map((t) => t.toFixed(0)).join(', ')} ms; ${done} reconfigurations in ${(elapsed / 1000).toFixed(1)} s under load: ${r.requests} requests, ${r.errors} failed`,
  );
  return { routes: o.routes, applyMs, reconfigs: done, seconds: elapsed / 1000, requests: r.requests, failed: r.errors, rps: r.rps, p99: r.p99 };
}

module.exports = { reconfig, routesConfig };
