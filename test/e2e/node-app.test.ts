import { createHash, randomBytes } from 'crypto';
import { join } from 'path';
import { ROOT, cleanup, freePort, http, startWardend, worldDir, type Wardend } from './support/wardend';

const FIXTURES = join(ROOT, 'packages/app-types/test/fixtures');
const PRELOAD = join(ROOT, 'packages/app-types/dist/runtime/preload.js');

describe('unmodified Node apps served by wardend over shared memory', () => {
  let dir: string;
  let w: Wardend;
  const ports: Record<string, number> = {};

  beforeAll(async () => {
    dir = worldDir('warden-node-');
    w = await startWardend([], dir);
    for (const name of ['cjs', 'esm', 'express', 'external']) ports[name] = await freePort();
    const res = await w.control('PUT', '/config', {
      listeners: Object.fromEntries(Object.entries(ports).map(([n, p]) => [`127.0.0.1:${p}`, { pass: `applications/${n}` }])),
      applications: {
        cjs: { type: 'node', working_directory: FIXTURES, script: 'hello-cjs.js' },
        esm: { type: 'node', working_directory: FIXTURES, script: 'hello-esm.mjs' },
        express: { type: 'node', working_directory: FIXTURES, script: 'hello-express.js' },
        external: {
          type: 'external',
          working_directory: FIXTURES,
          executable: process.execPath,
          arguments: ['--require', PRELOAD, 'hello-cjs.js'],
        },
      },
      settings: { http: { max_body_size: 64 << 20 } },
    });
    expect(res).toEqual({ status: 200, body: { success: 'Reconfiguration done.' } });
  });
  afterAll(async () => {
    await w?.stop();
    cleanup(dir);
  });

  it.each(['cjs', 'esm', 'express', 'external'])('%s app answers GET through its listener', async (name) => {
    const res = await http(ports[name], '/hello');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain/);
    expect(res.body.toString()).toMatch(name === 'external' ? /^hello from cjs \d+/ : new RegExp(`^hello from ${name} \\d+`));
  });

  it.each(['cjs', 'esm', 'express'])('%s app receives POST bodies of 0 B, 1 MiB and 50 MiB intact', async (name) => {
    for (const size of [0, 1 << 20, 50 << 20]) {
      const body = randomBytes(size);
      const res = await http(ports[name], '/sum', { method: 'POST', body });
      expect(res.status).toBe(200);
      expect(JSON.parse(res.body.toString())).toEqual({ bytes: size, sha256: createHash('sha256').update(body).digest('hex') });
    }
  });

  it('streams a response: the first chunk arrives while the handler still holds the response', async () => {
    const port = ports.esm;
    const { request } = await import('http');
    const first = await new Promise<{ chunk: string; rest: Promise<string> }>((ok, fail) => {
      request({ host: '127.0.0.1', port, path: '/stream' }, (res) => {
        res.setEncoding('utf8');
        res.once('data', (chunk: string) => {
          const rest = new Promise<string>((done) => {
            let text = '';
            res.on('data', (c: string) => (text += c));
            res.on('end', () => done(text));
          });
          ok({ chunk, rest });
        });
      })
        .on('error', fail)
        .end();
    });
    expect(first.chunk).toBe('first;');
    expect((await http(port, '/release')).body.toString()).toBe('released');
    expect(await first.rest).toBe('last');
  });

  it('passes the client address to the app', async () => {
    const info = JSON.parse((await http(ports.cjs, '/info?x=1')).body.toString());
    expect(info.remoteAddress).toBe('127.0.0.1');
    expect(info.url).toBe('/info?x=1');
    expect(info.method).toBe('GET');
  });
});
