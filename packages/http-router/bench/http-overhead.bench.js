'use strict';
// HTTP overhead: requests/s of a plain Node server vs the same handler behind HttpRouter (fast path, and through a
// 50-step route table), with a keep-alive client in a child process. Run after the build: node bench/http-overhead.bench.js
const http = require('http');
const { fork } = require('child_process');
const { HttpRouter } = require('../dist/index.js');

const DURATION_MS = Number(process.env.BENCH_MS || 2000);
const CONCURRENCY = 32;

if (process.argv[2] === 'client') {
  const port = Number(process.argv[3]);
  const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  let done = 0;
  const end = Date.now() + DURATION_MS;
  const one = () => {
    if (Date.now() > end) return;
    http.get({ host: '127.0.0.1', port, path: '/api/v9/x?y=1', agent }, (res) => {
      res.resume();
      res.on('end', () => {
        done++;
        one();
      });
    });
  };
  for (let i = 0; i < CONCURRENCY; i++) one();
  setTimeout(() => {
    process.send(done / (DURATION_MS / 1000));
    agent.destroy();
    process.exit(0);
  }, DURATION_MS + 200);
  return;
}

const handler = (req, res) => res.end('ok');

function measure(port) {
  return new Promise((resolve) => {
    const child = fork(__filename, ['client', String(port)]);
    child.on('message', (rate) => resolve(rate));
  });
}

async function main() {
  const direct = http.createServer(handler);
  await new Promise((r) => direct.listen(0, '127.0.0.1', r));
  const directRate = await measure(direct.address().port);
  direct.close();

  const routes = [];
  for (let i = 0; i < 49; i++) routes.push({ match: { uri: `/api/v${i}/*`, method: ['GET', 'POST'] }, action: { pass: 'applications/app' } });
  routes.push({ action: { return: 404 } });
  const results = [];
  for (const [label, pass] of [
    ['fast path (listener → app)', 'applications/app'],
    ['50-step routes (step 10 hits)', 'routes'],
  ]) {
    const router = new HttpRouter({ gateway: { handle: (_a, _t, req, res) => handler(req, res) } });
    const p = await router.prepare({ applications: { app: {} }, routes, listeners: { '127.0.0.1:0': { pass } } });
    await p.commit();
    const rate = await measure(router.addresses()['127.0.0.1:0'].port);
    await router.close(100);
    results.push([label, rate]);
  }
  const f = (n) => Math.round(n).toLocaleString('en-US');
  console.log(`direct node http: ${f(directRate)} req/s`);
  for (const [label, rate] of results) console.log(`http-router ${label}: ${f(rate)} req/s (${((rate / directRate) * 100).toFixed(0)}% of direct)`);
}
main();
