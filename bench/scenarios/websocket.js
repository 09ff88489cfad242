// WebSocket: 64 B messages echoed per second by the same unmodified `ws` server (test/e2e/apps/ws-node) served
// directly over TCP and through wardend (upgrade tunnelled over the channel), with `clients` connections each keeping
// `window` messages in flight for `duration` seconds; then wardend's RSS per idle WebSocket (`idle` connections
// opened through it, each having echoed one message).
'use strict';
const { spawn } = require('child_process');
const path = require('path');
const WebSocket = require('ws');
const { freePort, median, sleep, wardendKb } = require('../support');

const APP = path.join(__dirname, '../../test/e2e/apps/ws-node/server.js');

function open(port) {
  return new Promise((ok, fail) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/echo`);
    ws.once('open', () => ok(ws));
    ws.once('error', fail);
  });
}

/** Echoed messages per second over `clients` connections to `port`. */
async function echoRate(port, { clients, window, duration }) {
  const payload = Buffer.alloc(64, 0x61);
  const sockets = await Promise.all(Array.from({ length: clients }, () => open(port)));
  let count = 0;
  let running = true;
  for (const ws of sockets) {
    ws.on('message', () => {
      count++;
      if (running) ws.send(payload);
    });
  }
  for (const ws of sockets) for (let i = 0; i < window; i++) ws.send(payload);
  await sleep(1000); // warm-up
  const start = count;
  const t0 = Date.now();
  await sleep(duration * 1000);
  const rate = ((count - start) * 1000) / (Date.now() - t0);
  running = false;
  await Promise.all(sockets.map((ws) => new Promise((r) => (ws.once('close', r), ws.close()))));
  return rate;
}

async function startDirect() {
  const port = await freePort();
  const proc = spawn(process.execPath, [APP], { stdio: 'ignore', env: { ...process.env, PORT: String(port) } });
  for (let i = 0; i < 200; i++) {
    try {
      (await open(port)).close();
      return { proc, port };
    } catch {
      await sleep(25);
    }
  }
  throw new Error('the direct ws server did not start');
}

/** `o`: { duration, rounds, clients, window, idle }. */
async function websocket(w, ctx, o) {
  const port = await freePort();
  const app = { type: 'node', working_directory: path.dirname(APP), script: path.basename(APP), processes: 1 };
  await w.control('PUT', '/config', { listeners: { [`127.0.0.1:${port}`]: { pass: 'applications/ws' } }, applications: { ws: app } });
  for (let i = 0; i < 400; i++) {
    try {
      (await open(port)).close();
      break;
    } catch {
      await sleep(25);
    }
  }
  const direct = await startDirect();
  const via = [];
  const dir = [];
  try {
    for (let r = 0; r < o.rounds; r++) {
      dir.push(await echoRate(direct.port, o));
      via.push(await echoRate(port, o));
      ctx.log(`  64 B echo, round ${r + 1}: direct ${dir[r].toFixed(0)}/s, through wardend ${via[r].toFixed(0)}/s`);
    }
  } finally {
    direct.proc.kill();
  }
  await sleep(500);
  const before = wardendKb(w.pid, 'VmRSS');
  const idle = [];
  for (let i = 0; i < o.idle; i += 100) {
    const batch = await Promise.all(Array.from({ length: Math.min(100, o.idle - i) }, () => open(port)));
    await Promise.all(batch.map((ws) => new Promise((r) => (ws.once('message', r), ws.send('x')))));
    idle.push(...batch);
  }
  await sleep(1000);
  const after = wardendKb(w.pid, 'VmRSS');
  await Promise.all(idle.map((ws) => new Promise((r) => (ws.once('close', r), ws.close()))));
  const result = {
    clients: o.clients,
    window: o.window,
    directPerSec: median(dir),
    wardendPerSec: median(via),
    ratio: median(via) / median(dir),
    idleConnections: o.idle,
    rssBeforeKb: before,
    rssAfterKb: after,
    kbPerIdleWebSocket: (after - before) / o.idle,
  };
  ctx.log(
    `  64 B echo: ${result.wardendPerSec.toFixed(0)}/s through wardend vs ${result.directPerSec.toFixed(0)}/s direct (${(result.ratio * 100).toFixed(0)} %)`,
  );
  ctx.log(`  idle WebSockets: ${o.idle} cost wardend ${((after - before) / 1024).toFixed(1)} MB RSS, ${result.kbPerIdleWebSocket.toFixed(1)} KB each`);
  return result;
}

module.exports = { websocket };
