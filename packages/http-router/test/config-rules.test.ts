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
      // A range like every other: the schema owns it (Unit's nxt_conf_vldt_tls_timeout), so the code is the range code.
      { path: '/listeners/*:443/tls/session/timeout', code: 'WARDEN_ERR_CONFIG_RANGE', message: 'The "timeout" number must be greater than zero.' },
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

/** The schema owns every type rule; the compiler keeps only what JSON Schema cannot say (issue 14, item 1). */
describe("checkRouterConfig: the schema refuses each badly typed value in Unit's words, before the compiler runs", () => {
  const cases: Array<[string, object, string, string, string]> = [
    ['settings', { settings: 1 }, '/settings', 'WARDEN_ERR_CONFIG_TYPE', 'The "settings" value must be an object, but not an integer number.'],
    ['http', { settings: { http: [] } }, '/settings/http', 'WARDEN_ERR_CONFIG_TYPE', 'The "http" value must be an object, but not an array.'],
    [
      'timeout',
      { settings: { http: { idle_timeout: '1' } } },
      '/settings/http/idle_timeout',
      'WARDEN_ERR_CONFIG_TYPE',
      'The "idle_timeout" value must be a number, but not a string.',
    ],
    [
      'bool',
      { settings: { http: { log_route: 1 } } },
      '/settings/http/log_route',
      'WARDEN_ERR_CONFIG_TYPE',
      'The "log_route" value must be a boolean, but not an integer number.',
    ],
    [
      'max_connections',
      { settings: { http: { max_connections: 1.5 } } },
      '/settings/http/max_connections',
      'WARDEN_ERR_CONFIG_TYPE',
      'The "max_connections" value must be an integer number, but not a fractional number.',
    ],
    [
      'websocket',
      { settings: { http: { websocket: 1 } } },
      '/settings/http/websocket',
      'WARDEN_ERR_CONFIG_TYPE',
      'The "websocket" value must be an object, but not an integer number.',
    ],
    [
      'static',
      { settings: { http: { static: 'x' } } },
      '/settings/http/static',
      'WARDEN_ERR_CONFIG_TYPE',
      'The "static" value must be an object, but not a string.',
    ],
    [
      'access_log',
      { access_log: 1 },
      '/access_log',
      'WARDEN_ERR_CONFIG_TYPE',
      'The "access_log" value must be a string or an object, but not an integer number.',
    ],
    [
      'access_log path',
      { access_log: { path: 1 } },
      '/access_log/path',
      'WARDEN_ERR_CONFIG_TYPE',
      'The "path" value must be a string, but not an integer number.',
    ],
    ['upstreams', { upstreams: [] }, '/upstreams', 'WARDEN_ERR_CONFIG_TYPE', 'The "upstreams" value must be an object, but not an array.'],
    ['upstream', { upstreams: { u: 1 } }, '/upstreams/u', 'WARDEN_ERR_CONFIG_TYPE', 'The "u" value must be an object, but not an integer number.'],
    [
      'servers',
      { upstreams: { u: { servers: [] } } },
      '/upstreams/u/servers',
      'WARDEN_ERR_CONFIG_TYPE',
      'The "servers" value must be an object, but not an array.',
    ],
    [
      'server',
      { upstreams: { u: { servers: { '127.0.0.1:1': 1 } } } },
      '/upstreams/u/servers/127.0.0.1:1',
      'WARDEN_ERR_CONFIG_TYPE',
      'The "127.0.0.1:1" value must be an object, but not an integer number.',
    ],
    [
      'weight',
      { upstreams: { u: { servers: { '127.0.0.1:1': { weight: 'x' } } } } },
      '/upstreams/u/servers/127.0.0.1:1/weight',
      'WARDEN_ERR_CONFIG_TYPE',
      'The "weight" value must be a number, but not a string.',
    ],
    ['routes', { routes: 1 }, '/routes', 'WARDEN_ERR_CONFIG_TYPE', 'The "routes" value must be an array or an object, but not an integer number.'],
    ['route', { routes: { a: {} } }, '/routes/a', 'WARDEN_ERR_CONFIG_TYPE', 'The "a" value must be an array, but not an object.'],
    ['step', { routes: [1] }, '/routes/0', 'WARDEN_ERR_CONFIG_TYPE', 'The "routes" array must contain only object values.'],
    ['action', { routes: [{ action: 1 }] }, '/routes/0/action', 'WARDEN_ERR_CONFIG_TYPE', 'The "action" value must be an object, but not an integer number.'],
    [
      'pass',
      { routes: [{ action: { pass: 1 } }] },
      '/routes/0/action/pass',
      'WARDEN_ERR_CONFIG_TYPE',
      'The "pass" value must be a string, but not an integer number.',
    ],
    [
      'proxy',
      { routes: [{ action: { proxy: 1 } }] },
      '/routes/0/action/proxy',
      'WARDEN_ERR_CONFIG_TYPE',
      'The "proxy" value must be a string, but not an integer number.',
    ],
    [
      'return',
      { routes: [{ action: { return: 'x' } }] },
      '/routes/0/action/return',
      'WARDEN_ERR_CONFIG_TYPE',
      'The "return" value must be an integer number, but not a string.',
    ],
    [
      'location',
      { routes: [{ action: { return: 301, location: 1 } }] },
      '/routes/0/action/location',
      'WARDEN_ERR_CONFIG_TYPE',
      'The "location" value must be a string, but not an integer number.',
    ],
    [
      'rewrite',
      { routes: [{ action: { return: 204, rewrite: 1 } }] },
      '/routes/0/action/rewrite',
      'WARDEN_ERR_CONFIG_TYPE',
      'The "rewrite" value must be a string, but not an integer number.',
    ],
    [
      'response_headers',
      { routes: [{ action: { return: 204, response_headers: 1 } }] },
      '/routes/0/action/response_headers',
      'WARDEN_ERR_CONFIG_TYPE',
      'The "response_headers" value must be an object, but not an integer number.',
    ],
    [
      'response header',
      { routes: [{ action: { return: 204, response_headers: { A: 1 } } }] },
      '/routes/0/action/response_headers/A',
      'WARDEN_ERR_CONFIG_TYPE',
      'The "A" value must be a string or null, but not an integer number.',
    ],
    [
      'share',
      { routes: [{ action: { share: 1 } }] },
      '/routes/0/action/share',
      'WARDEN_ERR_CONFIG_TYPE',
      'The "share" value must be a string or an array, but not an integer number.',
    ],
    [
      'share item',
      { routes: [{ action: { share: ['/a', 1] } }] },
      '/routes/0/action/share/1',
      'WARDEN_ERR_CONFIG_TYPE',
      'The "share" array must contain only string values.',
    ],
    [
      'index',
      { routes: [{ action: { share: '/a', index: 1 } }] },
      '/routes/0/action/index',
      'WARDEN_ERR_CONFIG_TYPE',
      'The "index" value must be a string, but not an integer number.',
    ],
    [
      'chroot',
      { routes: [{ action: { share: '/a', chroot: 1 } }] },
      '/routes/0/action/chroot',
      'WARDEN_ERR_CONFIG_TYPE',
      'The "chroot" value must be a string, but not an integer number.',
    ],
    [
      'follow',
      { routes: [{ action: { share: '/a', follow_symlinks: 'x' } }] },
      '/routes/0/action/follow_symlinks',
      'WARDEN_ERR_CONFIG_TYPE',
      'The "follow_symlinks" value must be a boolean, but not a string.',
    ],
    ['listeners', { listeners: [] }, '/listeners', 'WARDEN_ERR_CONFIG_TYPE', 'The "listeners" value must be an object, but not an array.'],
    [
      'listener',
      { listeners: { '*:80': 1 }, routes: [{ action: { return: 204 } }] },
      '/listeners/*:80',
      'WARDEN_ERR_CONFIG_TYPE',
      'The "*:80" value must be an object, but not an integer number.',
    ],
    [
      'application',
      { listeners: { '*:80': { application: 1 } }, routes: [{ action: { return: 204 } }] },
      '/listeners/*:80/application',
      'WARDEN_ERR_CONFIG_TYPE',
      'The "application" value must be a string, but not an integer number.',
    ],
    [
      'backlog',
      { listeners: { '*:80': { pass: 'routes', backlog: 'x' } }, routes: [{ action: { return: 204 } }] },
      '/listeners/*:80/backlog',
      'WARDEN_ERR_CONFIG_TYPE',
      'The "backlog" value must be an integer number, but not a string.',
    ],
    [
      'forwarded',
      { listeners: { '*:80': { pass: 'routes', forwarded: 1 } }, routes: [{ action: { return: 204 } }] },
      '/listeners/*:80/forwarded',
      'WARDEN_ERR_CONFIG_TYPE',
      'The "forwarded" value must be an object, but not an integer number.',
    ],
    [
      'forwarded client_ip',
      { listeners: { '*:80': { pass: 'routes', forwarded: { client_ip: 1, source: '*' } } }, routes: [{ action: { return: 204 } }] },
      '/listeners/*:80/forwarded/client_ip',
      'WARDEN_ERR_CONFIG_TYPE',
      'The "client_ip" value must be a string, but not an integer number.',
    ],
    [
      'client_ip header',
      { listeners: { '*:80': { pass: 'routes', client_ip: { header: 1, source: '*' } } }, routes: [{ action: { return: 204 } }] },
      '/listeners/*:80/client_ip/header',
      'WARDEN_ERR_CONFIG_TYPE',
      'The "header" value must be a string, but not an integer number.',
    ],
    [
      'recursive',
      { listeners: { '*:80': { pass: 'routes', forwarded: { client_ip: 'x', source: '*', recursive: 1 } } }, routes: [{ action: { return: 204 } }] },
      '/listeners/*:80/forwarded/recursive',
      'WARDEN_ERR_CONFIG_TYPE',
      'The "recursive" value must be a boolean, but not an integer number.',
    ],
    [
      'tls',
      { listeners: { '*:80': { pass: 'routes', tls: 1 } }, routes: [{ action: { return: 204 } }] },
      '/listeners/*:80/tls',
      'WARDEN_ERR_CONFIG_TYPE',
      'The "tls" value must be an object, but not an integer number.',
    ],
    [
      'cert',
      { listeners: { '*:80': { pass: 'routes', tls: { certificate: 1 } } }, routes: [{ action: { return: 204 } }] },
      '/listeners/*:80/tls/certificate',
      'WARDEN_ERR_CONFIG_TYPE',
      'The "certificate" value must be a string or an array, but not an integer number.',
    ],
    [
      'cert item',
      { listeners: { '*:80': { pass: 'routes', tls: { certificate: [1] } } }, routes: [{ action: { return: 204 } }] },
      '/listeners/*:80/tls/certificate/0',
      'WARDEN_ERR_CONFIG_TYPE',
      'The "certificate" array must contain only string values.',
    ],
    [
      'cert missing',
      { listeners: { '*:80': { pass: 'routes', tls: {} } }, routes: [{ action: { return: 204 } }] },
      '/listeners/*:80/tls',
      'WARDEN_ERR_CONFIG_REQUIRED',
      'Required parameter "certificate" is missing.',
    ],
    [
      'session',
      { listeners: { '*:80': { pass: 'routes', tls: { certificate: 'a', session: 1 } } }, routes: [{ action: { return: 204 } }] },
      '/listeners/*:80/tls/session',
      'WARDEN_ERR_CONFIG_TYPE',
      'The "session" value must be an object, but not an integer number.',
    ],
    [
      'cache_size',
      { listeners: { '*:80': { pass: 'routes', tls: { certificate: 'a', session: { cache_size: 1.5 } } } }, routes: [{ action: { return: 204 } }] },
      '/listeners/*:80/tls/session/cache_size',
      'WARDEN_ERR_CONFIG_TYPE',
      'The "cache_size" value must be an integer number, but not a fractional number.',
    ],
    [
      'cache_size neg',
      { listeners: { '*:80': { pass: 'routes', tls: { certificate: 'a', session: { cache_size: -1 } } } }, routes: [{ action: { return: 204 } }] },
      '/listeners/*:80/tls/session/cache_size',
      'WARDEN_ERR_CONFIG_RANGE',
      'The "cache_size" number must not be negative.',
    ],
    [
      'timeout',
      { listeners: { '*:80': { pass: 'routes', tls: { certificate: 'a', session: { timeout: 'x' } } } }, routes: [{ action: { return: 204 } }] },
      '/listeners/*:80/tls/session/timeout',
      'WARDEN_ERR_CONFIG_TYPE',
      'The "timeout" value must be an integer number, but not a string.',
    ],
    [
      'tickets',
      { listeners: { '*:80': { pass: 'routes', tls: { certificate: 'a', session: { tickets: 1 } } } }, routes: [{ action: { return: 204 } }] },
      '/listeners/*:80/tls/session/tickets',
      'WARDEN_ERR_CONFIG_TYPE',
      'The "tickets" value must be a boolean, a string or an array, but not an integer number.',
    ],
    [
      'tickets item',
      { listeners: { '*:80': { pass: 'routes', tls: { certificate: 'a', session: { tickets: [1] } } } }, routes: [{ action: { return: 204 } }] },
      '/listeners/*:80/tls/session/tickets/0',
      'WARDEN_ERR_CONFIG_TYPE',
      'The "tickets" array must contain only string values.',
    ],
    [
      'conf_commands',
      { listeners: { '*:80': { pass: 'routes', tls: { certificate: 'a', conf_commands: 1 } } }, routes: [{ action: { return: 204 } }] },
      '/listeners/*:80/tls/conf_commands',
      'WARDEN_ERR_CONFIG_TYPE',
      'The "conf_commands" value must be an object, but not an integer number.',
    ],
    [
      'conf_command',
      { listeners: { '*:80': { pass: 'routes', tls: { certificate: 'a', conf_commands: { CipherString: 1 } } } }, routes: [{ action: { return: 204 } }] },
      '/listeners/*:80/tls/conf_commands/CipherString',
      'WARDEN_ERR_CONFIG_TYPE',
      'The "CipherString" value must be a string, but not an integer number.',
    ],
    [
      'match',
      { routes: [{ match: 1, action: { return: 204 } }] },
      '/routes/0/match',
      'WARDEN_ERR_CONFIG_TYPE',
      'The "match" value must be an object, but not an integer number.',
    ],
    [
      'headers',
      { routes: [{ match: { headers: 1 }, action: { return: 204 } }] },
      '/routes/0/match/headers',
      'WARDEN_ERR_CONFIG_TYPE',
      'The "headers" value must be an object or an array, but not an integer number.',
    ],
    [
      'headers item',
      { routes: [{ match: { headers: [1] }, action: { return: 204 } }] },
      '/routes/0/match/headers/0',
      'WARDEN_ERR_CONFIG_TYPE',
      'The "headers" array must contain only object values.',
    ],
    [
      'if',
      { routes: [{ match: { if: 1 }, action: { return: 204 } }] },
      '/routes/0/match/if',
      'WARDEN_ERR_CONFIG_TYPE',
      'The "if" value must be a string, but not an integer number.',
    ],
    [
      'scheme',
      { routes: [{ match: { scheme: 1 }, action: { return: 204 } }] },
      '/routes/0/match/scheme',
      'WARDEN_ERR_CONFIG_TYPE',
      'The "scheme" value must be a string, but not an integer number.',
    ],
    ['route step without an action', { routes: [{ match: {} }] }, '/routes/0', 'WARDEN_ERR_CONFIG_REQUIRED', 'Required parameter "action" is missing.'],
    [
      'upstream without servers',
      { upstreams: { u: {} } },
      '/upstreams/u',
      'WARDEN_ERR_CONFIG_REQUIRED',
      'The "u" upstream must contain "servers" object value.',
    ],
    [
      'forwarded without a source',
      { listeners: { '*:80': { pass: 'routes', forwarded: { client_ip: 'x' } } }, routes: [{ action: { return: 204 } }] },
      '/listeners/*:80/forwarded',
      'WARDEN_ERR_CONFIG_REQUIRED',
      'Required parameter "source" is missing.',
    ],
    [
      'unknown listener key',
      { listeners: { '*:80': { pass: 'routes', colour: 1 } }, routes: [{ action: { return: 204 } }] },
      '/listeners/*:80/colour',
      'WARDEN_ERR_CONFIG_UNKNOWN',
      'Unknown parameter "colour".',
    ],
    [
      'unknown upstream key',
      { upstreams: { u: { servers: {}, colour: 1 } } },
      '/upstreams/u/colour',
      'WARDEN_ERR_CONFIG_UNKNOWN',
      'Unknown parameter "colour".',
    ],
    [
      'unknown server key',
      { upstreams: { u: { servers: { '127.0.0.1:1': { colour: 1 } } } } },
      '/upstreams/u/servers/127.0.0.1:1/colour',
      'WARDEN_ERR_CONFIG_UNKNOWN',
      'Unknown parameter "colour".',
    ],
    [
      'unknown route step key',
      { routes: [{ action: { return: 204 }, colour: 1 }] },
      '/routes/0/colour',
      'WARDEN_ERR_CONFIG_UNKNOWN',
      'Unknown parameter "colour".',
    ],
    [
      'unknown forwarded key',
      { listeners: { '*:80': { pass: 'routes', forwarded: { client_ip: 'x', source: '*', header: 'x' } } }, routes: [{ action: { return: 204 } }] },
      '/listeners/*:80/forwarded/header',
      'WARDEN_ERR_CONFIG_UNKNOWN',
      'Unknown parameter "header".',
    ],
    [
      'unknown client_ip key',
      { listeners: { '*:80': { pass: 'routes', client_ip: { header: 'x', source: '*', protocol: 'x' } } }, routes: [{ action: { return: 204 } }] },
      '/listeners/*:80/client_ip/protocol',
      'WARDEN_ERR_CONFIG_UNKNOWN',
      'Unknown parameter "protocol".',
    ],
    [
      'unknown tls key',
      { listeners: { '*:80': { pass: 'routes', tls: { certificate: 'a', colour: 1 } } }, routes: [{ action: { return: 204 } }] },
      '/listeners/*:80/tls/colour',
      'WARDEN_ERR_CONFIG_UNKNOWN',
      'Unknown parameter "colour".',
    ],
    [
      'unknown session key',
      { listeners: { '*:80': { pass: 'routes', tls: { certificate: 'a', session: { colour: 1 } } } }, routes: [{ action: { return: 204 } }] },
      '/listeners/*:80/tls/session/colour',
      'WARDEN_ERR_CONFIG_UNKNOWN',
      'Unknown parameter "colour".',
    ],
    [
      'unknown static key',
      { settings: { http: { static: { colour: 1 } } } },
      '/settings/http/static/colour',
      'WARDEN_ERR_CONFIG_UNKNOWN',
      'Unknown parameter "colour".',
    ],
    ['unknown access_log key', { access_log: { path: '/x', colour: 1 } }, '/access_log/colour', 'WARDEN_ERR_CONFIG_UNKNOWN', 'Unknown parameter "colour".'],
  ];

  it.each(cases)('refuses %s (a type, required key or unknown key)', (_family, config, path, code, message) => {
    expect(checkRouterConfig(config)).toEqual([{ path, code, message }]);
  });
});
