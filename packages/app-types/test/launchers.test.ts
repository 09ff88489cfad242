import 'reflect-metadata';
import { container as rootContainer } from 'tsyringe';
import { ConfigValidationError, TOKENS, type AppConfig, type AppLauncher, type PlanContext } from '@warden/core';
import { ExternalLauncher, NodeLauncher, PRELOAD_PATH, register } from '../src';

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

  it('does not pass wardend\'s own environment to the app', () => {
    process.env.WARDEN_TEST_LEAK = 'leak';
    try {
      expect(launcher.launch({ type: 'external', executable: '/bin/true' }, ctx).env).toEqual({});
    } finally {
      delete process.env.WARDEN_TEST_LEAK;
    }
  });

  it('rejects a missing or empty executable with Unit\'s wording', () => {
    const missing = errorOf(() => launcher.validate({ type: 'external' }, ctx));
    expect(missing.message).toBe('Required parameter "executable" is missing.');
    expect(missing.path).toBe('/applications/hello/executable');
    expect(errorOf(() => launcher.validate({ type: 'external', executable: '' }, ctx)).message).toMatch(/non-empty/);
    expect(errorOf(() => launcher.validate({ type: 'external', executable: 5 }, ctx)).message).toMatch(/must be a string/);
  });

  it('rejects environment names that are empty or contain "=", and non-string values', () => {
    const base = { type: 'external', executable: '/bin/true' };
    expect(errorOf(() => launcher.validate({ ...base, environment: { '': 'x' } }, ctx)).message).toBe(
      'The environment name must not be empty.',
    );
    const eq = errorOf(() => launcher.validate({ ...base, environment: { 'A=B': 'x' } }, ctx));
    expect(eq.message).toBe('The environment name "A=B" must not contain "=".');
    expect(eq.path).toBe('/applications/hello/environment/A=B');
    expect(
      errorOf(() => launcher.validate({ ...base, environment: { A: 1 as unknown as string } }, ctx)).message,
    ).toBe('The "A" environment value must be a string.');
  });

  it('rejects non-string arguments', () => {
    const err = errorOf(() => launcher.validate({ type: 'external', executable: '/bin/true', arguments: ['a', 1] }, ctx));
    expect(err.path).toBe('/applications/hello/arguments/1');
    expect(errorOf(() => launcher.validate({ type: 'external', executable: '/bin/true', arguments: 'a' }, ctx)).message).toMatch(
      /array of strings/,
    );
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
    });
    expect(PRELOAD_PATH).toMatch(/packages\/app-types\/dist\/runtime\/preload\.js$/);
  });

  it('uses the configured node binary', () => {
    const spec = new NodeLauncher().launch({ type: 'node', script: 'a.mjs', node: '/opt/node/bin/node' }, ctx);
    expect(spec.executable).toBe('/opt/node/bin/node');
    expect(spec.argv[0]).toBe('/opt/node/bin/node');
  });

  it('rejects a missing script and a relative node path', () => {
    const launcher = new NodeLauncher();
    expect(errorOf(() => launcher.validate({ type: 'node' }, ctx)).message).toBe('Required parameter "script" is missing.');
    expect(errorOf(() => launcher.validate({ type: 'node', script: 'a.js', node: 'node' }, ctx)).path).toBe(
      '/applications/hello/node',
    );
    expect(errorOf(() => launcher.validate({ type: 'node', script: 'a.js', environment: { 'X=': '' } }, ctx)).message).toMatch(
      /must not contain "="/,
    );
  });
});
