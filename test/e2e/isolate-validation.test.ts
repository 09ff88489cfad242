import { spawnSync } from 'child_process';
import { join } from 'path';
import { ROOT, cleanup, startWardend, worldDir, type Wardend } from './support/wardend';

// Issue 13.5: `warden-isolate --isolation '{"namespaces":{"pid":"yes"}}' -- sh -c 'echo $$'` printed a host pid and
// exited 0. It validates with wardend's own validator now: every isolation object wardend refuses, warden-isolate
// refuses with the same code and sentence, at the same path (relative to --isolation), and runs nothing.
const ISOLATE = join(ROOT, 'packages/ns-linux/bin/warden-isolate.js');
const APP_PATH = '/applications/app/isolation';

const invalid: [string, unknown][] = [
  ['a string namespace value', { namespaces: { pid: 'yes' } }],
  ['an integer namespace value', { namespaces: { pid: 1 } }],
  ['"false" as a string', { namespaces: { network: 'false' } }],
  ['an unknown namespace', { namespaces: { bogus: true } }],
  ['an unknown isolation key', { bogus: 1 }],
  ['a map entry without size', { namespaces: { credential: true }, uidmap: [{ container: 0, host: 0 }] }],
  ['a relative rootfs', { rootfs: 'relative/dir' }],
  ['a non-boolean automount key', { automount: { procfs: 'no' } }],
  ['a hostname without uname', { hostname: 'box' }],
];

describe('warden-isolate and wardend refuse the same isolation objects with the same messages', () => {
  let dir: string;
  let w: Wardend;
  beforeAll(async () => {
    dir = worldDir('warden-isolate-validation-');
    w = await startWardend([], dir);
  });
  afterAll(async () => {
    await w?.stop();
    cleanup(dir);
  });

  it.each(invalid)('%s', async (_what, isolation) => {
    const res = await w.control('PUT', '/config', { applications: { app: { type: 'external', executable: '/bin/true', isolation } } });
    expect(res.status).toBe(400);
    const m = /^(WARDEN_ERR_\w+) at (\S+): (.*)$/.exec(res.body.detail);
    expect(m).not.toBeNull();
    const [, code, path, message] = m!;
    expect(path.startsWith(APP_PATH)).toBe(true);

    const r = spawnSync(process.execPath, [ISOLATE, '--isolation', JSON.stringify(isolation), '--', 'sh', '-c', 'echo ran $$'], {
      encoding: 'utf8',
      timeout: 20000,
    });
    expect([r.status, r.stdout]).toEqual([125, '']);
    expect(r.stderr).toBe(`warden-isolate: ${message} [${code} at --isolation ${path.slice(APP_PATH.length) || '/'}]\n`);
  });
});
