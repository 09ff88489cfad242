import 'reflect-metadata';
import { container as root } from 'tsyringe';
import type { IsolationExtra } from '../src/contracts';
import { ConfigValidationError, TOKENS, WardenError } from '../src/contracts';
import { ConfigValidator } from '../src/config/config-validator';
import { buildPlanContext, planContextDefaults } from '../src/config/plan-context';
import { buildConfigSchema } from '../src/config/schema-builder';
import { fakeExternalLauncher, fakeNamespace } from './harness';

/** An id-map array as the uidmap/gidmap keys take it. */
const idMapSchema = {
  type: 'array',
  items: {
    type: 'object',
    properties: { container: { type: 'integer' }, host: { type: 'integer' }, size: { type: 'integer' } },
    required: ['container', 'host', 'size'],
    additionalProperties: false,
  },
};

const uidmapExtra: IsolationExtra = {
  keys: ['uidmap', 'gidmap'],
  schema: {
    uidmap: idMapSchema,
    gidmap: idMapSchema,
  },
  validate(app) {
    if (app.isolation?.uidmap && app.isolation.namespaces?.credential !== true) {
      throw new ConfigValidationError(
        '"uidmap" is set but "isolation.namespaces.credential" is false or unset.',
        '/applications/a/isolation/uidmap',
        'WARDEN_ERR_IDMAP_NO_CREDENTIAL',
      );
    }
  },
  plan: () => undefined,
};

function validator(register: (c: ReturnType<typeof root.createChildContainer>) => void = () => undefined) {
  const c = root.createChildContainer();
  c.register(TOKENS.AppLauncher, { useValue: fakeExternalLauncher });
  for (const k of ['credential', 'pid', 'mount', 'network', 'uname', 'cgroup']) c.register(TOKENS.NamespaceProvider, { useValue: fakeNamespace(k) });
  c.register(TOKENS.IsolationExtra, { useValue: uidmapExtra });
  register(c);
  return new ConfigValidator(c, planContextDefaults({ tmpdir: '/tmp' }));
}

const errorOf = (v: ConfigValidator, config: unknown) => {
  try {
    v.validate(config);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigValidationError);
    return e as ConfigValidationError;
  }
  throw new Error('accepted');
};

const app = (extra: Record<string, unknown> = {}) => ({ applications: { a: { type: 'external', executable: '/bin/app', ...extra } } });

describe('config schema', () => {
  const v = validator();

  it('accepts a full Unit config with every root object', () => {
    const config = {
      listeners: {
        '*:8080': { pass: 'routes/main' },
        '127.0.0.1:8081': {
          pass: 'applications/a',
          backlog: 128,
          forwarded: { client_ip: 'X-Forwarded-For', source: ['10.0.0.0/8'], recursive: false, protocol: 'X-Forwarded-Proto' },
        },
        '[::1]:8082': { pass: 'upstreams/pool' },
        '127.0.0.1:8443': {
          pass: 'applications/a',
          tls: { certificate: 'bundle', session: { cache_size: 10, timeout: 60, tickets: false }, conf_commands: { MinProtocol: 'TLSv1.2' } },
        },
      },
      routes: {
        main: [
          {
            match: {
              method: ['GET', 'HEAD'],
              host: '*.example.com',
              uri: ['/api/*', '!/api/private*'],
              query: 'a=1',
              scheme: 'http',
              source: ['127.0.0.1', '10.0.0.0/8'],
              destination: '*:8080',
              arguments: { id: '~^[0-9]+$' },
              headers: [{ 'User-Agent': '*curl*' }, { Accept: 'text/*' }],
              cookies: { session: '*' },
              if: '$arg_debug',
            },
            action: { pass: 'applications/a', rewrite: '/v1$uri', response_headers: { 'X-Warden': 'yes', Server: null } },
          },
          {
            match: { uri: '/static/*' },
            action: {
              share: ['/srv/www$uri', '/srv/alt$uri'],
              index: 'index.html',
              types: ['text/*'],
              chroot: '/srv',
              follow_symlinks: false,
              traverse_mounts: true,
              fallback: { return: 404 },
            },
          },
          { match: { uri: '/old' }, action: { return: 301, location: 'https://example.com/new' } },
          { action: { proxy: 'http://127.0.0.1:9000' } },
          { action: { pass: '$host' } },
        ],
      },
      applications: {
        a: {
          type: 'external',
          executable: '/srv/app',
          arguments: ['--port', '0'],
          processes: { max: 4, spare: 1, idle_timeout: 20 },
          limits: { timeout: 10, requests: 1000 },
          working_directory: '/srv',
          environment: { MODE: 'prod' },
          stdout: '/tmp/out',
          stderr: '/tmp/err',
          isolation: {
            namespaces: { credential: true, pid: true, mount: false, network: false, uname: true, cgroup: false },
            uidmap: [{ container: 0, host: 1000, size: 1 }],
          },
        },
        b: { type: 'go', executable: '/srv/b', processes: 2 },
      },
      upstreams: { pool: { servers: { '127.0.0.1:9001': { weight: 2 }, '127.0.0.1:9002': {} } } },
      settings: {
        http: {
          header_read_timeout: 30,
          body_read_timeout: 30,
          send_timeout: 30,
          idle_timeout: 180,
          large_header_buffer_size: 8192,
          large_header_buffers: 4,
          body_buffer_size: 16384,
          max_body_size: 8388608,
          body_temp_path: '/tmp',
          discard_unsafe_fields: true,
          log_route: false,
          server_version: true,
          chunked_transform: false,
          static: { mime_types: { 'text/x-code': ['.c', '.h'], 'text/plain': '.log' } },
          proxy_connect_timeout: 5,
          proxy_read_timeout: 0.5,
          proxy_send_timeout: 60,
          max_connections: 10000,
        },
      },
      access_log: { path: '/var/log/access.log', format: '$remote_addr "$request_line" $status', if: '$status' },
    };
    expect(() => v.validate(config)).not.toThrow();
    expect(() =>
      v.validate({
        routes: [{ match: { scheme: 'HTTPS', uri: ['~^/a[**]$', '*/x/*'] }, action: { return: 200 } }],
        listeners: { '*:80': { pass: 'routes' } },
        access_log: '/tmp/a.log',
      }),
    ).not.toThrow();
    expect(() => v.validate({})).not.toThrow();
    // pass segments are percent-decoded as in Unit: this names the app "loader/unit_http".
    const loader = { type: 'external', executable: '/bin/true' };
    expect(() =>
      v.validate({ applications: { 'loader/unit_http': loader }, listeners: { '*:80': { pass: 'applications/loader%2Funit_http' } } }),
    ).not.toThrow();
  });

  it.each([
    [app({ processes: 'x' }), '/applications/a/processes', 'The "processes" value must be an integer number or an object, but not a string.'],
    [app({ processes: { max: 1, spare: 2 } }), '/applications/a/processes/spare', 'The "spare" number must be less than or equal to "max".'],
    [app({ processes: { min: 1 } }), '/applications/a/processes/min', 'Unknown parameter "min".'],
    [app({ arguments: ['a', 1] }), '/applications/a/arguments/1', 'The "arguments" array must contain only string values.'],
    [app({ environment: { A: 1 } }), '/applications/a/environment/A', 'The "A" environment value must be a string.'],
    [app({ environment: { 'A=B': 'x' } }), '/applications/a/environment/A=B', "The environment name must not contain '=' character."],
    [app({ limits: { timeout: 1.5 } }), '/applications/a/limits/timeout', 'The "timeout" value must be an integer number, but not a fractional number.'],
    [app({ processes: 0 }), '/applications/a/processes', 'The "processes" number must be equal to or greater than 1.'],
    [app({ processes: { max: 0 } }), '/applications/a/processes/max', 'The "max" number must be equal to or greater than 1.'],
    [app({ processes: { spare: -1 } }), '/applications/a/processes/spare', 'The "spare" number must not be negative.'],
    [
      app({ processes: 100000 }),
      '/applications/a/processes',
      'The "processes" number must not exceed 512 (Warden: each process holds a 16 MiB shared-memory channel and a file descriptor in wardend).',
    ],
    [
      app({ processes: { max: 513 } }),
      '/applications/a/processes/max',
      'The "max" number must not exceed 512 (Warden: each process holds a 16 MiB shared-memory channel and a file descriptor in wardend).',
    ],
    [app({ limits: { requests: -1 } }), '/applications/a/limits/requests', 'The "requests" number must not be negative.'],
    // A Node timer of 2147484 s or more fires after 1 ms: every request was 503 at once.
    [app({ limits: { timeout: 2147484 } }), '/applications/a/limits/timeout', 'The "timeout" number must not exceed 2147483.'],
    [app({ arguments: ['a\u0000b'] }), '/applications/a/arguments', 'The "arguments" array must not contain strings with null character.'],
    [{ routes: [{ match: { uri: '/a/**' }, action: { return: 200 } }] }, '/routes/0/match/uri', 'The "match" pattern must not contain double "*" markers.'],
    [
      { routes: [{ match: { headers: [{ Host: ['x', '!**'] }] }, action: { return: 200 } }] },
      '/routes/0/match/headers/0/Host/1',
      'The "match" pattern must not contain double "*" markers.',
    ],
    [{ settings: { http: { proxy_read_timeout: -1 } } }, '/settings/http/proxy_read_timeout', 'The "proxy_read_timeout" number must not be negative.'],
    [{ settings: { http: { max_connections: 0 } } }, '/settings/http/max_connections', 'The "max_connections" number must be equal to or greater than 1.'],
    [{ upstreams: { u: { servers: { 'example.com:80': {} } } } }, '/upstreams/u/servers/example.com:80', 'The "example.com:80" is not valid server address.'],
    [
      { upstreams: { u: { servers: { '127.0.0.1:80': { weight: -1 } } } } },
      '/upstreams/u/servers/127.0.0.1:80/weight',
      'The "weight" number must be positive.',
    ],
    [{ listeners: { '*:80': { application: 'nope' } } }, '/listeners/*:80/application', 'Listening socket is assigned for a non existing application "nope".'],
    [app({ isolation: { namespaces: { ipc: true } } }), '/applications/a/isolation/namespaces/ipc', 'Unknown parameter "ipc".'],
    [app({ isolation: { namespaces: { pid: 'yes' } } }), '/applications/a/isolation/namespaces/pid', 'The "pid" value must be a boolean, but not a string.'],
    [app({ isolation: { uidmap: [{ container: 0, host: 0 }] } }), '/applications/a/isolation/uidmap/0', 'Required parameter "size" is missing.'],
    [
      app({ isolation: { uidmap: [{ container: 0, host: 0, size: 1 }] } }),
      '/applications/a/isolation/uidmap',
      '"uidmap" is set but "isolation.namespaces.credential" is false or unset.',
    ],
    [app({ isolation: { rootfs: '/x' } }), '/applications/a/isolation/rootfs', 'Unknown parameter "rootfs".'],
    [app({ user: 'no-such-user-here' }), '/applications/a/user', 'User "no-such-user-here" is not found.'],
    [{ applications: { a: { executable: '/x' } } }, '/applications/a', 'Required parameter "type" is missing.'],
    [{ applications: { a: { type: 3 } } }, '/applications/a/type', 'The "type" value must be a string, but not an integer number.'],
    [{ applications: { a: { type: 'php' } } }, '/applications/a/type', 'The module to run "php" is not found among the available application modules.'],
    [{ listeners: { '*:80': { pass: 'applications/nope' } } }, '/listeners/*:80/pass', 'Request "pass" points to invalid location "applications/nope".'],
    [{ listeners: { '*:80': { pass: 'routes' } }, routes: { main: [] } }, '/listeners/*:80/pass', 'Request "pass" points to invalid location "routes".'],
    [{ listeners: { '*:80': { pass: 'applications/a/b/c' } } }, '/listeners/*:80/pass', 'Request "pass" value "applications/a/b/c" is invalid.'],
    [{ listeners: { '*:80': { pass: 'applications//a' } } }, '/listeners/*:80/pass', 'Request "pass" value "applications//a" is invalid.'],
    [{ listeners: { '*:80': { pass: 'applications/%zz' } } }, '/listeners/*:80/pass', 'Request "pass" value "applications/%zz" is invalid.'],
    [{ listeners: { 'localhost:80': {} } }, '/listeners/localhost:80', 'The listener address "localhost:80" is invalid.'],
    [{ listeners: { '*:99999': {} } }, '/listeners/*:99999', 'The listener address "*:99999" is invalid.'],
    [{ listeners: { '*:80': { forwarded: { client_ip: 'X-F' } } } }, '/listeners/*:80/forwarded', 'Required parameter "source" is missing.'],
    [{ routes: [{ match: {} }] }, '/routes/0', 'Required parameter "action" is missing.'],
    [{ routes: [{ action: {} }] }, '/routes/0/action', 'The "action" object must have either "pass", "return", "share", or "proxy" option set.'],
    [
      { routes: [{ action: { return: 200, proxy: 'http://a:1' } }] },
      '/routes/0/action',
      'The "action" object must have just one of "pass", "return", "share", or "proxy" options set.',
    ],
    [{ routes: [{ action: { return: 1000 } }] }, '/routes/0/action/return', 'The "return" value is out of allowed HTTP status code range 0-999.'],
    [{ routes: [{ action: { pass: 'upstreams/x' } }] }, '/routes/0/action/pass', 'Request "pass" points to invalid location "upstreams/x".'],
    [{ routes: [{ match: { scheme: 'ftp' }, action: { return: 200 } }] }, '/routes/0/match/scheme', 'The "scheme" can either be "http" or "https".'],
    [{ routes: [{ match: { color: 'red' }, action: { return: 200 } }] }, '/routes/0/match/color', 'Unknown parameter "color".'],
    // Unit checks an action against that action's own option table: another action's option is unknown there.
    [{ routes: [{ action: { return: 200, index: 'x' } }] }, '/routes/0/action/index', 'Unknown parameter "index".'],
    [{ routes: [{ action: { proxy: 'ftp://x' } }] }, '/routes/0/action/proxy', 'The "proxy" address is invalid "ftp://x"'],
    [{ upstreams: { u: {} } }, '/upstreams/u', 'The "u" upstream must contain "servers" object value.'],
    [{ settings: { http: { idle_timeout: '1' } } }, '/settings/http/idle_timeout', 'The "idle_timeout" value must be a number, but not a string.'],
    [
      { settings: { http: { static: { mime_types: { 'text/x': 1 } } } } },
      '/settings/http/static/mime_types/text~1x',
      'The "text/x" value must be a string or an array, but not an integer number.',
    ],
    [{ access_log: 1 }, '/access_log', 'The "access_log" value must be a string or an object, but not an integer number.'],
    [{ access_log: { path: '/x', colour: 1 } }, '/access_log/colour', 'Unknown parameter "colour".'],
    // The router's schema (http-router) rejects keys it does not know, with the JSON path.
    [{ settings: { http: { nope: 1 } } }, '/settings/http/nope', 'Unknown parameter "nope".'],
    [{ listeners: { '*:80': { pass: 'routes', colour: 'red' } }, routes: [] }, '/listeners/*:80/colour', 'Unknown parameter "colour".'],
  ])('rejects %j', (config, path, message) => {
    const e = errorOf(v, config);
    expect({ path: e.path, message: e.message }).toEqual({ path, message });
    expect(e.code).toMatch(/^WARDEN_ERR_/);
  });

  it('the schema is assembled from plugins: no providers means no namespace key is known', () => {
    const c = root.createChildContainer();
    const s = buildConfigSchema(c) as any;
    expect(s.$defs.isolation.properties.namespaces.properties).toEqual({});
    const v2 = new ConfigValidator(c, planContextDefaults({ tmpdir: '/tmp' }));
    expect(errorOf(v2, { applications: { a: { type: 'external', executable: '/x' } } }).message).toBe(
      'The module to run "external" is not found among the available application modules.',
    );
  });

  it('two plugins claiming the same type or key is an error at start', () => {
    expect(() => validator((c) => c.register(TOKENS.AppLauncher, { useValue: fakeExternalLauncher }))).toThrow(WardenError);
    expect(() => validator((c) => c.register(TOKENS.NamespaceProvider, { useValue: fakeNamespace('pid') }))).toThrow(/isolation\.namespaces\.pid/);
  });

  it('a plugin schema that does not compile under strict mode names the problem', () => {
    const bad = { ...fakeNamespace('time'), schema: { type: 'boolean', colour: 'red' } };
    expect(() => validator((c) => c.register(TOKENS.NamespaceProvider, { useValue: bad }))).toThrow(/WARDEN_ERR_PLUGIN_SCHEMA|does not compile/);
  });
});

describe('ConfigValidator.warmUp', () => {
  const withLauncher = (launcher: typeof fakeExternalLauncher) => {
    const c = root.createChildContainer();
    c.register(TOKENS.AppLauncher, { useValue: launcher });
    for (const k of ['credential', 'pid', 'mount', 'network', 'uname', 'cgroup', 'ipc']) c.register(TOKENS.NamespaceProvider, { useValue: fakeNamespace(k) });
    c.register(TOKENS.IsolationExtra, { useValue: uidmapExtra });
    return new ConfigValidator(c, planContextDefaults({ tmpdir: '/tmp' }));
  };

  it('runs the whole validation over a sample app of each loaded type, and never throws', () => {
    // Through the schema and the cross-checks to the launcher's own check, with an isolation object: the code a first
    // start runs.
    const seen: unknown[] = [];
    withLauncher({ ...fakeExternalLauncher, validate: (a) => void seen.push(a) }).warmUp();
    expect(seen).toContainEqual(expect.objectContaining({ type: 'external', isolation: expect.objectContaining({ uidmap: expect.any(Array) }) }));
    const refusing = withLauncher({
      ...fakeExternalLauncher,
      validate: () => {
        throw new ConfigValidationError('no', '/applications/w', 'WARDEN_ERR_CONFIG_RANGE');
      },
    });
    expect(() => refusing.warmUp()).not.toThrow();
    const none = new ConfigValidator(root.createChildContainer(), planContextDefaults({ tmpdir: '/tmp' }));
    expect(() => none.warmUp()).not.toThrow();
  });
});

describe('buildPlanContext', () => {
  it('resolves the app user and its primary group, and the daemon ids', () => {
    const ctx = buildPlanContext('a', { type: 'external', user: 'root' }, { defaultUser: 'nobody', defaultGroup: 'nogroup', tmpdir: '/tmp' });
    expect(ctx).toMatchObject({ appName: 'a', daemonUid: process.geteuid!(), daemonGid: process.getegid!(), defaultUser: 'nobody', tmpdir: '/tmp' });
    expect(ctx.credentials).toMatchObject({ user: 'root', uid: 0, gid: 0 });
  });

  it('uses the default user and group when the app names none', () => {
    const ctx = buildPlanContext('a', { type: 'external' }, { defaultUser: 'root', defaultGroup: 'root', tmpdir: '/tmp' });
    expect(ctx.credentials).toMatchObject({ user: 'root', group: 'root' });
  });

  it("--user without --group takes that user's primary group; unknown defaults are a start-up error", () => {
    expect(planContextDefaults({ user: 'root', tmpdir: '/tmp' })).toEqual({ defaultUser: 'root', defaultGroup: 'root', tmpdir: '/tmp' });
    expect(() => planContextDefaults({ user: 'no-such-user-x' })).toThrow(WardenError);
    expect(() => planContextDefaults({ group: 'no-such-group-x' })).toThrow(/--group "no-such-group-x"/);
  });

  it("without --user, the defaults are Unit's: nobody as root, else the daemon's own user", () => {
    const d = planContextDefaults();
    if (process.geteuid!() === 0) expect(d.defaultUser).toBe('nobody');
    else expect(buildPlanContext('a', { type: 'external' }, d).credentials.uid).toBe(process.geteuid!());
  });

  it("an unknown group is a validation error at the app's group path", () => {
    expect(() => buildPlanContext('a', { type: 'external', user: 'root', group: 'no-such-group-x' }, planContextDefaults({ tmpdir: '/tmp' }))).toThrow(
      expect.objectContaining({ path: '/applications/a/group', message: 'Group "no-such-group-x" is not found.' }),
    );
  });
});
