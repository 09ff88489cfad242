import 'reflect-metadata';
import { mkdtempSync, readFileSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import pino from 'pino';
import type { WardenConfig } from '../src/contracts';
import { appEnvironment, inheritableEnvironment, NOT_INHERITED } from '../src/runtime/app-environment';
import { RouterFleet } from '../src/runtime/fleet/router-fleet';
import { channelAppSupervisor } from './harness';

describe("an app's environment", () => {
  it("is wardend's environment with the configured environment over it", () => {
    expect(appEnvironment({ PATH: '/bin', SHARED: 'wardend' }, { SHARED: 'config', APP: '1' })).toEqual({
      PATH: '/bin',
      SHARED: 'config',
      APP: '1',
    });
  });

  it("leaves out only wardend's own plumbing (WARDEN_READY_FD) and unset variables", () => {
    expect(NOT_INHERITED).toEqual(['WARDEN_READY_FD']);
    expect(inheritableEnvironment({ WARDEN_READY_FD: '3', NODE_OPTIONS: '--no-warnings', WARDEN_LOG_LEVEL: 'debug', GONE: undefined })).toEqual({
      NODE_OPTIONS: '--no-warnings',
      WARDEN_LOG_LEVEL: 'debug',
    });
  });

  it('is taken when wardend starts: later changes to its environment do not reach apps', () => {
    process.env.WARDEN_TEST_AT_START = 'start';
    process.env.WARDEN_READY_FD = '3';
    try {
      jest.isolateModules(() => {
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        const { startupEnvironment } = require('../src/runtime/app-environment') as typeof import('../src/runtime/app-environment');
        process.env.WARDEN_TEST_AT_START = 'changed';
        process.env.WARDEN_TEST_LATER = 'later';
        const env = startupEnvironment();
        expect(env.WARDEN_TEST_AT_START).toBe('start');
        expect(env).not.toHaveProperty('WARDEN_TEST_LATER');
        expect(env).not.toHaveProperty('WARDEN_READY_FD');
        env.MUTATED = 'x'; // a copy: a caller's change does not reach the next app
        expect(startupEnvironment()).not.toHaveProperty('MUTATED');
      });
    } finally {
      delete process.env.WARDEN_TEST_AT_START;
      delete process.env.WARDEN_TEST_LATER;
      delete process.env.WARDEN_READY_FD;
    }
  });
});

describe('an app process started by the supervisor', () => {
  let fleet: RouterFleet;
  let dir: string;
  beforeAll(() => {
    fleet = new RouterFleet(1, { uid: process.getuid!(), gid: process.getgid!(), groups: [] }, pino({ level: 'silent' }));
    dir = mkdtempSync(join(tmpdir(), 'warden-app-env-'));
  });
  afterAll(async () => {
    await fleet.shutdown();
    rmSync(dir, { recursive: true, force: true });
  });

  it("gets wardend's environment, its configured environment over it, and the channel's variables over both", async () => {
    const events = join(dir, 'events');
    // The launcher's env is the config's `environment` (as app-types' launchers make it).
    const s = channelAppSupervisor(
      fleet,
      dir,
      { CHANNEL_APP_EVENTS: events, SHARED: 'config', WARDEN_CONTROL: 'unix:/configured.sock' },
      { inheritedEnv: { FROM_WARDEND: 'inherited', SHARED: 'wardend', PATH: process.env.PATH ?? '/usr/bin:/bin' } },
    );
    try {
      const change = await s.prepare({ applications: { env: { type: 'external' } } } as WardenConfig);
      await change.commit();
      const env = JSON.parse(readFileSync(events, 'utf8').split('\n')[0]!) as Record<string, string>;
      expect(env.FROM_WARDEND).toBe('inherited');
      expect(env.SHARED).toBe('config');
      expect(env.WARDEN_CHANNEL).toBe('v1:fds=3,4');
      expect(env.WARDEN_CONTROL).toBe('v1:fd=5');
    } finally {
      await s.shutdown();
    }
  }, 30000);
});
