import type { AppConfig, IsolationExtra, PlanContext, SpawnPlanBuilder } from '@warden/core';
import { PHASE } from '@warden/core';
import { IdMapError, resolveIdMaps, validateIdMaps, writeIdMaps } from '@warden/idmap';
import { invalid, namespaceOn } from './util';

const ENTRY_SCHEMA = {
  type: 'object',
  properties: { container: { type: 'integer' }, host: { type: 'integer' }, size: { type: 'integer' } },
  required: ['container', 'host', 'size'],
  additionalProperties: false,
};

/**
 * `isolation.uidmap` / `gidmap` (Unit): validated with Unit's rules by @warden/idmap; when `credential` is on, a
 * parent hook writes the maps (given, or the default one) in the safe order before the prototype is released.
 */
export class IdMapExtra implements IsolationExtra {
  readonly keys = ['uidmap', 'gidmap'] as const;
  readonly schema = {
    uidmap: { type: 'array', items: ENTRY_SCHEMA, maxItems: 340 },
    gidmap: { type: 'array', items: ENTRY_SCHEMA, maxItems: 340 },
  };

  validate(app: AppConfig, ctx: PlanContext): void {
    this.maps(app, ctx);
  }

  plan(app: AppConfig, plan: SpawnPlanBuilder, ctx: PlanContext): void {
    if (!namespaceOn(app, 'credential')) return;
    const maps = resolveIdMaps(this.maps(app, ctx), {
      daemonUid: ctx.daemonUid,
      daemonGid: ctx.daemonGid,
      uid: ctx.credentials.uid,
      gid: ctx.credentials.gid,
    });
    const denySetgroups = ctx.daemonUid !== 0;
    plan.addParentHook({
      name: 'idmap',
      phase: PHASE.IDMAP,
      run: (pid) => writeIdMaps(pid, { ...maps, denySetgroups }),
    });
  }

  private maps(app: AppConfig, ctx: PlanContext) {
    try {
      return validateIdMaps({
        uidmap: app.isolation?.uidmap,
        gidmap: app.isolation?.gidmap,
        credential: namespaceOn(app, 'credential'),
        daemonUid: ctx.daemonUid,
        daemonGid: ctx.daemonGid,
        user: ctx.credentials.user,
        uid: ctx.credentials.uid,
        gid: ctx.credentials.gid,
        groups: ctx.credentials.groups,
      });
    } catch (err) {
      if (err instanceof IdMapError) throw invalid(ctx, err.path ?? '', err.message, err.code);
      throw err;
    }
  }
}
