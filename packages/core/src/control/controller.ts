import { readFileSync } from 'fs';
import type { Logger } from 'pino';
import type { DependencyContainer } from 'tsyringe';
import type { AppControl, ConfigComponent, PreparedChange, WardenConfig } from '../contracts';
import { ConfigValidationError, TOKENS, WardenError } from '../contracts';
import type { ConfigValidator } from '../config/config-validator';
import { applyDetail, applyFailure, ControlError, errorBody, notFound } from './control-error';
import type { ConfigStore, SavedState } from './config-store';
import { CERTIFICATE_STORE, certificateRefs } from './certificate-store';
import type { CertificateStore } from './certificate-store';
import { SCRIPT_STORE } from './script-store';
import type { ScriptStore } from './script-store';
import { sharedIdentityWarning } from '../isolation/shared-identity';
import { parseJson } from './json-parser';
import { SerialQueue } from './serial-queue';
import { jsModuleRefs } from '@warden/http-router';

/**
 * Owns the running config and changes it transactionally, one change at a time:
 * validate the whole new config → `prepare` every ConfigComponent (by `order`; independent ones at the same time)
 * → persist → `commit` all. If validation or any prepare fails, the prepared components are rolled back in reverse
 * order and the running config (in memory and on disk) stays as it was.
 *
 * Persist comes after prepare and before commit (the new config is written and fsynced to temp files while the
 * components prepare; it is renamed into place once they all did): a crash before the rename restarts with the old
 * config, a crash after it with the new one, which was fully validated and prepared; a failed write rolls back like
 * a failed prepare. A commit is the point of no return (components must not fail there); if one does anyway, the new config
 * is in force and the client gets 500 with the detail.
 */
export class Controller {
  private current: WardenConfig = {};
  private readonly queue = new SerialQueue();
  private readonly components: ConfigComponent[];
  private appControl?: AppControl;
  /** The uploaded certificates (`/certificates`), when the container has a store. */
  readonly certificates: CertificateStore | undefined;
  /** The uploaded JavaScript modules (`/js_modules`), when the container has a store. */
  readonly scripts: ScriptStore | undefined;

  constructor(
    private readonly container: DependencyContainer,
    private readonly validator: ConfigValidator,
    private readonly store: ConfigStore | undefined,
    private readonly log: Logger,
  ) {
    const all = container.isRegistered(TOKENS.ConfigComponent, true) ? container.resolveAll<ConfigComponent>(TOKENS.ConfigComponent) : [];
    this.components = [...all].sort((a, b) => a.order - b.order);
    this.certificates = container.isRegistered(CERTIFICATE_STORE, true) ? container.resolve<CertificateStore>(CERTIFICATE_STORE) : undefined;
    this.scripts = container.isRegistered(SCRIPT_STORE, true) ? container.resolve<ScriptStore>(SCRIPT_STORE) : undefined;
  }

  /** The running config (do not mutate; every change makes a new tree). */
  get config(): WardenConfig {
    return this.current;
  }

  /**
   * Runs `edit` on the running config under the change lock and applies its result. Throws ControlError with
   * Unit's answer when the edit, validation or apply fails.
   */
  change(edit: (current: WardenConfig) => unknown): Promise<void> {
    return this.queue.run(async () => {
      const next = edit(this.current);
      await this.applyNow(next, true);
    });
  }

  /** Runs `task` under the change lock (certificate uploads and deletions are serialised with config changes). */
  exclusive<T>(task: () => Promise<T> | T): Promise<T> {
    return this.queue.run(async () => task());
  }

  /** Replaces the whole config (same as PUT /config). */
  apply(next: unknown): Promise<void> {
    return this.change(() => next);
  }

  private async applyNow(next: unknown, persist: boolean): Promise<void> {
    let valid: WardenConfig;
    try {
      valid = this.validator.validate(next);
      this.checkCertificates(valid);
      this.checkScripts(valid);
    } catch (e) {
      throw applyFailure(e);
    }
    const prepared: { component: ConfigComponent; change: PreparedChange }[] = [];
    // The new config is written and fsynced while the components prepare (starting apps takes longest), and put in
    // place once they all did.
    const staging = persist ? this.store?.stage(valid) : undefined;
    staging?.catch(() => undefined); // awaited below; not unhandled while a prepare runs
    try {
      await this.prepareAll(valid, prepared);
      (await staging)?.publish();
    } catch (e) {
      await staging?.then(
        (staged) => staged.discard(),
        () => undefined,
      );
      this.log.warn({ err: e }, 'configuration change failed; rolling back');
      for (const { component, change } of prepared.reverse()) {
        try {
          await change.rollback();
        } catch (re) {
          this.log.error({ err: re, component: component.name }, 'rollback failed');
        }
      }
      throw applyFailure(e);
    }
    const previous = this.current;
    this.current = valid;
    const failures: string[] = [];
    for (const { component, change } of prepared) {
      try {
        await change.commit();
      } catch (e) {
        this.log.error({ err: e, component: component.name }, 'commit failed; the new configuration is in force');
        failures.push(`${component.name}: ${applyDetail(e)}`);
      }
    }
    this.log.info(
      {
        applications: Object.keys(valid.applications ?? {}).length,
        listeners: Object.keys(valid.listeners ?? {}).length,
        previousApplications: Object.keys(previous.applications ?? {}).length,
      },
      'configuration applied',
    );
    for (const shared of this.validator.sharedIdentities(valid)) {
      this.log.warn({ uid: shared.uid, applications: shared.apps, daemon: shared.daemon }, sharedIdentityWarning(shared));
    }
    if (failures.length > 0) {
      throw new ControlError({ status: 500, body: errorBody('Failed to apply new configuration.', failures.join('; ')) });
    }
  }

  /**
   * Prepares every component, pushing each that prepared onto `prepared` (in `order`). Runs of consecutive components
   * that declare `independentPrepare` prepare at the same time; the others one at a time. Throws the first failure
   * in `order` once the components started alongside it have settled (so that they can be rolled back).
   */
  private async prepareAll(valid: WardenConfig, prepared: { component: ConfigComponent; change: PreparedChange }[]): Promise<void> {
    const list = this.components;
    for (let i = 0; i < list.length;) {
      let end = i + 1;
      if (list[i]!.independentPrepare === true) while (end < list.length && list[end]!.independentPrepare === true) end++;
      const group = list.slice(i, end);
      // async: a prepare that throws before returning its promise is a rejection like any other (the others of its
      // group still settle and are rolled back).
      const results = await Promise.allSettled(group.map(async (component) => component.prepare(valid, this.current)));
      let failure: PromiseRejectedResult | undefined;
      results.forEach((r, k) => {
        if (r.status === 'fulfilled') prepared.push({ component: group[k]!, change: r.value });
        else failure ??= r;
      });
      if (failure) throw failure.reason;
      i = end;
    }
  }

  /** Every certificate a listener names must be in the store (Unit: `Certificate "x" is not found.`). */
  private checkCertificates(config: WardenConfig): void {
    for (const ref of certificateRefs(config)) {
      if (this.certificates?.get(ref.name) === undefined) {
        throw new ConfigValidationError(`Certificate "${ref.name}" is not found.`, ref.path, 'WARDEN_ERR_CONFIG_CERTIFICATE');
      }
    }
  }

  /** Every module `settings.js_module` names must be in the store (Unit: `JS module "x" is not found.`). */
  private checkScripts(config: WardenConfig): void {
    for (const ref of jsModuleRefs(config.settings)) {
      if (this.scripts?.get(ref.name) === undefined) {
        throw new ConfigValidationError(`JS module "${ref.name}" is not found.`, ref.path, 'WARDEN_ERR_CONFIG_JS_MODULE');
      }
    }
  }

  /**
   * Start-up: applies the config saved in the state dir; when there is none, the `initialFile` (`--config`), which
   * is then saved. A `conf.json` that is not JSON is moved aside (`conf.json.corrupt-<time>`, logged with its path)
   * and the last good copy is applied and saved in its place; without a usable copy the daemon starts with an empty
   * config. A saved config that parses but no longer applies (e.g. a plugin is gone) is logged, copied aside
   * (`conf.json.rejected-<time>`) and left in place for the next start; the daemon starts empty. A bad
   * `initialFile` throws.
   */
  async restore(initialFile?: string): Promise<void> {
    this.store?.init();
    this.certificates?.init();
    this.scripts?.init();
    let saved: SavedState = { kind: 'none' };
    try {
      if (this.store) saved = this.store.loadAtStart();
    } catch (e) {
      this.log.error({ err: e }, 'the saved configuration cannot be read; starting with an empty configuration');
      return;
    }
    if (saved.kind === 'corrupt') {
      const { file, corrupt, reason, lastGood } = saved;
      const fields = { file, movedTo: corrupt, reason, lastGood: lastGood?.file };
      if (!lastGood) {
        this.log.error(
          fields,
          `the saved configuration ${file} is corrupt (${reason}); moved it to ${corrupt}; no last good copy, starting with an empty configuration`,
        );
        return;
      }
      this.log.error(fields, `the saved configuration ${file} is corrupt (${reason}); moved it to ${corrupt}; restoring the last good copy ${lastGood.file}`);
      try {
        await this.queue.run(() => this.applyNow(lastGood.config, true));
        this.log.info({ file: lastGood.file }, 'last good configuration restored');
      } catch (e) {
        this.log.error({ reason: rejection(e), file: lastGood.file }, 'the last good configuration was not accepted; starting with an empty configuration');
      }
      return;
    }
    if (saved.kind === 'saved') {
      const restored = saved.config;
      try {
        await this.queue.run(() => this.applyNow(restored, false));
        this.store?.ensureLastGood();
        this.log.info({ file: saved.file }, 'saved configuration restored');
      } catch (e) {
        const keptAs = this.store?.keepRejected();
        this.log.error(
          { reason: rejection(e), file: saved.file, keptAs },
          `the saved configuration ${saved.file} was not accepted; starting with an empty configuration${keptAs ? ` (a copy is kept as ${keptAs})` : ''}`,
        );
      }
      return;
    }
    if (initialFile === undefined) return;
    let config: unknown;
    try {
      config = parseJson(readFileSync(initialFile));
    } catch (e) {
      throw new WardenError('WARDEN_ERR_CONFIG_FILE', `Cannot load --config ${initialFile}: ${(e as Error).message}.`);
    }
    try {
      await this.apply(config);
    } catch (e) {
      const body = (e instanceof ControlError ? e.response.body : { error: (e as Error).message }) as { error: string; detail?: string };
      throw new WardenError('WARDEN_ERR_CONFIG_FILE', `The --config file ${initialFile} was rejected: ${body.error}${body.detail ? ` ${body.detail}` : ''}`);
    }
    this.log.info({ file: initialFile }, 'initial configuration applied');
  }

  /** Brings the components' counters up to date (the routers are asked for theirs) before status() is read. */
  async refreshStatus(): Promise<void> {
    await Promise.allSettled(this.components.flatMap((c) => (c.refresh ? [c.refresh()] : [])));
  }

  /** Unit's `/status` object: zeros for every configured application, with each component's `status()` merged in. */
  status(): Record<string, unknown> {
    const applications: Record<string, unknown> = Object.create(null) as Record<string, unknown>; // any name, `__proto__` too
    for (const name of Object.keys(this.current.applications ?? {})) {
      applications[name] = { processes: { running: 0, starting: 0, idle: 0 }, requests: { active: 0 } };
    }
    let result: Record<string, unknown> = {
      connections: { accepted: 0, active: 0, idle: 0, closed: 0 },
      requests: { total: 0 },
      applications,
    };
    for (const c of this.components) {
      if (!c.status) continue;
      try {
        result = deepMerge(result, c.status()) as Record<string, unknown>;
      } catch (e) {
        this.log.warn({ err: e, component: c.name }, 'component status failed');
      }
    }
    return result;
  }

  /**
   * Reopens the files the components write (SIGUSR1). One component failing is logged and does not keep the others
   * from reopening theirs.
   */
  async reopenLogs(): Promise<void> {
    for (const c of this.components) {
      if (!c.reopenLogs) continue;
      try {
        await c.reopenLogs();
      } catch (e) {
        this.log.error({ err: e, component: c.name }, 'reopening log files failed');
      }
    }
  }

  /** `GET /control/applications/<name>/restart`, serialised with config changes. */
  restart(app: string): Promise<void> {
    return this.queue.run(async () => {
      if (!Object.prototype.hasOwnProperty.call(this.current.applications ?? {}, app)) throw notFound();
      if (!this.container.isRegistered(TOKENS.AppControl, true)) {
        throw new ControlError({
          status: 500,
          body: errorBody('Failed to restart app.', 'WARDEN_ERR_RESTART_UNAVAILABLE: this wardend runs without an application supervisor.'),
        });
      }
      try {
        this.appControl ??= this.container.resolve<AppControl>(TOKENS.AppControl);
        await this.appControl.restart(app);
        this.log.info({ app }, 'application restarted');
      } catch (e) {
        this.log.error({ err: e, app }, 'application restart failed');
        throw new ControlError({ status: 500, body: errorBody('Failed to restart app.', applyDetail(e)) });
      }
    });
  }

  /**
   * Asks the components to abort a change in progress (an apply still starting processes fails and rolls back at
   * once). Called first when wardend stops, so that the control request waiting on that change is answered before the
   * control server closes.
   */
  abortChanges(): void {
    for (const c of this.components) c.abort?.();
  }

  /** Stops every component (reverse order), after any change in progress (which components are asked to abort). */
  shutdown(): Promise<void> {
    this.abortChanges();
    return this.queue.run(async () => {
      for (const c of [...this.components].reverse()) {
        try {
          await c.shutdown();
        } catch (e) {
          this.log.error({ err: e, component: c.name }, 'component shutdown failed');
        }
      }
    });
  }
}

/** The control-API body of a failed apply, for the log. */
function rejection(e: unknown): unknown {
  return e instanceof ControlError ? e.response.body : { error: (e as Error).message };
}

function deepMerge(base: unknown, extra: unknown): unknown {
  if (!isPlainObject(base) || !isPlainObject(extra)) return extra === undefined ? base : extra;
  // Null-prototype: a key `__proto__` (an application's name) is a key, not the object's prototype.
  const out = Object.assign(Object.create(null) as Record<string, unknown>, base);
  for (const [k, v] of Object.entries(extra)) out[k] = k in out ? deepMerge(out[k], v) : v;
  return out;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
