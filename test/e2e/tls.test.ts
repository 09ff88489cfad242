import { mkdirSync, readFileSync, writeFileSync } from 'fs';
import { request } from 'https';
import { join } from 'path';
import type { TLSSocket } from 'tls';
import { ROOT, cleanup, freePort, goBuild, haveGo, startWardend, worldDir, type Wardend } from './support/wardend';

const FIXTURES = join(ROOT, 'packages/http-router/test/fixtures/tls');
const CA = readFileSync(join(FIXTURES, 'ca.pem'));

/** An unmodified Node app that reports what its request looks like, TLS included. */
const APP = `
const http = require('http');
http.createServer((req, res) => {
  res.setHeader('Content-Type', 'application/json');
  res.end(JSON.stringify({ url: req.url, encrypted: req.socket.encrypted === true, host: req.headers.host }));
}).listen(8080);
`;

/** A Go app on Warden's Go package that reports whether net/http sees the request as TLS. */
const GO_APP = `package main

import (
	"fmt"
	"net/http"

	"warden.dev/warden"
)

func main() {
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "tls=%v uri=%s", r.TLS != nil, r.URL.RequestURI())
	})
	warden.ListenAndServe(":8080", nil)
}
`;

/** GET over HTTPS, trusting only the test CA and checking the certificate for `servername`. */
function httpsGet(port: number, path: string, servername: string): Promise<{ status: number; body: string; cn: string }> {
  return new Promise((resolve, reject) => {
    request({ host: '127.0.0.1', port, path, ca: CA, servername, agent: false }, (res) => {
      const cn = String((res.socket as TLSSocket).getPeerCertificate().subject.CN);
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, cn }));
    })
      .on('error', reject)
      .end();
  });
}

describe('TLS listeners of a running wardend', () => {
  let dir: string;
  let w: Wardend;
  let port: number;

  beforeAll(async () => {
    dir = worldDir('warden-tls-');
    writeFileSync(join(dir, 'app.js'), APP);
    w = await startWardend([], dir);
    port = await freePort();
  });
  afterAll(async () => {
    await w?.stop();
    cleanup(dir);
  });

  it('uploads bundles, serves HTTPS to a Node app that sees an encrypted socket, picks certificates by SNI', async () => {
    expect(await w.control('PUT', '/certificates/a', readFileSync(join(FIXTURES, 'a.pem'), 'latin1'))).toEqual({
      status: 200,
      body: { success: 'Certificate chain uploaded.' },
    });
    expect((await w.control('PUT', '/certificates/b', readFileSync(join(FIXTURES, 'b.pem'), 'latin1'))).status).toBe(200);
    expect((await w.control('GET', '/certificates/b/chain/0/subject/common_name')).body).toBe('b.example.test');

    const put = await w.control('PUT', '/config', {
      listeners: { [`127.0.0.1:${port}`]: { pass: 'applications/info', tls: { certificate: ['a', 'b'] } } },
      applications: { info: { type: 'node', working_directory: dir, script: 'app.js' } },
    });
    expect(put).toEqual({ status: 200, body: { success: 'Reconfiguration done.' } });

    const res = await httpsGet(port, '/hello?x=1', 'a.example.test');
    expect(res.status).toBe(200);
    expect(res.cn).toBe('a.example.test');
    expect(JSON.parse(res.body)).toMatchObject({ url: '/hello?x=1', encrypted: true });
    expect((await httpsGet(port, '/', 'b.example.test')).cn).toBe('b.example.test');
  });

  it('refuses to delete a certificate in use and a config naming a missing one', async () => {
    expect(await w.control('DELETE', '/certificates/a')).toMatchObject({ status: 400, body: { error: 'Certificate is used in the configuration.' } });
    const bad = await w.control('PUT', `/config/listeners/127.0.0.1:${port}/tls/certificate`, '"missing"');
    expect(bad).toMatchObject({
      status: 400,
      body: { error: 'Invalid configuration.', detail: expect.stringContaining('Certificate "missing" is not found.') },
    });
    expect((await httpsGet(port, '/', 'a.example.test')).status).toBe(200);
  });

  it('serves HTTPS to a Go app that sees r.TLS', async () => {
    if (!haveGo()) return console.warn('skipped: `go` is not installed');
    const src = join(dir, 'gotls');
    mkdirSync(src);
    writeFileSync(join(src, 'main.go'), GO_APP);
    writeFileSync(
      join(src, 'go.mod'),
      `module warden.dev/test/gotls\n\ngo 1.19\n\nrequire warden.dev/warden v0.0.0\n\nreplace warden.dev/warden => ${join(ROOT, 'packages/app-types/go')}\n`,
    );
    const bin = goBuild(src, join(dir, 'gotls-app'));
    const goPort = await freePort();
    expect((await w.control('PUT', '/config/applications/go', { type: 'external', executable: bin })).status).toBe(200);
    const put = await w.control('PUT', `/config/listeners/127.0.0.1:${goPort}`, { pass: 'applications/go', tls: { certificate: 'b' } });
    expect(put.status).toBe(200);
    const res = await httpsGet(goPort, '/go?q=1', 'b.example.test');
    expect([res.status, res.cn, res.body]).toEqual([200, 'b.example.test', 'tls=true uri=/go?q=1']);
    expect((await w.control('DELETE', `/config/listeners/127.0.0.1:${goPort}`)).status).toBe(200);
    expect((await w.control('DELETE', '/config/applications/go')).status).toBe(200);
  });

  it('keeps certificates and the TLS listener across a restart', async () => {
    await w.stop();
    w = await startWardend([], dir);
    expect(Object.keys((await w.control('GET', '/certificates')).body).sort()).toEqual(['a', 'b']);
    const res = await httpsGet(port, '/again', 'b.example.test');
    expect([res.status, res.cn, JSON.parse(res.body).encrypted]).toEqual([200, 'b.example.test', true]);
  });
});
