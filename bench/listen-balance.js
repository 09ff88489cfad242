#!/usr/bin/env node
// How connections spread over wardend's router processes (issue 18): N acceptor processes (plain node:http servers
// that answer "hello", as a stand-in for the routers) on ONE listening socket that main binds and hands to all of
// them (what wardend does), against one SO_REUSEPORT socket per acceptor (the kernel hashes each new connection to
// one socket). wrk with keep-alive connections and with `Connection: close` (every request a new connection), rounds
// interleaved; prints each acceptor's share of connections and requests, and req/s.
// Usage: node bench/listen-balance.js [--acceptors 2] [--duration 5] [--rounds 3] [--connections 32]
'use strict';
const { spawn } = require('child_process');
const { closeSync } = require('fs');
const { listenSocket } = require('../packages/shm-transport');
const { arg, median, wrk } = require('./support');

const N = Number(arg('acceptors', 2));
const DURATION = Number(arg('duration', 5));
const ROUNDS = Number(arg('rounds', 3));
const CONNECTIONS = Number(arg('connections', 32));

const ACCEPTOR = `
const http = require('http');
let connections = 0, requests = 0;
const server = http.createServer((req, res) => { requests++; res.end('hello'); });
server.on('connection', () => connections++);
server.listen({ fd: 3 });
process.on('message', (m) => {
  if (m === 'count') process.send({ connections, requests });
  if (m === 'reset') { connections = 0; requests = 0; process.send('ok'); }
});
`;

function ask(child, m) {
  return new Promise((resolve) => {
    child.once('message', resolve);
    child.send(m);
  });
}

/** Starts the acceptors of `mode`; resolves with { port, children, stop }. */
function start(mode) {
  const first = listenSocket({ host: '127.0.0.1', port: 0, reusePort: mode === 'reuseport' });
  const fds =
    mode === 'reuseport'
      ? [first.fd, ...Array.from({ length: N - 1 }, () => listenSocket({ host: '127.0.0.1', port: first.port, reusePort: true }).fd)]
      : Array(N).fill(first.fd);
  const children = fds.map((fd) => spawn(process.execPath, ['-e', ACCEPTOR], { stdio: ['ignore', 'inherit', 'inherit', fd, 'ipc'] }));
  return {
    port: first.port,
    children,
    stop() {
      children.forEach((c) => c.kill());
      [...new Set(fds)].forEach((fd) => closeSync(fd));
    },
  };
}

async function main() {
  const modes = ['shared', 'reuseport'];
  const servers = {};
  for (const m of modes) servers[m] = start(m);
  await new Promise((r) => setTimeout(r, 500));
  const out = [];
  for (const [kind, headers] of [
    ['keep-alive', []],
    ['Connection: close', ['-H', 'Connection: close']],
  ]) {
    const rows = { shared: [], reuseport: [] };
    for (let i = 0; i < ROUNDS; i++) {
      for (const m of modes) {
        const s = servers[m];
        await Promise.all(s.children.map((c) => ask(c, 'reset')));
        const r = await wrk(`http://127.0.0.1:${s.port}/`, { connections: CONNECTIONS, duration: DURATION, extra: headers });
        const counts = await Promise.all(s.children.map((c) => ask(c, 'count')));
        const conns = counts.reduce((a, c) => a + c.connections, 0);
        const reqs = counts.reduce((a, c) => a + c.requests, 0);
        rows[m].push({
          rps: r.rps,
          maxConnShare: Math.max(...counts.map((c) => c.connections / conns)),
          maxReqShare: Math.max(...counts.map((c) => c.requests / reqs)),
        });
      }
    }
    for (const m of modes) {
      const med = (k) => median(rows[m].map((x) => x[k]));
      out.push(
        `| ${kind} | ${m === 'shared' ? 'one shared socket' : 'SO_REUSEPORT'} | ${Math.round(med('rps'))} | ${(100 * med('maxConnShare')).toFixed(0)} % | ${(100 * med('maxReqShare')).toFixed(0)} % |`,
      );
    }
  }
  for (const m of modes) servers[m].stop();
  console.log(
    `${N} acceptors, wrk -c${CONNECTIONS} ${DURATION} s × ${ROUNDS} rounds, interleaved; the busiest acceptor's share (even = ${(100 / N).toFixed(0)} %)\n`,
  );
  console.log('| Connections | Listening | req/s | busiest: connections | busiest: requests |\n| --- | --- | ---: | ---: | ---: |');
  console.log(out.join('\n'));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
