'use strict';
// Routing microbenchmark: matches per second for a 50-step route table, using the compiled matcher from dist/.
// Run: npm run bench -w @warden/http-router
const { RouteMatcher } = require('../dist/index.js');

const routes = [];
for (let i = 0; i < 10; i++) routes.push({ match: { uri: `/api/v${i}/*`, method: ['GET', 'POST'] }, action: { pass: `applications/api${i}` } });
for (let i = 0; i < 10; i++) routes.push({ match: { host: `*.site${i}.example.com`, uri: '!/admin/*' }, action: { share: `/srv/site${i}$uri` } });
for (let i = 0; i < 10; i++) routes.push({ match: { uri: `~^/users/[0-9]+/item${i}$` }, action: { return: 200 } });
for (let i = 0; i < 10; i++)
  routes.push({ match: { headers: { 'X-Tenant': `tenant-${i}` }, arguments: { mode: ['fast', 'slow'] } }, action: { pass: 'applications/tenant' } });
for (let i = 0; i < 9; i++) routes.push({ match: { source: [`10.${i}.0.0/16`, '!10.0.0.1'], uri: `*.ext${i}` }, action: { proxy: 'http://127.0.0.1:9000' } });
routes.push({ action: { return: 404 } });
if (routes.length !== 50) throw new Error(`expected 50 routes, got ${routes.length}`);

const matcher = new RouteMatcher(routes);
const requests = [
  { method: 'GET', url: '/api/v3/items?id=7', headers: { host: 'api.example.com' } },
  { method: 'GET', url: '/index.html', headers: { host: 'www.site7.example.com' } },
  { method: 'GET', url: '/users/12345/item8', headers: { host: 'x' } },
  { method: 'POST', url: '/t?mode=fast', headers: { host: 'x', 'x-tenant': 'tenant-6' } },
  { method: 'GET', url: '/files/a.ext4', headers: { host: 'x' }, remoteAddress: '10.4.3.2', remotePort: 5555 },
  { method: 'GET', url: '/nothing/here', headers: { host: 'nomatch.example.org' } },
].map((r) => ({ remoteAddress: '192.168.1.1', remotePort: 40000, localAddress: '127.0.0.1', localPort: 8080, ...r }));

// Sanity: every request lands where expected.
const want = [3, 17, 28, 36, 44, 49];
requests.forEach((r, i) => {
  const m = matcher.match(r);
  if (!m || m.step !== want[i]) throw new Error(`request ${i} matched ${m && m.step}, expected ${want[i]}`);
});

function run(ms) {
  let n = 0;
  const end = process.hrtime.bigint() + BigInt(ms) * 1000000n;
  while (process.hrtime.bigint() < end) {
    for (let k = 0; k < 1000; k++) matcher.match(requests[k % requests.length]);
    n += 1000;
  }
  return n;
}

run(300); // warm up
const ms = 2000;
const t0 = process.hrtime.bigint();
const n = run(ms);
const secs = Number(process.hrtime.bigint() - t0) / 1e9;
const rate = Math.round(n / secs);
console.log(
  `http-router: ${rate.toLocaleString('en-US')} matches/s over a 50-route config (mix of 6 requests, first to last step and a miss; node ${process.version})`,
);
