import { readFileSync, statSync, writeFileSync, existsSync } from 'fs';
import { join } from 'path';
import { request as httpsRequest } from 'https';
import pino from 'pino';
import type { TLSSocket } from 'tls';
import type { WardenConfig } from '../src/contracts';
import { RouterFleet } from '../src/runtime/fleet/router-fleet';
import { DONE, harness } from './harness';
import { freePort } from './process-helpers';

const FIXTURES = join(__dirname, '../../http-router/test/fixtures/tls');
const A = readFileSync(join(FIXTURES, 'a.pem'));
const B = readFileSync(join(FIXTURES, 'b.pem'));
const blocks = (pem: Buffer) => pem.toString('latin1').match(/-----BEGIN ([A-Z ]+)-----[\s\S]*?-----END \1-----\n/g) ?? [];
const certsOf = (pem: Buffer) =>
  blocks(pem)
    .filter((b) => b.includes('CERTIFICATE'))
    .join('');
const keyOf = (pem: Buffer) =>
  blocks(pem)
    .filter((b) => b.includes('PRIVATE KEY'))
    .join('');

const UPLOADED = { status: 200, body: { success: 'Certificate chain uploaded.' } };
const DELETED = { status: 200, body: { success: 'Certificate deleted.' } };
const tlsListener = (certificate: unknown) => ({
  listeners: { '127.0.0.1:8443': { pass: 'routes', tls: { certificate } } },
  routes: [{ action: { return: 204 } }],
});

describe('control API: /certificates', () => {
  let h: ReturnType<typeof harness>;
  beforeEach(() => {
    h = harness({ certificates: true });
  });
  afterEach(() => h.cleanup());

  it('stores an uploaded bundle (chain and key in any order) with mode 0600 and lists it', async () => {
    expect(await h.req('PUT', '/certificates/a', A)).toEqual(UPLOADED);
    expect(await h.req('PUT', '/certificates/b', B)).toEqual(UPLOADED); // key first, then the chain
    const file = join(h.statedir, 'certs', 'a');
    expect(readFileSync(file)).toEqual(A);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const all = (await h.req('GET', '/certificates')).body as Record<string, { key: string; chain: unknown[] }>;
    expect(Object.keys(all).sort()).toEqual(['a', 'b']);
    expect(all.a.key).toBe('RSA (2048 bits)');
    expect(all.b.key).toBe('ECDH');
    expect(all.a.chain).toHaveLength(2);
    expect(all.a.chain[0]).toEqual({
      subject: {
        common_name: 'a.example.test',
        alt_names: ['a.example.test', '*.wild.test'],
        country: 'DE',
        state_or_province: 'Berlin',
        locality: 'Berlin',
        organization: 'Warden Test',
        department: 'Router',
      },
      issuer: { common_name: 'Warden Test CA', country: 'DE', organization: 'Warden Test' },
      validity: { since: expect.stringMatching(/^[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d \d{4} GMT$/), until: expect.stringMatching(/ 21\d\d GMT$/) },
    });
  });

  it('answers sub-paths of a bundle, 404 "Certificate doesn\'t exist." for unknown names and "Invalid path." below', async () => {
    await h.req('PUT', '/certificates/a', A);
    expect(await h.req('GET', '/certificates/a/key')).toEqual({ status: 200, body: 'RSA (2048 bits)' });
    expect(await h.req('GET', '/certificates/a/chain/0/subject/common_name')).toEqual({ status: 200, body: 'a.example.test' });
    expect(await h.req('GET', '/certificates/a/chain/1/issuer/common_name/')).toEqual({ status: 200, body: 'Warden Test CA' });
    expect(await h.req('GET', '/certificates/A/key')).toEqual({ status: 200, body: 'RSA (2048 bits)' }); // names: any case, as in Unit
    expect(await h.req('GET', '/certificates/a/chain/2')).toEqual({ status: 404, body: { error: 'Invalid path.' } });
    expect(await h.req('GET', '/certificates/zzz')).toEqual({ status: 404, body: { error: "Certificate doesn't exist." } });
  });

  it('GET / shows the certificates next to config and status', async () => {
    await h.req('PUT', '/certificates/a', A);
    const root = (await h.req('GET', '/')).body as Record<string, unknown>;
    expect(Object.keys(root)).toEqual(['certificates', 'config', 'status']);
    expect(Object.keys(root.certificates as object)).toEqual(['a']);
  });

  it('refuses to overwrite a stored bundle', async () => {
    await h.req('PUT', '/certificates/a', A);
    for (const name of ['a', 'A']) {
      const res = await h.req('PUT', `/certificates/${name}`, B);
      expect(res.status).toBe(400);
      expect(res.body).toMatchObject({ error: 'Certificate already exists.', detail: expect.stringMatching(/^WARDEN_ERR_CERTIFICATE_EXISTS/) });
    }
    expect((await h.req('GET', '/certificates/a/key')).body).toBe('RSA (2048 bits)');
  });

  it.each([
    ['an empty body', Buffer.alloc(0), /no private key found/],
    ['garbage', Buffer.from('hello, this is not PEM\n'), /no private key found/],
    ['a chain without its key', Buffer.from(certsOf(A)), /no private key found/],
    ['a key without a certificate', Buffer.from(keyOf(A)), /no certificate found/],
    ['a key that does not match the certificate', Buffer.from(certsOf(A) + keyOf(B)), /does not match the first certificate/],
    ['two keys', Buffer.from(certsOf(A) + keyOf(A) + keyOf(B)), /more than one private key/],
    ['a damaged certificate', Buffer.from(certsOf(B).replace(/\n[A-Za-z0-9+/]{20}/, '\nAAAAAAAAAAAAAAAAAAAA') + keyOf(B)), /cannot be parsed/],
    ['an unknown PEM block', Buffer.from('-----BEGIN FOO-----\nAAAA\n-----END FOO-----\n' + B.toString()), /unsupported PEM block "FOO"/],
  ])('refuses %s with 400 "Invalid certificate." and says why', async (_what, body, why) => {
    const res = await h.req('PUT', '/certificates/x', body);
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ error: 'Invalid certificate.', detail: expect.stringMatching(why) });
    expect(existsSync(join(h.statedir, 'certs', 'x'))).toBe(false);
    expect((await h.req('GET', '/certificates')).body).toEqual({});
  });

  it("refuses bad names and methods with Unit's answers", async () => {
    const badName = { error: 'Invalid certificate name.' };
    expect(await h.req('PUT', '/certificates', A)).toMatchObject({ status: 400, body: badName });
    expect(await h.req('PUT', '/certificates/a/key', A)).toMatchObject({ status: 400, body: badName });
    expect(await h.req('PUT', '/certificates/..', A)).toMatchObject({ status: 400, body: badName });
    expect(await h.req('PUT', '/certificates/a%2Fb', A)).toMatchObject({ status: 400, body: badName });
    expect(await h.req('DELETE', '/certificates', A)).toMatchObject({ status: 400, body: badName });
    expect(await h.req('POST', '/certificates/a', A)).toEqual({ status: 405, body: { error: 'Invalid method.' } });
  });

  it('accepts a config naming stored certificates and refuses one naming an unknown one', async () => {
    await h.req('PUT', '/certificates/a', A);
    expect(await h.req('PUT', '/config', JSON.stringify(tlsListener('a')))).toEqual({ status: 200, body: DONE });
    const res = await h.req('PUT', '/config', JSON.stringify(tlsListener(['a', 'nope'])));
    expect(res).toEqual({
      status: 400,
      body: {
        error: 'Invalid configuration.',
        detail: 'WARDEN_ERR_CONFIG_CERTIFICATE at /listeners/127.0.0.1:8443/tls/certificate/1: Certificate "nope" is not found.',
      },
    });
    expect((await h.req('GET', '/config/listeners/127.0.0.1:8443/tls/certificate')).body).toBe('a');
    const empty = await h.req('PUT', '/config/listeners/127.0.0.1:8443/tls/certificate', '[]');
    expect(empty.body).toEqual({
      error: 'Invalid configuration.',
      detail: 'WARDEN_ERR_CONFIG_TLS at /listeners/127.0.0.1:8443/tls/certificate: The "certificate" array must contain at least one element.',
    });
    const timeout = await h.req('PUT', '/config/listeners/127.0.0.1:8443/tls/session', '{"timeout": 0}');
    expect((timeout.body as { detail: string }).detail).toMatch(/The "timeout" number must be greater than zero\.$/);
  });

  it('refuses to delete a certificate a listener uses (string or array), deletes it once unused', async () => {
    await h.req('PUT', '/certificates/a', A);
    await h.req('PUT', '/certificates/b', B);
    await h.req('PUT', '/config', JSON.stringify(tlsListener(['b', 'a'])));
    for (const name of ['a', 'b']) {
      const res = await h.req('DELETE', `/certificates/${name}`);
      expect(res.status).toBe(400);
      expect(res.body).toEqual({
        error: 'Certificate is used in the configuration.',
        detail: expect.stringContaining('listener "127.0.0.1:8443" uses it'),
      });
    }
    await h.req('PUT', '/config/listeners/127.0.0.1:8443/tls/certificate', '"b"');
    expect(await h.req('DELETE', '/certificates/a')).toEqual(DELETED);
    expect(existsSync(join(h.statedir, 'certs', 'a'))).toBe(false);
    expect(await h.req('DELETE', '/certificates/a')).toEqual({ status: 404, body: { error: "Certificate doesn't exist." } });
    expect(Object.keys((await h.req('GET', '/certificates')).body as object)).toEqual(['b']);
  });

  it('the router processes serve HTTPS with the stored bundle a listener names (any case)', async () => {
    await h.req('PUT', '/certificates/a', A);
    const router = new RouterFleet(1, { uid: process.getuid!(), gid: process.getgid!(), groups: [] }, pino({ level: 'silent' }), h.certificates);
    // A real port: wardend refuses port 0 in listener names, as Unit does.
    const port = await freePort();
    const config = { listeners: { [`127.0.0.1:${port}`]: { pass: 'routes', tls: { certificate: 'A' } } }, routes: [{ action: { return: 204 } }] };
    await (await router.prepare(config as WardenConfig)).commit();
    try {
      const { status, cn } = await new Promise<{ status: number; cn: string }>((resolve, reject) => {
        httpsRequest({ host: '127.0.0.1', port, ca: readFileSync(join(FIXTURES, 'ca.pem')), servername: 'a.example.test', agent: false }, (res) => {
          const cn = String((res.socket as TLSSocket).getPeerCertificate().subject.CN);
          res.resume();
          res.on('end', () => resolve({ status: res.statusCode ?? 0, cn }));
        })
          .on('error', reject)
          .end();
      });
      expect([status, cn]).toEqual([204, 'a.example.test']);
    } finally {
      await router.shutdown();
    }
  });

  it('keeps certificates across a restart; a damaged file in the store is skipped', async () => {
    await h.req('PUT', '/certificates/a', A);
    await h.req('PUT', '/config', JSON.stringify(tlsListener('a')));
    writeFileSync(join(h.statedir, 'certs', 'broken'), 'not a bundle');
    writeFileSync(join(h.statedir, 'certs.tmp-1234'), 'left by a crash');
    const again = harness({ statedir: h.statedir, certificates: true });
    await again.controller.restore();
    expect(Object.keys((await again.req('GET', '/certificates')).body as object)).toEqual(['a']);
    expect((await again.req('GET', '/config/listeners/127.0.0.1:8443/tls/certificate')).body).toBe('a');
    expect(existsSync(join(h.statedir, 'certs.tmp-1234'))).toBe(false);
  });
});
