import type { AppConfig, IsolationExtra, PlanContext, SpawnPlanBuilder } from '@warden/core';
import { readCgroupLayout } from '../cgroup/cgroup-layout';
import { CgroupLimits, CgroupPlacement } from '../cgroup/cgroup-placement';
import { invalid } from './util';

const SIZE = /^(\d+)([kKmMgG]?)$/;

/** Parses `memory_max`: bytes as a number, or a string with a K/M/G suffix, or "max". */
export function parseBytes(v: unknown): number | 'max' | undefined {
  if (v === 'max') return 'max';
  if (typeof v === 'number' && Number.isSafeInteger(v) && v > 0) return v;
  if (typeof v !== 'string') return undefined;
  const m = SIZE.exec(v);
  if (!m) return undefined;
  const mult = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[m[2].toLowerCase() as '' | 'k' | 'm' | 'g'];
  const n = Number(m[1]) * mult;
  return n > 0 ? n : undefined;
}

/**
 * `isolation.cgroup {path}` (Unit) plus limits `memory_max`, `pids_max`, `cpu_max` (extension). Relative paths are
 * under wardend's own cgroup; `..` and empty paths are refused with Unit's message. The cgroup is created and the
 * prototype placed in it before any app code runs; directories created for it are removed when the app goes away.
 */
export class CgroupExtra implements IsolationExtra {
  readonly keys = ['cgroup'] as const;
  readonly schema = {
    cgroup: {
      type: 'object',
      properties: {
        path: { type: 'string' },
        memory_max: { anyOf: [{ type: 'integer', minimum: 1 }, { type: 'string' }] },
        pids_max: { anyOf: [{ type: 'integer', minimum: 1 }, { const: 'max' }] },
        cpu_max: { type: 'string' },
      },
      required: ['path'],
      additionalProperties: false,
    },
  };

  validate(app: AppConfig, ctx: PlanContext): void {
    this.parse(app, ctx);
  }

  plan(app: AppConfig, plan: SpawnPlanBuilder, ctx: PlanContext): void {
    const parsed = this.parse(app, ctx);
    if (!parsed) return;
    plan.addParentHook(new CgroupPlacement(parsed.path, parsed.limits, readCgroupLayout()));
  }

  private parse(app: AppConfig, ctx: PlanContext): { path: string; limits: CgroupLimits } | undefined {
    const cg = app.isolation?.cgroup as Record<string, unknown> | undefined;
    if (cg === undefined) return undefined;
    if (typeof cg !== 'object' || cg === null || Array.isArray(cg)) {
      throw invalid(ctx, 'cgroup', 'The "cgroup" value must be an object.', 'WARDEN_ERR_ISOLATION_CGROUP');
    }
    const p = cg.path;
    if (typeof p !== 'string' || p === '' || p === '/' || p.split('/').some((s) => s === '..' || s === '.') || p.includes('\0')) {
      throw invalid(ctx, 'cgroup/path', `The cgroup path "${String(p ?? '')}" is invalid.`, 'WARDEN_ERR_ISOLATION_CGROUP');
    }
    const limits: CgroupLimits = {};
    for (const key of Object.keys(cg)) {
      if (!['path', 'memory_max', 'pids_max', 'cpu_max'].includes(key)) {
        throw invalid(ctx, `cgroup/${key}`, `Unknown parameter "${key}".`, 'WARDEN_ERR_ISOLATION_CGROUP');
      }
    }
    if (cg.memory_max !== undefined) {
      const b = parseBytes(cg.memory_max);
      if (b === undefined) {
        throw invalid(ctx, 'cgroup/memory_max', 'The "memory_max" value must be bytes (e.g. 67108864 or "64M") or "max".', 'WARDEN_ERR_ISOLATION_CGROUP');
      }
      limits.memory_max = b;
    }
    if (cg.pids_max !== undefined) {
      if (cg.pids_max !== 'max' && !(Number.isSafeInteger(cg.pids_max) && (cg.pids_max as number) > 0)) {
        throw invalid(ctx, 'cgroup/pids_max', 'The "pids_max" value must be a positive integer or "max".', 'WARDEN_ERR_ISOLATION_CGROUP');
      }
      limits.pids_max = cg.pids_max as number | 'max';
    }
    if (cg.cpu_max !== undefined) {
      if (typeof cg.cpu_max !== 'string' || !/^(max|\d+)( \d+)?$/.test(cg.cpu_max)) {
        throw invalid(
          ctx,
          'cgroup/cpu_max',
          'The "cpu_max" value must be "QUOTA PERIOD" or "max PERIOD" in microseconds, e.g. "50000 100000".',
          'WARDEN_ERR_ISOLATION_CGROUP',
        );
      }
      limits.cpu_max = cg.cpu_max;
    }
    return { path: p.replace(/\/+$/, ''), limits };
  }
}
