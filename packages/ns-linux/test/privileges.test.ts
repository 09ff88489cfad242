import { existsSync } from 'fs';
import type { AppConfig } from '@warden/core';
import { cleanup, describeRoot, runProbe, setupNative, startPrototype, validationMessage } from './helpers';

const CAP_NET_BIND_SERVICE = 1n << 10n;
const CAP_SYS_ADMIN = 1n << 21n;

describeRoot('new_privs, capabilities, rlimits (requires root)', () => {
  let dir: string;
  let probe: string;
  beforeAll(() => ({ dir, probe } = setupNative()));
  afterAll(() => cleanup(dir));

  const run = async (app: AppConfig, args: string[] = []) => {
    const proto = await startPrototype(app);
    try {
      return (await runProbe(proto, probe, dir, args)).report;
    } finally {
      await proto.close();
    }
  };

  it('sets NoNewPrivs: 1 with new_privs false, and leaves it 0 by default', async () => {
    expect((await run({ type: 'external', isolation: { new_privs: false } })).NoNewPrivs).toBe('1');
    expect((await run({ type: 'external', isolation: {} })).NoNewPrivs).toBe('0');
  });

  it('drops every capability of a non-root app by default', async () => {
    const r = await run({ type: 'external', user: 'nobody', isolation: { namespaces: { pid: true } } });
    expect(BigInt(`0x${r.CapEff}`)).toBe(0n);
  });

  it('keeps only the listed capabilities, for a non-root app (ambient) and for root', async () => {
    const nobody = await run({ type: 'external', user: 'nobody', isolation: { capabilities: ['CAP_NET_BIND_SERVICE'] } });
    expect(BigInt(`0x${nobody.CapEff}`)).toBe(CAP_NET_BIND_SERVICE);
    expect(BigInt(`0x${nobody.CapBnd}`)).toBe(CAP_NET_BIND_SERVICE);
    const root = await run({ type: 'external', user: 'root', isolation: { capabilities: ['net_bind_service', 'sys_admin'] } });
    expect(BigInt(`0x${root.CapEff}`)).toBe(CAP_NET_BIND_SERVICE | CAP_SYS_ADMIN);
    const all = await run({ type: 'external', user: 'root', isolation: {} });
    expect(BigInt(`0x${all.CapEff}`) & CAP_SYS_ADMIN).toBe(CAP_SYS_ADMIN);
  });

  it('sets rlimits before the app runs', async () => {
    // As root: a process limit is counted per user across the machine, so run as `nobody` the exec would fail
    // whenever other processes of `nobody` (another test run's apps) exceed it. Root is exempt from the count.
    const r = await run({ type: 'external', user: 'root', isolation: { rlimits: { nofile: 64, core: 0, nproc: { soft: 50, hard: 100 }, as: 'unlimited' } } });
    const limit = (name: string) => (r.limits.split('\n').find((l) => l.startsWith(name)) ?? '').split(/\s{2,}/).slice(1, 3);
    expect(limit('Max open files')).toEqual(['64', '64']);
    expect(limit('Max core file size')).toEqual(['0', '0']);
    expect(limit('Max processes')).toEqual(['50', '100']);
    expect(limit('Max address space')).toEqual(['unlimited', 'unlimited']);
  });

  it('validates capabilities, rlimits and new_privs', () => {
    const check = validationMessage;
    expect(check({ capabilities: ['cap_fly'] })).toBe('Unknown capability "cap_fly".');
    expect(check({ rlimits: { bogus: 1 } })).toBe('Unknown parameter "bogus".');
    expect(check({ rlimits: { nofile: -1 } })).toContain('non-negative integer');
    expect(check({ rlimits: { nofile: { soft: 10, hard: 5 } } })).toBe('The "nofile" soft limit must not exceed its hard limit.');
    expect(check({ new_privs: 'no' as unknown as boolean })).toBe('The "new_privs" value must be a boolean.');
    expect(check({ capabilities: [], rlimits: { nofile: 10 }, new_privs: false })).toBe('valid');
  });

  it('probe binary exists (sanity)', () => expect(existsSync(probe)).toBe(true));
});
