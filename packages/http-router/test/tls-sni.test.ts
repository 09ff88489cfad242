import { connect as netConnect } from 'net';
import { connect as tlsConnect, type PeerCertificate } from 'tls';
import { HttpRouter, type TlsCertificate } from '../src';
import { EchoGateway, tlsFixture } from './helpers';

// Certificate choice by SNI as Unit 1.35 makes it (src/nxt_openssl.c: nxt_openssl_cert_get_names,
// nxt_openssl_servername; test/test_tls_sni.py). Fixtures: see fixtures/tls/make.sh.
const bundle = (name: string): TlsCertificate => tlsFixture(name);
/** a: CN a.example.test, SANs a.example.test, *.wild.test; c: CN cn.example.test, SAN san.example.test; d: empty subject, SAN nosubject.example.test; e: CN cnonly.example.test, no SAN; f: CN f.example.test, SAN san.example.test (as c). */
const CERTS = { a: bundle('a'), c: bundle('c'), d: bundle('d'), e: bundle('e'), f: bundle('f') };

const routers: HttpRouter[] = [];
afterEach(async () => {
  await Promise.all(routers.splice(0).map((r) => r.close(100)));
});

async function start(certificate: string[]): Promise<{ tls: number; plain: number }> {
  const router = new HttpRouter({ ephemeralPorts: true, gateway: new EchoGateway() });
  routers.push(router);
  const config = {
    applications: { app: {} },
    certificates: CERTS,
    listeners: { '127.0.0.1:0': { pass: 'routes', tls: { certificate } }, '127.0.0.2:0': { pass: 'routes' } },
    routes: [{ match: { host: '' }, action: { return: 204 } }, { action: { return: 200 } }],
  };
  await (await router.prepare(config)).commit();
  return { tls: router.addresses()['127.0.0.1:0'].port, plain: router.addresses()['127.0.0.2:0'].port };
}

/** Handshakes with `servername` ('' sends no SNI), sends `request`, and resolves with the certificate and the answer. */
function tlsExchange(port: number, servername: string, request: string): Promise<{ cert: PeerCertificate; reply: string }> {
  return new Promise((resolve, reject) => {
    const sock = tlsConnect({ host: '127.0.0.1', port, servername: servername || undefined, rejectUnauthorized: false }, () => sock.write(request));
    let reply = '';
    let cert: PeerCertificate | undefined;
    sock.on('secureConnect', () => (cert = sock.getPeerCertificate()));
    sock.on('data', (d: Buffer) => (reply += d.toString('latin1')));
    sock.on('close', () => resolve({ cert: cert!, reply }));
    sock.on('error', reject);
  });
}

function plainExchange(port: number, request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = netConnect(port, '127.0.0.2', () => sock.write(request));
    let reply = '';
    sock.on('data', (d: Buffer) => (reply += d.toString('latin1')));
    sock.on('close', () => resolve(reply));
    sock.on('error', reject);
  });
}

const GET = (host: string) => `GET / HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`;
const sanOf = (c: PeerCertificate) => c.subjectaltname ?? '';

describe('TLS certificate choice by SNI as Unit', () => {
  it("selects by a certificate's SANs, and never by its CN when it has SANs", async () => {
    const { tls } = await start(['a', 'c']);
    expect(sanOf((await tlsExchange(tls, 'san.example.test', GET('x'))).cert)).toBe('DNS:san.example.test');
    // cn.example.test is only c's CN: c has SANs, so the name is unknown and the default (first) certificate answers.
    expect(sanOf((await tlsExchange(tls, 'cn.example.test', GET('x'))).cert)).toContain('DNS:a.example.test');
  });

  it('selects a certificate without SANs by its CN', async () => {
    const { tls } = await start(['a', 'e']);
    expect((await tlsExchange(tls, 'CNONLY.example.test', GET('x'))).cert.subject.CN).toBe('cnonly.example.test');
  });

  it('takes a certificate with an empty subject and selects it by its SANs', async () => {
    const { tls } = await start(['a', 'd']);
    const { cert, reply } = await tlsExchange(tls, 'nosubject.example.test', GET('x'));
    expect(sanOf(cert)).toBe('DNS:nosubject.example.test');
    expect(reply).toMatch(/^HTTP\/1\.1 200 /);
  });

  it("gives a name two certificates share to the later one, as Unit's name table does", async () => {
    const cf = await start(['a', 'c', 'f']);
    expect((await tlsExchange(cf.tls, 'san.example.test', GET('x'))).cert.subject.CN).toBe('f.example.test');
    const fc = await start(['a', 'f', 'c']);
    expect((await tlsExchange(fc.tls, 'san.example.test', GET('x'))).cert.subject.CN).toBe('cn.example.test');
  });

  it('gives the first certificate to a name starting with "." and to no SNI', async () => {
    const { tls } = await start(['a', 'c']);
    expect(sanOf((await tlsExchange(tls, '', GET('x'))).cert)).toContain('DNS:a.example.test');
    expect(sanOf((await tlsExchange(tls, '.san.example.test', GET('x'))).cert)).toContain('DNS:a.example.test');
  });
});

describe('requests without Host', () => {
  it('are answered over TLS exactly as over plain HTTP', async () => {
    const { tls, plain } = await start(['a']);
    const req = 'GET / HTTP/1.1\r\nConnection: close\r\n\r\n';
    const statusLine = (r: string) => r.slice(0, r.indexOf('\r\n'));
    const overTls = statusLine((await tlsExchange(tls, 'a.example.test', req)).reply);
    const overPlain = statusLine(await plainExchange(plain, req));
    expect(overTls).toBe(overPlain);
    // An HTTP/1.0 request without Host is routed with an empty host on both.
    const req10 = 'GET / HTTP/1.0\r\n\r\n';
    expect(statusLine((await tlsExchange(tls, 'a.example.test', req10)).reply)).toBe('HTTP/1.1 204 No Content');
    expect(statusLine(await plainExchange(plain, req10))).toBe('HTTP/1.1 204 No Content');
  });
});
