import Ajv2020 from 'ajv/dist/2020';
import fs from 'fs';
import os from 'os';
import path from 'path';
import { request } from 'http';
import { checkRouterConfig, HttpRouter, RouterConfigError, ROUTER_ROOT_PROPERTIES, ROUTER_SCHEMA_DEFS } from '../src';
import { EchoGateway } from './helpers';

/** The router owns the rules of listeners, routes, upstreams and settings.http (issue 14, item 1). */
describe('checkRouterConfig: the rules JSON Schema does not say, decided as Unit 1.35', () => {
  const routes = [{ action: { return: 204 } }];
  const problem = (listener: string, opts = {}) => checkRouterConfig({ listeners: { [listener]: { pass: 'routes' } }, routes }, opts)[0];

  it.each(['127.0.0.1:80', '*:80', '[::1]:80', 'unix:/run/a.sock', 'unix:@warden', 'unix:ab'])('accepts the listener address %s', (name) => {
    expect(problem(name)).toBeUndefined();
  });

  it.each(['8080', '127.0.0.1:0', '*:65536', 'localhost:80', 'unix:a', `unix:/${'x'.repeat(107)}`, '[::1]80'])('refuses the listener address %s', (name) => {
    expect(problem(name)).toEqual({
      path: `/listeners/${name.replace(/~/g, '~0').replace(/\//g, '~1')}`,
      code: 'WARDEN_ERR_CONFIG_LISTENER',
      message: `The listener address "${name}" is invalid.`,
    });
  });

  it('accepts port 0 only when the embedder asks for ephemeral ports', () => {
    expect(problem('127.0.0.1:0', { ephemeralPorts: true })).toBeUndefined();
  });

  it('percent-decodes pass segments and reports a missing target with the pass code', () => {
    const apps = { 'my app': {} };
    expect(checkRouterConfig({ applications: apps, listeners: { '*:80': { pass: 'applications/my%20app' } } })).toEqual([]);
    expect(checkRouterConfig({ applications: { 'my%20app': {} }, listeners: { '*:80': { pass: 'applications/my%20app' } } })).toEqual([
      { path: '/listeners/*:80/pass', code: 'WARDEN_ERR_CONFIG_PASS', message: 'Request "pass" points to invalid location "applications/my%20app".' },
    ]);
  });

  it('checks a listener\'s deprecated "application" key against the applications', () => {
    expect(checkRouterConfig({ applications: { a: {} }, listeners: { '*:80': { application: 'a' } } })).toEqual([]);
    expect(checkRouterConfig({ listeners: { '*:80': { application: 'nope' } } })).toEqual([
      { path: '/listeners/*:80/application', code: 'WARDEN_ERR_CONFIG_PASS', message: 'Listening socket is assigned for a non existing application "nope".' },
    ]);
  });

  it('checks TLS values without looking certificates up', () => {
    expect(checkRouterConfig({ listeners: { '*:443': { pass: 'routes', tls: { certificate: 'any' } } }, routes })).toEqual([]);
    expect(checkRouterConfig({ listeners: { '*:443': { pass: 'routes', tls: { certificate: 'any', session: { timeout: 0 } } } }, routes })).toEqual([
      { path: '/listeners/*:443/tls/session/timeout', code: 'WARDEN_ERR_CONFIG_TLS', message: 'The "timeout" number must be greater than zero.' },
    ]);
  });
});

describe('the router schema', () => {
  it('compiles under ajv strict mode as a standalone schema', () => {
    const ajv = new Ajv2020({ strict: true, allErrors: true, allowUnionTypes: true });
    const validate = ajv.compile({ type: 'object', properties: ROUTER_ROOT_PROPERTIES, $defs: ROUTER_SCHEMA_DEFS, additionalProperties: false });
    expect(validate({ listeners: { '*:80': { pass: 'routes' } }, routes: [{ match: { uri: '/a' }, action: { share: '/srv$uri' } }] })).toBe(true);
    expect(validate({ listeners: { '*:80': { pass: 'routes', colour: 'red' } } })).toBe(false);
    expect(validate.errors?.[0]).toMatchObject({ instancePath: '/listeners/*:80', keyword: 'additionalProperties', params: { additionalProperty: 'colour' } });
  });
});

describe('HttpRouter listener addresses', () => {
  const dirs: string[] = [];
  afterAll(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

  it('refuses port 0 unless constructed with ephemeralPorts, as Unit does', async () => {
    const router = new HttpRouter({ gateway: new EchoGateway() });
    const err = await router.prepare({ listeners: { '127.0.0.1:0': { pass: 'routes' } }, routes: [] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RouterConfigError);
    expect((err as RouterConfigError).code).toBe('WARDEN_ERR_CONFIG_LISTENER');
    await router.close(0);
  });

  it('serves a unix:/path listener and removes the socket file when closed', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'router-unix-'));
    dirs.push(dir);
    const sock = path.join(dir, 'r.sock');
    const router = new HttpRouter({ gateway: new EchoGateway() });
    await (await router.prepare({ listeners: { [`unix:${sock}`]: { pass: 'applications/a' } }, applications: { a: {} } })).commit();
    const body = await new Promise<string>((resolve, reject) => {
      request({ socketPath: sock, path: '/x', agent: false }, (res) => {
        let b = '';
        res.on('data', (c) => (b += c));
        res.on('end', () => resolve(b));
      })
        .on('error', reject)
        .end();
    });
    expect(JSON.parse(body)).toMatchObject({ app: 'a', url: '/x' });
    await router.close(100);
    expect(fs.existsSync(sock)).toBe(false);
  });
});
