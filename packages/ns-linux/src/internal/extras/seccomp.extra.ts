import type { AppConfig, IsolationExtra, PlanContext, SpawnPlanBuilder } from '@warden/core';
import { PHASE } from '@warden/core';
import { encodeProgram } from '../seccomp/bpf';
import { ESSENTIAL } from '../seccomp/default-profile';
import { compileFilter, isKnownSyscall, nativeArch, SeccompAction, SeccompArch, SeccompPolicy } from '../seccomp/filter-compiler';
import { invalid } from './util';

const CODE = 'WARDEN_ERR_ISOLATION_SECCOMP';
const PROFILES = ['default', 'unconfined'] as const;
const ACTIONS: readonly SeccompAction[] = ['errno', 'kill', 'log'];
/** Shape of a system call name; whether it is one is checked against the syscall tables (naming the bad one). */
const NAME = '^[a-z_][a-z0-9_]*$';

const nameList = { type: 'array', items: { type: 'string', pattern: NAME }, uniqueItems: true };

/** The resolved policy of an `isolation.seccomp` value, or undefined for no filter (absent or "unconfined"). */
export function seccompPolicy(value: unknown): SeccompPolicy | undefined {
  if (value === undefined || value === 'unconfined') return undefined;
  if (value === 'default') return { base: 'default', allow: [], deny: [], action: 'errno' };
  const v = value as { base?: 'default' | 'unconfined'; allow?: string[]; deny?: string[]; action?: SeccompAction };
  const policy: SeccompPolicy = { base: v.base ?? 'default', allow: v.allow ?? [], deny: v.deny ?? [], action: v.action ?? 'errno' };
  return policy.base === 'unconfined' && !policy.deny.length ? undefined : policy;
}

/** Compiled programs by policy and architecture: every process of every app with the same policy shares one. */
const programs = new Map<string, string>();

function program(policy: SeccompPolicy, arch: SeccompArch): string {
  const key = `${arch}:${JSON.stringify(policy)}`;
  let text = programs.get(key);
  if (text === undefined) {
    text = encodeProgram(compileFilter(policy, arch));
    programs.set(key, text);
  }
  return text;
}

/**
 * `isolation.seccomp` (extension): a system call filter installed in every app process right before execve, with
 * no_new_privs. `"default"` (the profile in default-profile.ts), `"unconfined"` (no filter: also what an absent key
 * means, so Unit configs run exactly as before), or `{base, allow, deny, action}`.
 */
export class SeccompExtra implements IsolationExtra {
  readonly keys = ['seccomp'] as const;
  readonly schema = {
    seccomp: {
      anyOf: [
        { enum: [...PROFILES] },
        {
          type: 'object',
          properties: { base: { enum: [...PROFILES] }, allow: nameList, deny: nameList, action: { enum: [...ACTIONS] } },
          additionalProperties: false,
        },
      ],
    },
  };

  validate(app: AppConfig, ctx: PlanContext): void {
    const value = app.isolation?.seccomp;
    if (value === undefined) return;
    const fail = (sub: string, msg: string): never => {
      throw invalid(ctx, sub, msg, CODE);
    };
    if (typeof value === 'string') {
      if (!(PROFILES as readonly string[]).includes(value)) fail('seccomp', `Unknown seccomp profile "${value}" (known: "default", "unconfined").`);
    } else if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      fail('seccomp', 'The "seccomp" value must be either a string or an object.');
    } else {
      this.validateObject(value as Record<string, unknown>, fail);
    }
    const policy = seccompPolicy(value);
    if (!policy) return;
    if (app.isolation?.new_privs === true) {
      fail('new_privs', '"seccomp" installs its filter with no_new_privs: remove "new_privs": true or set "seccomp": "unconfined".');
    }
    if (!nativeArch()) fail('seccomp', `seccomp filters are built for x86_64 and aarch64, not for this machine (${process.arch}).`);
  }

  private validateObject(v: Record<string, unknown>, fail: (sub: string, msg: string) => never): void {
    for (const key of Object.keys(v)) if (!['base', 'allow', 'deny', 'action'].includes(key)) fail(`seccomp/${key}`, `Unknown parameter "${key}".`);
    if (v.base !== undefined && !(PROFILES as readonly unknown[]).includes(v.base)) {
      fail('seccomp/base', `Unknown seccomp profile ${JSON.stringify(v.base)} (known: "default", "unconfined").`);
    }
    if (v.action !== undefined && !(ACTIONS as readonly unknown[]).includes(v.action)) {
      fail('seccomp/action', `The "action" value must be "errno", "kill" or "log", but not ${JSON.stringify(v.action)}.`);
    }
    const lists: Record<string, string[]> = {};
    for (const key of ['allow', 'deny'] as const) {
      const list = v[key];
      if (list === undefined) continue;
      if (!Array.isArray(list)) fail(`seccomp/${key}`, `The "${key}" value must be an array of system call names.`);
      (list as unknown[]).forEach((name, i) => {
        if (typeof name !== 'string') fail(`seccomp/${key}/${i}`, `The "${key}" array must contain only string values.`);
        if (!isKnownSyscall(name as string)) {
          fail(`seccomp/${key}/${i}`, `Unknown system call "${name}" in "seccomp.${key}".`);
        }
      });
      lists[key] = list as string[];
    }
    const both = (lists.allow ?? []).find((n) => lists.deny?.includes(n));
    if (both) fail('seccomp/deny', `The system call "${both}" is both in "seccomp.allow" and in "seccomp.deny".`);
    const essential = (lists.deny ?? []).find((n) => ESSENTIAL.includes(n));
    if (essential) fail('seccomp/deny', `The system call "${essential}" cannot be denied: no program can start or end without it.`);
    if (v.base === 'unconfined' && lists.allow?.length) {
      fail('seccomp/allow', 'With the "unconfined" base every system call is allowed: list only "deny".');
    }
  }

  plan(app: AppConfig, plan: SpawnPlanBuilder): void {
    const policy = seccompPolicy(app.isolation?.seccomp);
    if (!policy) return;
    const arch = nativeArch();
    if (!arch) throw new Error(`seccomp filters are built for x86_64 and aarch64, not for ${process.arch}`);
    plan.addChildOp({ op: 'seccomp', phase: PHASE.DROP_PRIVS, filter: program(policy, arch) });
  }
}
