import type { AppConfig, IsolationExtra, PlanContext, SpawnPlanBuilder } from '@warden/core';
import { PHASE } from '@warden/core';
import { invalid } from './util';

/** Capability names (without `CAP_`, lower case) → numbers, from <linux/capability.h>. */
export const CAPABILITIES: Readonly<Record<string, number>> = Object.fromEntries(
  [
    'chown',
    'dac_override',
    'dac_read_search',
    'fowner',
    'fsetid',
    'kill',
    'setgid',
    'setuid',
    'setpcap',
    'linux_immutable',
    'net_bind_service',
    'net_broadcast',
    'net_admin',
    'net_raw',
    'ipc_lock',
    'ipc_owner',
    'sys_module',
    'sys_rawio',
    'sys_chroot',
    'sys_ptrace',
    'sys_pacct',
    'sys_admin',
    'sys_boot',
    'sys_nice',
    'sys_resource',
    'sys_time',
    'sys_tty_config',
    'mknod',
    'lease',
    'audit_write',
    'audit_control',
    'setfcap',
    'mac_override',
    'mac_admin',
    'syslog',
    'wake_alarm',
    'block_suspend',
    'audit_read',
    'perfmon',
    'bpf',
    'checkpoint_restore',
  ].map((n, i) => [n, i]),
);

/** RLIMIT_* names → numbers (x86-64 / generic Linux). */
export const RLIMITS: Readonly<Record<string, number>> = {
  cpu: 0,
  fsize: 1,
  data: 2,
  stack: 3,
  core: 4,
  rss: 5,
  nproc: 6,
  nofile: 7,
  memlock: 8,
  as: 9,
  locks: 10,
  sigpending: 11,
  msgqueue: 12,
  nice: 13,
  rtprio: 14,
  rttime: 15,
};

function capNumber(name: string): number | undefined {
  return CAPABILITIES[name.toLowerCase().replace(/^cap_/, '')];
}

/** `isolation.new_privs` (Unit): `false` sets PR_SET_NO_NEW_PRIVS in every app process. */
export class NewPrivsExtra implements IsolationExtra {
  readonly keys = ['new_privs'] as const;
  readonly schema = { new_privs: { type: 'boolean' } };

  validate(app: AppConfig, ctx: PlanContext): void {
    const v = app.isolation?.new_privs;
    if (v !== undefined && typeof v !== 'boolean') {
      throw invalid(ctx, 'new_privs', 'The "new_privs" value must be a boolean.', 'WARDEN_ERR_ISOLATION_NEW_PRIVS');
    }
  }

  plan(app: AppConfig, plan: SpawnPlanBuilder): void {
    if (app.isolation?.new_privs === false) plan.addChildOp({ op: 'no_new_privs', phase: PHASE.DROP_PRIVS });
  }
}

/**
 * `isolation.capabilities` (extension): the capabilities to keep, e.g. `["net_bind_service"]` (with or without
 * `CAP_`, any case). All others are dropped from the bounding, permitted, effective and inheritable sets; kept ones
 * are raised as ambient capabilities so that a non-root app has them after exec. Absent: nothing is changed, so a
 * non-root app has none (the kernel clears them at setuid/exec) and a root app keeps the full set (as in Unit).
 */
export class CapabilitiesExtra implements IsolationExtra {
  readonly keys = ['capabilities'] as const;
  readonly schema = { capabilities: { type: 'array', items: { type: 'string' }, uniqueItems: true } };

  validate(app: AppConfig, ctx: PlanContext): void {
    const caps = app.isolation?.capabilities;
    if (caps === undefined) return;
    if (!Array.isArray(caps)) {
      throw invalid(ctx, 'capabilities', 'The "capabilities" value must be an array of capability names.', 'WARDEN_ERR_ISOLATION_CAPABILITIES');
    }
    caps.forEach((c: unknown, i: number) => {
      if (typeof c !== 'string' || capNumber(c) === undefined) {
        throw invalid(ctx, `capabilities/${i}`, `Unknown capability ${JSON.stringify(c)}.`, 'WARDEN_ERR_ISOLATION_CAPABILITIES');
      }
    });
  }

  plan(app: AppConfig, plan: SpawnPlanBuilder): void {
    const caps = app.isolation?.capabilities;
    if (!Array.isArray(caps)) return;
    let mask = 0n;
    for (const c of caps as string[]) mask |= 1n << BigInt(capNumber(c) as number);
    plan.addChildOp({ op: 'caps', phase: PHASE.DROP_PRIVS, keep: mask });
  }
}

type RlimitValue = number | 'unlimited' | { soft: number | 'unlimited'; hard: number | 'unlimited' };

/**
 * `isolation.rlimits` (extension): `{nofile: 1024, nproc: {soft: 50, hard: 100}, core: 0, as: "unlimited", ...}`,
 * set with setrlimit(2) in every app process before it drops privileges.
 */
export class RlimitsExtra implements IsolationExtra {
  readonly keys = ['rlimits'] as const;
  readonly schema = {
    rlimits: {
      type: 'object',
      propertyNames: { enum: Object.keys(RLIMITS) },
      additionalProperties: {
        anyOf: [
          { type: 'integer', minimum: 0 },
          { const: 'unlimited' },
          {
            type: 'object',
            properties: {
              soft: { anyOf: [{ type: 'integer', minimum: 0 }, { const: 'unlimited' }] },
              hard: { anyOf: [{ type: 'integer', minimum: 0 }, { const: 'unlimited' }] },
            },
            required: ['soft', 'hard'],
            additionalProperties: false,
          },
        ],
      },
    },
  };

  validate(app: AppConfig, ctx: PlanContext): void {
    const limits = app.isolation?.rlimits;
    if (limits === undefined) return;
    const fail = (sub: string, msg: string) => {
      throw invalid(ctx, sub, msg, 'WARDEN_ERR_ISOLATION_RLIMITS');
    };
    if (typeof limits !== 'object' || limits === null || Array.isArray(limits)) fail('rlimits', 'The "rlimits" value must be an object.');
    for (const [name, value] of Object.entries(limits as Record<string, unknown>)) {
      if (!(name in RLIMITS)) fail(`rlimits/${name}`, `Unknown parameter "${name}".`);
      const ok = (v: unknown) => v === 'unlimited' || (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0);
      const pair = value as { soft?: unknown; hard?: unknown };
      if (ok(value)) continue;
      if (typeof value === 'object' && value !== null && ok(pair.soft) && ok(pair.hard)) {
        const n = (v: unknown) => (v === 'unlimited' ? Infinity : (v as number));
        if (n(pair.soft) > n(pair.hard)) fail(`rlimits/${name}`, `The "${name}" soft limit must not exceed its hard limit.`);
        continue;
      }
      fail(`rlimits/${name}`, `The "${name}" limit must be a non-negative integer, "unlimited" or {soft, hard}.`);
    }
  }

  plan(app: AppConfig, plan: SpawnPlanBuilder): void {
    const limits = app.isolation?.rlimits as Record<string, RlimitValue> | undefined;
    if (!limits) return;
    const str = (v: number | 'unlimited') => (v === 'unlimited' ? 'inf' : v);
    for (const [name, value] of Object.entries(limits)) {
      const [soft, hard] = typeof value === 'object' ? [value.soft, value.hard] : [value, value];
      plan.addChildOp({ op: 'rlimit', phase: PHASE.DROP_PRIVS, resource: RLIMITS[name], soft: str(soft), hard: str(hard) });
    }
  }
}
