import type { AppConfig, IsolationExtra, PlanContext, SpawnPlanBuilder } from '@warden/core';
import { PHASE } from '@warden/core';
import { invalid, namespaceOn } from './util';

const HOSTNAME = /^[A-Za-z0-9]([A-Za-z0-9.-]{0,62})$/;

/** `isolation.hostname` (extension): the hostname inside the app's UTS namespace; requires `uname: true`. */
export class HostnameExtra implements IsolationExtra {
  readonly keys = ['hostname'] as const;
  readonly schema = { hostname: { type: 'string', minLength: 1, maxLength: 64 } };

  validate(app: AppConfig, ctx: PlanContext): void {
    const name = app.isolation?.hostname;
    if (name === undefined) return;
    if (typeof name !== 'string' || !HOSTNAME.test(name)) {
      throw invalid(ctx, 'hostname', `The "hostname" value must be a host name of 1 to 64 letters, digits, "." and "-".`, 'WARDEN_ERR_ISOLATION_HOSTNAME');
    }
    if (!namespaceOn(app, 'uname')) {
      throw invalid(ctx, 'hostname', `"hostname" is set but "isolation.namespaces.uname" is false or unset.`, 'WARDEN_ERR_ISOLATION_HOSTNAME');
    }
  }

  plan(app: AppConfig, plan: SpawnPlanBuilder): void {
    const name = app.isolation?.hostname;
    if (typeof name === 'string' && namespaceOn(app, 'uname')) {
      plan.addChildOp({ op: 'sethostname', phase: PHASE.HOST, hostname: name });
    }
  }
}
