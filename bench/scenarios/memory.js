// Memory: wardend's RSS (VmRSS of /proc/PID/status, main and router processes summed) idle with no apps, then with N Go apps (one process each, each
// behind its own listener, all answered once), then with 10,000 idle keep-alive connections on one listener (each
// has had one request answered and stays open), 2 s after they opened and (full runs) with wardend idle 45 s before and
// after (what they cost once V8 gave back what the burst of connects grew). Per app, from the process tree under wardend: the prototype's RSS
// (the app's parent) and its spawn helper's (the prototype's parent), the app process's RSS, and the channel's cost:
// the memfd mapping's size and the part of it resident in the app and in wardend (from /proc/PID/smaps). The
// prototype exists only for isolated apps (a plain app is spawned by wardend directly), so it is measured on one
// extra app with every namespace on.
'use strict';
const net = require('net');
const path = require('path');
const {
  appConfig,
  channelMappings,
  descendants,
  freePort,
  median,
  raiseFdLimit,
  routerPids,
  sleep,
  statusKb,
  waitFor200,
  wardendKb,
  wrk,
} = require('../support');

/** Opens `n` keep-alive connections to `port`, each after one answered GET; resolves with the sockets. */
async function openIdle(port, n, parallel = 200) {
  const sockets = [];
  let next = 0;
  const one = () =>
    new Promise((ok, fail) => {
      const s = net.connect(port, '127.0.0.1');
      s.setNoDelay(true);
      let got = '';
      const onData = (d) => {
        got += d.toString('latin1');
        if (/\r\n\r\n[\s\S]{64}$/.test(got)) {
          s.off('data', onData);
          if (!got.startsWith('HTTP/1.1 200')) return fail(new Error(`idle connection ${sockets.length}: ${got.split('\r\n')[0]}`));
          ok(s);
        }
      };
      s.on('data', onData);
      s.on('error', fail);
      s.on('connect', () => s.write('GET / HTTP/1.1\r\nHost: bench\r\n\r\n'));
    });
  const worker = async () => {
    while (next < n) {
      next++;
      sockets.push(await one());
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
  return sockets;
}

/** How long wardend idles before each of the settled measures of the idle connections. */
const IDLE_MS = 45_000;

/**
 * wardend's RSS after `ms` without traffic: V8 gives back what a burst grew (young generation, free heap pages) only
 * when its memory reducer runs, which took 10-30 s after a burst here, after a plateau (so no plateau test can tell
 * it is over). Resolves with { kb, afterMs }.
 */
async function idleKbAfter(pid, ms) {
  const t0 = Date.now();
  await sleep(ms);
  return { kb: wardendKb(pid, 'VmRSS'), afterMs: Date.now() - t0 };
}

/**
 * Memory figures of wardend `w` (started by the caller with no config); `o`: { apps, connections, settleMs,
 * settleMemory (also measure the idle connections' cost with wardend idle 45 s before and after they open) }.
 */
async function memory(w, ctx, o) {
  const { bin, log } = ctx;
  await sleep(o.settleMs);
  const idleKb = wardendKb(w.pid, 'VmRSS');
  const idlePssKb = wardendKb(w.pid, 'Pss');
  const idleAnonKb = wardendKb(w.pid, 'RssAnon');
  const idleFileKb = wardendKb(w.pid, 'RssFile');
  const idleMainKb = statusKb(w.pid, 'VmRSS');
  const idleRoutersKb = routerPids(w.pid).map((p) => statusKb(p, 'VmRSS'));
  log(
    `  wardend idle: ${(idleKb / 1024).toFixed(1)} MB (main ${(idleMainKb / 1024).toFixed(1)}, routers ${idleRoutersKb.map((k) => (k / 1024).toFixed(1)).join(' + ')})`,
  );

  const ports = [];
  const config = { listeners: {}, applications: {} };
  for (let i = 0; i < o.apps; i++) {
    ports.push(await freePort());
    config.listeners[`127.0.0.1:${ports[i]}`] = { pass: `applications/app${i}` };
    config.applications[`app${i}`] = appConfig('go', bin);
  }
  await w.control('PUT', '/config', config);
  for (const p of ports) await waitFor200(p);
  await sleep(o.settleMs);
  const appsKb = wardendKb(w.pid, 'VmRSS');
  log(`  wardend with ${o.apps} apps: ${(appsKb / 1024).toFixed(1)} MB`);

  // Per app process, the channel: the memfd mapping in the app (size, resident) and wardend's side of it.
  const routers = routerPids(w.pid);
  const appProcs = descendants(w.pid).filter((p) => p.comm === path.basename(bin) && !routers.includes(p.pid));
  const per = appProcs.map((a) => ({
    appRssKb: statusKb(a.pid, 'VmRSS'),
    channelKb: channelMappings(a.pid).sizeKb,
    channelAppRssKb: channelMappings(a.pid).rssKb,
  }));
  // wardend's side of the channels is in the routers (each maps its own channel to every app process).
  const wardendChannels = routers
    .map(channelMappings)
    .reduce((a, c) => ({ count: a.count + c.count, sizeKb: a.sizeKb + c.sizeKb, rssKb: a.rssKb + c.rssKb }), { count: 0, sizeKb: 0, rssKb: 0 });

  // A prototype exists for an isolated app (wardend → spawn helper → prototype → app processes): one more app with
  // every namespace on (root only), its prototype's and helper's RSS.
  let prototypeKb = NaN;
  let helperKb = NaN;
  if (o.isolation) {
    await w.control('PUT', '/config/applications/isolated', appConfig('go', bin, true));
    const tree = descendants(w.pid);
    const app = tree.find((p) => p.comm === path.basename(bin) && !appProcs.some((a) => a.pid === p.pid));
    const proto = app && tree.find((p) => p.pid === app.ppid);
    const helper = proto && tree.find((p) => p.pid === proto.ppid);
    if (proto && proto.pid !== w.pid) prototypeKb = statusKb(proto.pid, 'VmRSS');
    if (helper && helper.pid !== w.pid) helperKb = statusKb(helper.pid, 'VmRSS');
    await w.control('DELETE', '/config/applications/isolated');
  }
  const med = (k) => median(per.map((p) => p[k]).filter(Number.isFinite));

  // Idle keep-alive connections: both ends need an fd each.
  const want = o.connections + 1000;
  const mine = raiseFdLimit(want);
  const theirs = raiseFdLimit(want, w.pid);
  if (mine < want || theirs < want)
    throw new Error(`open-file limit too low for ${o.connections} connections (bench ${mine}, wardend ${theirs}; run as root or raise ulimit -n)`);
  // 2 s (settleMs) after the last connection opened; and (settleMemory) before and after, each after 45 s idle.
  const before = o.settleMemory ? await idleKbAfter(w.pid, IDLE_MS) : null;
  const sockets = await openIdle(ports[0], o.connections);
  let closed = 0;
  sockets.forEach((s) => s.once('close', () => closed++));
  await sleep(o.settleMs);
  const connectionsKb = wardendKb(w.pid, 'VmRSS');
  const connectionsPssKb = wardendKb(w.pid, 'Pss');
  const after = o.settleMemory ? await idleKbAfter(w.pid, IDLE_MS - o.settleMs) : null;
  const closedMeanwhile = closed;
  log(`  wardend with ${sockets.length} idle connections: ${(connectionsKb / 1024).toFixed(1)} MB (${closedMeanwhile} closed meanwhile)`);
  if (before && after)
    log(`  after ${IDLE_MS / 1000} s idle: ${(before.kb / 1024).toFixed(1)} MB before, ${(after.kb / 1024).toFixed(1)} MB with the connections`);
  sockets.forEach((s) => s.destroy());
  // The channel after traffic, measured last (its resident pages would add to the figures above): 2 s of 64-byte
  // answers, then 2 s of 64 KiB answers (32 connections) to the first app, whose channel is then the most resident.
  // Its pages are resident as far as traffic touched them; small traffic keeps to the start of each ring.
  const mostResident = () => (appProcs.length ? Math.max(...appProcs.map((a) => channelMappings(a.pid).rssKb)) : NaN);
  await wrk(`http://127.0.0.1:${ports[0]}/`, { duration: 2 });
  const channelAfterSmallKb = mostResident();
  await wrk(`http://127.0.0.1:${ports[0]}/64k`, { duration: 2 });
  const channelAfterLargeKb = mostResident();
  await w.control('PUT', '/config', { listeners: {}, applications: {} });

  return {
    idleKb,
    idleMainKb,
    idlePssKb,
    idleAnonKb,
    idleFileKb,
    connectionsPssKb,
    idleRoutersKb,
    apps: o.apps,
    appsKb,
    connections: sockets.length,
    closedMeanwhile,
    connectionsKb,
    settledBeforeKb: before ? before.kb : undefined,
    settledConnectionsKb: after ? after.kb : undefined,
    settledAfterMs: after ? after.afterMs + o.settleMs : undefined,
    prototypeKb,
    helperKb,
    appRssKb: med('appRssKb'),
    channelKb: med('channelKb'),
    channelAppRssKb: med('channelAppRssKb'),
    channelAfterSmallKb,
    channelAfterLargeKb,
    wardendChannelRssKb: wardendChannels.rssKb / Math.max(1, wardendChannels.count),
  };
}

module.exports = { memory };
