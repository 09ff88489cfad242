import 'reflect-metadata';
import { container as rootContainer } from 'tsyringe';
import { ConfigValidationError, TOKENS, type AppConfig, type AppLauncher, type PlanContext } from '@warden/core';
import { existsSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { ExternalLauncher, NodeLauncher, PRELOAD_PATH, register } from '../src';
import { elfInterpreter, mappedLibraryDirs, wardenRoot } from '../src/internal/node-deps';

const ctx: PlanContext = {
  appName: 'hello',
  daemonUid: 0,
  daemonGid: 0,
  defaultUser: 'nobody',
  defaultGroup: 'nogroup',
  tmpdir: '/tmp',
  credentials: { user: 'nobody', uid: 65534, group: 'nogroup', gid: 65534, groups: [65534], home: '/nonexistent' },
};

function errorOf(fn: () => unknown): ConfigValidationError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigValidationError) return err;
    throw err;
  }
  throw new Error('expected a ConfigValidationError');
}

describe('register', () => {
  it('registers the external/go and node launchers under TOKENS.AppLauncher', () => {
    const c = rootContainer.createChildContainer();
    register(c);
    const launchers = c.resolveAll<AppLauncher>(TOKENS.AppLauncher);
    expect(launchers.map((l) => [...l.types])).toEqual([['external', 'go'], ['node']]);
  });
});

describe('ExternalLauncher', () => {
  const launcher = new ExternalLauncher();

  it('runs the executable directly with argv[0] = executable, the configured env only, cwd and log files', () => {
    const app: AppConfig = {
      type: 'external',
      executable: '/srv/app/hello',
      arguments: ['--flag', 'x y'],
      environment: { GREETING: 'hi' },
      working_directory: '/srv/app',
      stdout: '/var/log/out',
      stderr: '/var/log/err',
    };
    expect(launcher.launch(app, ctx)).toEqual({
      executable: '/srv/app/hello',
      argv: ['/srv/app/hello', '--flag', 'x y'],
      env: { GREETING: 'hi' },
      cwd: '/srv/app',
      stdout: '/var/log/out',
      stderr: '/var/log/err',
    });
  });

  it('never looks a bare executable name up in PATH: it is relative to working_directory', () => {
    const spec = launcher.launch({ type: 'go', executable: 'app', working_directory: '/srv' }, ctx);
    expect(spec.executable).toBe('./app');
    expect(spec.argv[0]).toBe('app');
    expect(spec.cwd).toBe('/srv');
    expect(launcher.launch({ type: 'go', executable: 'bin/app' }, ctx).executable).toBe('bin/app');
  });

  it("puts only the configured environment in the launch spec (wardend's own goes under it when the process is spawned)", () => {
    process.env.WARDEN_TEST_LEAK = 'leak';
    try {
      expect(launcher.launch({ type: 'external', executable: '/bin/true' }, ctx).env).toEqual({});
    } finally {
      delete process.env.WARDEN_TEST_LEAK;
    }
  });

  it("rejects a missing or empty executable with Unit's wording", () => {
    const missing = errorOf(() => launcher.validate({ type: 'external' }, ctx));
    expect(missing.message).toBe('Required parameter "executable" is missing.');
    expect(missing.path).toBe('/applications/hello/executable');
    expect(errorOf(() => launcher.validate({ type: 'external', executable: '' }, ctx)).message).toMatch(/non-empty/);
    expect(errorOf(() => launcher.validate({ type: 'external', executable: 5 }, ctx)).message).toMatch(/must be a string/);
  });

  it('rejects environment names that are empty or contain "=", and non-string values', () => {
    const base = { type: 'external', executable: '/bin/true' };
    expect(errorOf(() => launcher.validate({ ...base, environment: { '': 'x' } }, ctx)).message).toBe('The environment name must not be empty.');
    const eq = errorOf(() => launcher.validate({ ...base, environment: { 'A=B': 'x' } }, ctx));
    expect(eq.message).toBe('The environment name "A=B" must not contain "=".');
    expect(eq.path).toBe('/applications/hello/environment/A=B');
    expect(errorOf(() => launcher.validate({ ...base, environment: { A: 1 as unknown as string } }, ctx)).message).toBe(
      'The "A" environment value must be a string.',
    );
  });

  it('rejects non-string arguments', () => {
    const err = errorOf(() => launcher.validate({ type: 'external', executable: '/bin/true', arguments: ['a', 1] }, ctx));
    expect(err.path).toBe('/applications/hello/arguments/1');
    expect(errorOf(() => launcher.validate({ type: 'external', executable: '/bin/true', arguments: 'a' }, ctx)).message).toMatch(/array of strings/);
  });

  it('declares executable as required in its schema fragment', () => {
    expect(launcher.schema.required).toEqual(['executable']);
    expect(Object.keys(launcher.schema.properties).sort()).toEqual(['arguments', 'executable']);
  });
});

describe('NodeLauncher', () => {
  it('runs node with the preload, then the script and its arguments', () => {
    const spec = new NodeLauncher().launch(
      { type: 'node', script: 'app.js', arguments: ['--port', '1'], environment: { NODE_ENV: 'production' }, working_directory: '/srv' },
      ctx,
    );
    expect(spec).toEqual({
      executable: process.execPath,
      argv: [process.execPath, '--require', PRELOAD_PATH, 'app.js', '--port', '1'],
      env: { NODE_ENV: 'production' },
      cwd: '/srv',
      stdout: undefined,
      stderr: undefined,
      languageDeps: expect.any(Array),
    });
    expect(PRELOAD_PATH).toMatch(/packages\/app-types\/dist\/runtime\/preload\.js$/);
  });

  it('lists what node needs inside a rootfs: the binary, its ELF interpreter, library dirs, the Warden root', () => {
    const deps = new NodeLauncher().launch({ type: 'node', script: 'app.js' }, ctx).languageDeps!;
    expect(deps).toContain(process.execPath);
    expect(deps).toContain(elfInterpreter(realpathSync(process.execPath)));
    expect(deps.some((d) => existsSync(join(d, 'node_modules', '@warden')))).toBe(true);
    // Every library node has loaded lies under one of the listed paths.
    for (const lib of readFileSync('/proc/self/maps', 'utf8')
      .split('\n')
      .map((l) => l.slice(l.indexOf('/')))
      .filter((f) => /\.so(\.\d+)*$/.test(f))) {
      expect(deps.some((d) => lib === d || lib.startsWith(`${d}/`))).toBe(true);
    }
    // No path inside another listed one.
    for (const a of deps) for (const b of deps) if (a !== b) expect(a.startsWith(`${b}/`)).toBe(false);
  });

  it('reads the ELF interpreter, and gives none for a file that is not a dynamic ELF executable', () => {
    expect(elfInterpreter('/usr/bin/node')).toMatch(/^\/lib.*ld-linux.*\.so\.\d$/);
    expect(elfInterpreter(__filename)).toBeUndefined();
    expect(elfInterpreter('/nonexistent')).toBeUndefined();
  });

  it('finds the library directories in a maps file and the Warden root above a file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'maps-'));
    const maps = join(dir, 'maps');
    writeFileSync(
      maps,
      [
        '55d0-55d1 r--p 00000000 fd:01 1 /usr/bin/node',
        '7f00-7f01 r-xp 00000000 fd:01 2 /usr/lib/x86_64-linux-gnu/libc.so.6',
        '7f02-7f03 r-xp 00000000 fd:01 3 /opt/x/libfoo.so',
        '7f04-7f05 rw-p 00000000 00:00 0 [heap]',
        '7f06-7f07 r-xp 00000000 fd:01 4 /work/build/Release/addon.node',
      ].join('\n'),
    );
    expect(mappedLibraryDirs(maps)).toEqual(['/opt/x', '/usr/lib/x86_64-linux-gnu']);
    rmSync(dir, { recursive: true, force: true });
    expect(wardenRoot(PRELOAD_PATH)).toBe(join(__dirname, '..', '..', '..'));
  });

  it('uses the configured node binary', () => {
    const spec = new NodeLauncher().launch({ type: 'node', script: 'a.mjs', node: '/opt/node/bin/node' }, ctx);
    expect(spec.executable).toBe('/opt/node/bin/node');
    expect(spec.argv[0]).toBe('/opt/node/bin/node');
  });

  it('rejects a missing script and a relative node path', () => {
    const launcher = new NodeLauncher();
    expect(errorOf(() => launcher.validate({ type: 'node' }, ctx)).message).toBe('Required parameter "script" is missing.');
    expect(errorOf(() => launcher.validate({ type: 'node', script: 'a.js', node: 'node' }, ctx)).path).toBe('/applications/hello/node');
    expect(errorOf(() => launcher.validate({ type: 'node', script: 'a.js', environment: { 'X=': '' } }, ctx)).message).toMatch(/must not contain "="/);
  });
});
