import { mkdirSync, readdirSync, readFileSync, rmSync } from 'fs';
import { join } from 'path';
import type { ConfigComponent, WardenConfig } from '../src/contracts';
import { ApplyError, ConfigValidationError } from '../src/contracts';
import { DONE, harness } from './harness';

const put = (h: ReturnType<typeof harness>, url: string, v: unknown) => h.req('PUT', url, JSON.stringify(v));

describe('control API: /config methods on nested paths', () => {
  let h: ReturnType<typeof harness>;
  beforeEach(async () => {
    h = harness();
    expect(await put(h, '/config', { listeners: {}, applications: {}, routes: [] })).toEqual({ status: 200, body: DONE });
  });
  afterEach(() => h.cleanup());

  it('starts from an empty config', async () => {
    const fresh = harness();
    expect(await fresh.req('GET', '/config')).toEqual({ status: 200, body: {} });
    fresh.cleanup();
  });

  it('GET returns the whole config and nested values, ignoring one trailing slash', async () => {
    expect((await h.req('GET', '/config')).body).toEqual({ listeners: {}, applications: {}, routes: [] });
    expect((await h.req('GET', '/config/')).body).toEqual({ listeners: {}, applications: {}, routes: [] });
    expect((await h.req('GET', '/config/listeners/')).body).toEqual({});
  });

  it('GET of a missing value is 404 "Value doesn\'t exist."', async () => {
    expect(await h.req('GET', '/config/upstreams')).toEqual({ status: 404, body: { error: "Value doesn't exist." } });
    expect(await h.req('GET', '/config/listeners/x/pass')).toEqual({ status: 404, body: { error: "Value doesn't exist." } });
    expect(await h.req('GET', '/config/routes/0')).toEqual({ status: 404, body: { error: "Value doesn't exist." } });
    expect(await h.req('GET', '/config/routes/x')).toEqual({ status: 404, body: { error: "Value doesn't exist." } });
  });

  it('PUT creates a key whose parent exists, with percent-decoded segments', async () => {
    expect(await put(h, '/config/applications/my%20app', { type: 'external', executable: '/bin/true' })).toEqual({ status: 200, body: DONE });
    expect(await put(h, '/config/listeners/127.0.0.1%3A8300', { pass: 'applications/my app' })).toEqual({ status: 200, body: DONE });
    expect((await h.req('GET', '/config/listeners/127.0.0.1:8300/pass')).body).toBe('applications/my app');
    expect((await h.req('GET', '/config/applications/my%20app/executable')).body).toBe('/bin/true');
  });

  it('PUT replaces a nested scalar value', async () => {
    await put(h, '/config/applications/a', { type: 'external', executable: '/bin/true' });
    expect(await put(h, '/config/applications/a/executable', '/bin/false')).toEqual({ status: 200, body: DONE });
    expect((await h.req('GET', '/config/applications/a')).body).toEqual({ type: 'external', executable: '/bin/false' });
  });

  it('PUT under a missing parent is 404', async () => {
    expect(await put(h, '/config/upstreams/u/servers', {})).toEqual({ status: 404, body: { error: "Value doesn't exist." } });
  });

  it('PUT on an array index replaces; index == length appends; larger is 404', async () => {
    const step = (r: number) => ({ action: { return: r } });
    expect(await put(h, '/config/routes/0', step(200))).toEqual({ status: 200, body: DONE });
    expect(await put(h, '/config/routes/1', step(201))).toEqual({ status: 200, body: DONE });
    expect(await put(h, '/config/routes/0', step(202))).toEqual({ status: 200, body: DONE });
    expect((await h.req('GET', '/config/routes')).body).toEqual([step(202), step(201)]);
    expect(await put(h, '/config/routes/3', step(204))).toEqual({ status: 404, body: { error: "Value doesn't exist." } });
    expect(await put(h, '/config/routes/x', step(204))).toEqual({ status: 404, body: { error: "Value doesn't exist." } });
    expect((await h.req('GET', '/config/routes/1/action/return')).body).toBe(201);
  });

  it('POST appends to an array, and is 405 on anything else, on /config itself and 404 on a missing path', async () => {
    expect(await h.req('POST', '/config/routes', JSON.stringify({ action: { return: 204 } }))).toEqual({ status: 200, body: DONE });
    expect(await h.req('POST', '/config/routes/', JSON.stringify({ action: { return: 205 } }))).toEqual({ status: 200, body: DONE });
    expect((await h.req('GET', '/config/routes')).body).toEqual([{ action: { return: 204 } }, { action: { return: 205 } }]);
    const notAllowed = { status: 405, body: { error: "Method isn't allowed." } };
    expect(await h.req('POST', '/config/listeners', '{}')).toEqual(notAllowed);
    expect(await h.req('POST', '/config', '{}')).toEqual(notAllowed);
    expect(await h.req('POST', '/config/nothing', '{}')).toEqual({ status: 404, body: { error: "Value doesn't exist." } });
  });

  it('DELETE removes nested values and array elements; missing is 404; DELETE /config resets to {}', async () => {
    await put(h, '/config/routes', [{ action: { return: 1 } }, { action: { return: 2 } }, { action: { return: 3 } }]);
    expect(await h.req('DELETE', '/config/routes/1')).toEqual({ status: 200, body: DONE });
    expect((await h.req('GET', '/config/routes')).body).toEqual([{ action: { return: 1 } }, { action: { return: 3 } }]);
    expect(await h.req('DELETE', '/config/listeners')).toEqual({ status: 200, body: DONE });
    expect(await h.req('GET', '/config/listeners')).toEqual({ status: 404, body: { error: "Value doesn't exist." } });
    expect(await h.req('DELETE', '/config/listeners')).toEqual({ status: 404, body: { error: "Value doesn't exist." } });
    expect(await h.req('DELETE', '/config')).toEqual({ status: 200, body: DONE });
    expect((await h.req('GET', '/config')).body).toEqual({});
  });

  it('other methods on /config are 405', async () => {
    expect(await h.req('PATCH', '/config', '{}')).toEqual({ status: 405, body: { error: "Method isn't allowed." } });
  });

  it('a change that makes the whole config invalid is refused and nothing changes', async () => {
    await put(h, '/config/applications/a', { type: 'external', executable: '/bin/true' });
    await put(h, '/config/listeners/*:8080', { pass: 'applications/a' });
    const r = await h.req('DELETE', '/config/applications/a');
    expect(r.status).toBe(400);
    expect(r.body).toEqual({
      error: 'Invalid configuration.',
      detail: 'WARDEN_ERR_CONFIG_PASS at /listeners/*:8080/pass: Request "pass" points to invalid location "applications/a".',
    });
    expect((await h.req('GET', '/config/applications/a/type')).body).toBe('external');
  });

  it('keys like __proto__ are plain data', async () => {
    const r = await h.req('PUT', '/config/applications/__proto__', JSON.stringify({ type: 'external', executable: '/x' }));
    expect(r.status).toBe(200);
    expect((await h.req('GET', '/config/applications/__proto__/executable')).body).toBe('/x');
    expect(Object.getPrototypeOf(h.controller.config.applications)).toBe(Object.prototype);
  });
});

describe('control API: JSON parsing', () => {
  let h: ReturnType<typeof harness>;
  beforeEach(() => (h = harness()));
  afterEach(() => h.cleanup());

  it('answers Invalid JSON. with the location of the error', async () => {
    const r = await h.req('PUT', '/config', '{\n  "listeners": {,\n}');
    expect(r.status).toBe(400);
    const body = r.body as { error: string; detail: string; location: unknown };
    expect(body.error).toBe('Invalid JSON.');
    expect(body.location).toEqual({ offset: 18, line: 2, column: 17 });
    expect(typeof body.detail).toBe('string');
  });

  it('an empty body is Invalid JSON.', async () => {
    const r = await h.req('PUT', '/config', '');
    expect(r.status).toBe(400);
    expect((r.body as { error: string }).error).toBe('Invalid JSON.');
  });

  it('accepts // and /* */ comments and a UTF-8 BOM', async () => {
    const body = Buffer.concat([
      Buffer.from([0xef, 0xbb, 0xbf]),
      Buffer.from('// the listeners\n{ /* none yet */ "listeners": {}, // trailing\n "applications": {} }\n/* end */'),
    ]);
    expect(await h.req('PUT', '/config', body)).toEqual({ status: 200, body: DONE });
    expect((await h.req('GET', '/config')).body).toEqual({ listeners: {}, applications: {} });
  });
});

describe("control API: schema errors in Unit's words", () => {
  let h: ReturnType<typeof harness>;
  beforeEach(() => (h = harness()));
  afterEach(() => h.cleanup());

  const detailOf = async (config: unknown) => {
    const r = await put(h, '/config', config);
    expect(r.status).toBe(400);
    const body = r.body as { error: string; detail: string };
    expect(body.error).toBe('Invalid configuration.');
    return body.detail;
  };

  it('missing required key', async () => {
    expect(await detailOf({ applications: { go: { type: 'external' } } })).toBe(
      'WARDEN_ERR_CONFIG_REQUIRED at /applications/go: Required parameter "executable" is missing.',
    );
  });
  it('unknown key', async () => {
    expect(await detailOf({ applications: { go: { type: 'external', executable: '/a', x: 1 } } })).toBe(
      'WARDEN_ERR_CONFIG_UNKNOWN at /applications/go/x: Unknown parameter "x".',
    );
    expect(await detailOf({ listener: {} })).toBe('WARDEN_ERR_CONFIG_UNKNOWN at /listener: Unknown parameter "listener".');
  });
  it('wrong type', async () => {
    expect(await detailOf({ applications: { go: { type: 'external', executable: '/a', processes: 'x' } } })).toBe(
      'WARDEN_ERR_CONFIG_TYPE at /applications/go/processes: The "processes" value must be an integer number or an object, but not a string.',
    );
  });
  it('unknown application type', async () => {
    expect(await detailOf({ applications: { go: { type: 'python', executable: '/a' } } })).toBe(
      'WARDEN_ERR_CONFIG_APP_TYPE at /applications/go/type: The module to run "python" is not found among the available application modules.',
    );
  });
  it('invalid pass target', async () => {
    expect(await detailOf({ listeners: { '*:80': { pass: 'routes/main' } }, routes: [] })).toBe(
      'WARDEN_ERR_CONFIG_PASS at /listeners/*:80/pass: Request "pass" points to invalid location "routes/main".',
    );
  });
  it('spare greater than max', async () => {
    expect(await detailOf({ applications: { a: { type: 'go', executable: '/a', processes: { max: 2, spare: 3 } } } })).toMatch(
      /^WARDEN_ERR_CONFIG_RANGE at \/applications\/a\/processes\/spare: The "spare" number must be less than or equal to "max"\.$/,
    );
  });
  it('root that is not an object', async () => {
    expect(await detailOf([])).toBe('WARDEN_ERR_CONFIG_TYPE at /: The configuration must be an object, but not an array.');
  });
});

describe('controller: transactional apply', () => {
  const component = (name: string, order: number, log: string[], fail?: Error): ConfigComponent => ({
    name,
    order,
    async prepare(next: WardenConfig) {
      log.push(`${name}.prepare ${Object.keys(next.applications ?? {}).join(',')}`);
      if (fail && next.applications?.bad) throw fail;
      return {
        commit: async () => void log.push(`${name}.commit`),
        rollback: async () => void log.push(`${name}.rollback`),
      };
    },
    async shutdown() {
      log.push(`${name}.shutdown`);
    },
    status: () => ({ applications: Object.fromEntries(Object.keys({}).map((k) => [k, {}])), requests: { total: 7 } }),
  });
  const app = { type: 'external', executable: '/bin/true' };

  it('prepares and commits every component in order, then persists', async () => {
    const log: string[] = [];
    const h = harness({ components: [component('b', 2, log), component('a', 1, log)] });
    expect(await put(h, '/config', { applications: { x: app } })).toEqual({ status: 200, body: DONE });
    expect(log).toEqual(['a.prepare x', 'b.prepare x', 'a.commit', 'b.commit']);
    expect(JSON.parse(readFileSync(join(h.statedir, 'conf.json'), 'utf8'))).toEqual({ applications: { x: app } });
    h.cleanup();
  });

  it('rolls back prepared components in reverse order when one fails, keeps the old config and answers 500 naming app and step', async () => {
    const log: string[] = [];
    const failing = new ApplyError('the executable cannot be run', 'bad', 'exec', 13);
    const h = harness({ components: [component('a', 1, log), component('b', 2, log), component('c', 3, log, failing)] });
    await put(h, '/config', { applications: { x: app } });
    log.length = 0;
    const r = await put(h, '/config', { applications: { x: app, bad: app } });
    expect(r.status).toBe(500);
    expect(r.body).toEqual({
      error: 'Failed to apply new configuration.',
      detail: 'WARDEN_ERR_APPLY in application "bad", step "exec": the executable cannot be run (EACCES, errno 13)',
    });
    expect(log).toEqual(['a.prepare x,bad', 'b.prepare x,bad', 'c.prepare x,bad', 'b.rollback', 'a.rollback']);
    expect((await h.req('GET', '/config')).body).toEqual({ applications: { x: app } });
    expect(JSON.parse(readFileSync(join(h.statedir, 'conf.json'), 'utf8'))).toEqual({ applications: { x: app } });
    h.cleanup();
  });

  it('prepares independent components at the same time, the others one at a time; a failure rolls back all that prepared', async () => {
    const log: string[] = [];
    // Each independent prepare waits until every other one of its group has started: run one at a time, they hang.
    const started = new Set<string>();
    const independent = (name: string, order: number, group: string[], fail?: Error): ConfigComponent => ({
      ...component(name, order, log),
      independentPrepare: true,
      async prepare(next: WardenConfig) {
        log.push(`${name}.prepare`);
        started.add(name);
        for (let i = 0; i < 100 && !group.every((g) => started.has(g)); i++) await new Promise((r) => setImmediate(r));
        if (!group.every((g) => started.has(g))) throw new Error(`${name}: the others of ${group.join(',')} did not start alongside`);
        if (fail && next.applications?.bad) throw fail;
        return { commit: async () => void log.push(`${name}.commit`), rollback: async () => void log.push(`${name}.rollback`) };
      },
    });
    const failing = new ApplyError('cannot bind', undefined, 'listen', 98);
    const h = harness({
      components: [
        independent('a', 1, ['a', 'b']),
        independent('b', 2, ['a', 'b'], failing),
        component('c', 3, log), // not independent: after a and b, alone
        independent('d', 4, ['d', 'e']),
        independent('e', 5, ['d', 'e']),
      ],
    });
    expect(await put(h, '/config', { applications: { x: app } })).toEqual({ status: 200, body: DONE });
    expect(log.slice(0, 2).sort()).toEqual(['a.prepare', 'b.prepare']);
    expect(log[2]).toBe('c.prepare x');
    expect(log.slice(3, 5).sort()).toEqual(['d.prepare', 'e.prepare']);
    expect(log.slice(5)).toEqual(['a.commit', 'b.commit', 'c.commit', 'd.commit', 'e.commit']);
    // b fails while a prepares alongside it: a is rolled back, c and later never prepare, the old config stays.
    log.length = 0;
    started.clear();
    const r = await put(h, '/config', { applications: { x: app, bad: app } });
    expect(r.status).toBe(500);
    expect(r.body).toMatchObject({ detail: expect.stringContaining('cannot bind') });
    expect(log.slice(0, 2).sort()).toEqual(['a.prepare', 'b.prepare']);
    expect(log.slice(2)).toEqual(['a.rollback']);
    expect(JSON.parse(readFileSync(join(h.statedir, 'conf.json'), 'utf8'))).toEqual({ applications: { x: app } });
    expect(readdirSync(h.statedir).filter((f) => f.includes('.tmp-'))).toEqual([]);
    h.cleanup();
  });

  it('rolls back an independent component when one prepared alongside it throws before returning a promise', async () => {
    const log: string[] = [];
    const throwsAtOnce: ConfigComponent = {
      ...component('b', 2, log),
      independentPrepare: true,
      prepare(next: WardenConfig) {
        if (next.applications?.bad) throw new ApplyError('refused at once', 'bad', 'check');
        return component('b', 2, log).prepare(next, {});
      },
    };
    const h = harness({ components: [{ ...component('a', 1, log), independentPrepare: true }, throwsAtOnce] });
    const r = await put(h, '/config', { applications: { bad: app } });
    expect(r.status).toBe(500);
    expect(JSON.stringify(r.body)).toContain('refused at once');
    expect(log).toEqual(['a.prepare bad', 'a.rollback']);
    h.cleanup();
  });

  it('a config that cannot be saved is not applied: 500 naming the state dir, prepared components rolled back', async () => {
    const log: string[] = [];
    const h = harness({ components: [component('a', 1, log)] });
    await put(h, '/config', { applications: { x: app } });
    log.length = 0;
    // conf.json replaced by a directory: the temp files are written, the rename over it fails.
    rmSync(join(h.statedir, 'conf.json'));
    mkdirSync(join(h.statedir, 'conf.json'));
    const r = await put(h, '/config', { applications: { y: app } });
    expect(r.status).toBe(500);
    expect(JSON.stringify(r.body)).toContain(`Cannot save the configuration in ${h.statedir}`);
    expect(log).toEqual(['a.prepare y', 'a.rollback']);
    expect((await h.req('GET', '/config')).body).toEqual({ applications: { x: app } });
    expect(readdirSync(h.statedir).filter((f) => f.includes('.tmp-'))).toEqual([]);
    // The state dir gone: the writes themselves fail.
    rmSync(h.statedir, { recursive: true });
    log.length = 0;
    expect((await put(h, '/config', { applications: { z: app } })).status).toBe(500);
    expect(log).toEqual(['a.prepare z', 'a.rollback']);
    expect((await h.req('GET', '/config')).body).toEqual({ applications: { x: app } });
    h.cleanup();
  });

  it('a ConfigValidationError from prepare is 400 Invalid configuration. with its message', async () => {
    const log: string[] = [];
    const h = harness({ components: [component('a', 1, log, new ConfigValidationError('Port 80 is reserved.', '/listeners/*:80'))] });
    const r = await put(h, '/config', { applications: { bad: app } });
    expect(r).toEqual({ status: 400, body: { error: 'Invalid configuration.', detail: 'WARDEN_ERR_CONFIG_INVALID at /listeners/*:80: Port 80 is reserved.' } });
    expect((await h.req('GET', '/config')).body).toEqual({});
    h.cleanup();
  });

  it('serialises concurrent changes: none is lost', async () => {
    let inPrepare = 0;
    let overlap = false;
    const slow: ConfigComponent = {
      name: 'slow',
      order: 1,
      async prepare() {
        inPrepare++;
        if (inPrepare > 1) overlap = true;
        await new Promise((r) => setImmediate(r));
        inPrepare--;
        return { commit: async () => undefined, rollback: async () => undefined };
      },
      async shutdown() {},
    };
    const h = harness({ components: [slow] });
    await put(h, '/config', { applications: {} });
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => put(h, `/config/applications/app${i}`, { type: 'external', executable: `/bin/${i}` })),
    );
    expect(results.every((r) => r.status === 200)).toBe(true);
    expect(overlap).toBe(false);
    expect(Object.keys(h.controller.config.applications ?? {}).sort()).toEqual(Array.from({ length: 20 }, (_, i) => `app${i}`).sort());
    h.cleanup();
  });

  it('restores the persisted config in a new controller on the same state dir', async () => {
    const h = harness();
    await put(h, '/config', { applications: { x: app }, listeners: { '*:8080': { pass: 'applications/x' } } });
    const h2 = harness({ statedir: h.statedir });
    await h2.controller.restore();
    expect((await h2.req('GET', '/config')).body).toEqual({ applications: { x: app }, listeners: { '*:8080': { pass: 'applications/x' } } });
    h.cleanup();
  });
});

describe('control API: /, /status and restart', () => {
  const app = { type: 'external', executable: '/bin/true' };

  it('GET / returns config and status; other methods are 405', async () => {
    const h = harness();
    await put(h, '/config', { applications: { a: app } });
    const r = await h.req('GET', '/');
    expect(r.status).toBe(200);
    expect((r.body as { config: unknown }).config).toEqual({ applications: { a: app } });
    expect(await h.req('PUT', '/', '{}')).toEqual({ status: 405, body: { error: "Method isn't allowed." } });
    h.cleanup();
  });

  it("GET /status has Unit's shape with zeros for each app, and sub-paths; a bad path is 404 Invalid path.", async () => {
    const h = harness();
    await put(h, '/config', { applications: { a: app, b: app } });
    const zero = { processes: { running: 0, starting: 0, idle: 0 }, requests: { active: 0 } };
    expect(await h.req('GET', '/status')).toEqual({
      status: 200,
      body: { connections: { accepted: 0, active: 0, idle: 0, closed: 0 }, requests: { total: 0 }, applications: { a: zero, b: zero } },
    });
    expect(await h.req('GET', '/status/applications/a/processes/running')).toEqual({ status: 200, body: 0 });
    expect(await h.req('GET', '/status/connections/')).toEqual({ status: 200, body: { accepted: 0, active: 0, idle: 0, closed: 0 } });
    expect(await h.req('GET', '/status/nope')).toEqual({ status: 404, body: { error: 'Invalid path.' } });
    expect(await h.req('GET', '/nope')).toEqual({ status: 404, body: { error: 'Invalid path.' } });
    // A target with no path (`OPTIONS *`) was a 500 from a TypeError.
    for (const m of ['OPTIONS', 'GET', 'PUT']) expect(await h.req(m, '*')).toEqual({ status: 404, body: { error: 'Invalid path.' } });
    expect((await h.req('DELETE', '/status')).status).toBe(405);
    h.cleanup();
  });

  it("merges each component's status into the shape", async () => {
    const h = harness({
      components: [
        {
          name: 'router',
          order: 1,
          prepare: async () => ({ commit: async () => undefined, rollback: async () => undefined }),
          shutdown: async () => undefined,
          status: () => ({ requests: { total: 42 }, applications: { a: { processes: { running: 2 } } } }),
        },
      ],
    });
    await put(h, '/config', { applications: { a: app } });
    const s = (await h.req('GET', '/status')).body as Record<string, any>;
    expect(s.requests.total).toBe(42);
    expect(s.applications.a).toEqual({ processes: { running: 2, starting: 0, idle: 0 }, requests: { active: 0 } });
    h.cleanup();
  });

  it('restart calls AppControl; unknown app 404; other methods 405; failure 500', async () => {
    const restarted: string[] = [];
    const h = harness({
      appControl: {
        has: (n) => n === 'a' || n === 'broken',
        restart: async (n) => {
          if (n === 'broken') throw new ApplyError('process did not start', n, 'spawn');
          restarted.push(n);
        },
      },
    });
    await put(h, '/config', { applications: { a: app, broken: app } });
    expect(await h.req('GET', '/control/applications/a/restart')).toEqual({ status: 200, body: { success: 'Ok' } });
    expect(restarted).toEqual(['a']);
    expect(await h.req('GET', '/control/applications/zzz/restart')).toEqual({ status: 404, body: { error: "Value doesn't exist." } });
    expect(await h.req('POST', '/control/applications/a/restart')).toEqual({ status: 405, body: { error: "Method isn't allowed." } });
    expect(await h.req('GET', '/control/applications/broken/restart')).toEqual({
      status: 500,
      body: { error: 'Failed to restart app.', detail: 'WARDEN_ERR_APPLY in application "broken", step "spawn": process did not start' },
    });
    h.cleanup();
  });

  it('restart without a supervisor is 500 with a detail', async () => {
    const h = harness();
    await put(h, '/config', { applications: { a: app } });
    const r = await h.req('GET', '/control/applications/a/restart');
    expect(r.status).toBe(500);
    expect((r.body as { error: string }).error).toBe('Failed to restart app.');
    h.cleanup();
  });
});

describe('control API: hostile input', () => {
  it("answers every random body and path with one of Unit's bodies, never throwing", async () => {
    const h = harness();
    let seed = 12345;
    const rnd = (n: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    const alphabet = ['{', '}', '[', ']', '"', ':', ',', '/', '*', '\\', 'a', '1', '-', 'e', '.', ' ', '\n', 'true', 'null', '\u00e9', '\ufeff'];
    const segs = ['config', 'status', 'control', 'applications', 'listeners', 'routes', '0', '%zz', '%2F', '', '__proto__', 'constructor', '..'];
    for (let i = 0; i < 400; i++) {
      const body = Array.from({ length: rnd(40) }, () => alphabet[rnd(alphabet.length)]).join('');
      const url = '/' + Array.from({ length: rnd(5) }, () => segs[rnd(segs.length)]).join('/');
      const method = ['GET', 'PUT', 'POST', 'DELETE', 'PATCH'][rnd(5)];
      const r = await h.req(method, url, body);
      expect([200, 400, 404, 405]).toContain(r.status);
      if (r.status !== 200) expect(typeof (r.body as { error: unknown }).error).toBe('string');
    }
    expect(Object.getPrototypeOf({})).toBe(Object.prototype);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    h.cleanup();
  });
});
