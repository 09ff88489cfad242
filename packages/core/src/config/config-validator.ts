import { createHash } from 'crypto';
import { existsSync } from 'fs';
import { join } from 'path';
import Ajv2020 from 'ajv/dist/2020';
import type { ValidateFunction } from 'ajv';
import type { DependencyContainer } from 'tsyringe';
import { checkRouterConfig } from '@warden/http-router';
import type { AppConfig, JsonSchema, WardenConfig } from '../contracts';
import { ConfigValidationError, WardenError } from '../contracts';
import { validateIsolation } from '../isolation';
import { checkUnprivilegedIdentity } from '../isolation/credentials';
import { hasUserNamespace } from '../isolation/plan-builder';
import { sharedIdentities } from '../isolation/shared-identity';
import type { SharedIdentity } from '../isolation/shared-identity';
import { crossCheck, ptr } from './cross-checks';
import { translateAjvErrors, unknownTypeMessage } from './error-translator';
import { buildPlanContext } from './plan-context';
import type { PlanContextDefaults } from './plan-context';
import { appLaunchers, buildConfigSchema } from './schema-builder';

/** The ajv options every config validator is compiled with (the precompiled ones too: see {@link precompiledPath}). */
export const AJV_OPTIONS = { allErrors: true, strict: true, allowUnionTypes: true, discriminator: true, verbose: true } as const;

/** Compiled validators by schema text: the same plugin set compiles once per process. */
const compiled = new Map<string, ValidateFunction>();

/**
 * Where the build puts the validator precompiled for schema text `key` (ajv standalone code, named by the text's
 * hash, so a validator can only ever be used for the schema it was made from). `npm run build` precompiles the
 * schema of the default plugins (packages/core/scripts/precompile-validators.js): compiling it at start-up took a
 * second of CPU and left ~16 MB more resident in an idle wardend.
 */
export function precompiledPath(key: string): string {
  return join(__dirname, 'precompiled', `${createHash('sha256').update(key).digest('hex').slice(0, 32)}.js`);
}

/** The validator for schema `schema` whose text is `key`: the build's precompiled one when there is one, else compiled now. */
export function compile(key: string, schema: JsonSchema): ValidateFunction {
  const file = precompiledPath(key);
  let fn: ValidateFunction | undefined;
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- the build's generated CommonJS module, by path
  if (existsSync(file)) fn = require(file) as ValidateFunction;
  fn ??= new Ajv2020(AJV_OPTIONS).compile(schema);
  compiled.set(key, fn);
  return fn;
}

/** The isolation object's schema on its own (what `warden-isolate --isolation` is checked against). */
export function isolationSchema(schema: JsonSchema): JsonSchema {
  return { $schema: schema.$schema, $defs: schema.$defs, $ref: '#/$defs/isolation' };
}

/** Whether the validator for schema `schema` comes precompiled from the build rather than compiled at start. */
export function isPrecompiled(schema: JsonSchema): boolean {
  return existsSync(precompiledPath(JSON.stringify(schema)));
}

/**
 * Validates whole configs: the schema assembled from the container (compiled once, ajv `allErrors` + `strict`),
 * then the router's rules (http-router's checkRouterConfig: listeners, routes, upstreams, `settings.http`), then the
 * applications' cross-field checks, then per application the isolation plugins' and its launcher's semantic checks.
 * Every failure is one ConfigValidationError whose message is one sentence and whose `path` is the JSON path.
 */
export class ConfigValidator {
  /** The assembled schema (what `wardend --print-schema` prints). */
  readonly schema: JsonSchema;
  private readonly check: ValidateFunction;
  private readonly key: string;
  private isolationCheck?: ValidateFunction;

  constructor(
    private readonly container: DependencyContainer,
    private readonly defaults: PlanContextDefaults,
  ) {
    this.schema = buildConfigSchema(container);
    const key = (this.key = JSON.stringify(this.schema));
    try {
      this.check = compiled.get(key) ?? compile(key, this.schema);
    } catch (e) {
      throw new WardenError(
        'WARDEN_ERR_PLUGIN_SCHEMA',
        `The config schema assembled from the loaded plugins does not compile: ${(e as Error).message}. Run "wardend --print-schema" to inspect it.`,
      );
    }
  }

  /** Returns the config when it is acceptable; otherwise throws ConfigValidationError. */
  validate(config: unknown): WardenConfig {
    this.checkTypes(config);
    if (!this.check(config)) throw translateAjvErrors(this.check.errors ?? []);
    const cfg = config as WardenConfig;
    // The schema above holds the router's (buildConfigSchema compiles ROUTER_SCHEMA_DEFS in): only the rules it cannot say remain.
    const [problem] = checkRouterConfig(cfg, { schemaChecked: true });
    if (problem) throw new ConfigValidationError(problem.message, problem.path, problem.code);
    crossCheck(cfg);
    for (const [name, app] of Object.entries(cfg.applications ?? {})) this.validateApp(name, app);
    return cfg;
  }

  /**
   * Runs the validation once over a config that reaches the parts of the schema a first start uses (a listener, a
   * route, a process policy, an isolation object, each loaded app type), ignoring the outcome: V8 compiles the
   * generated validation functions at their first call, which otherwise fell on the first `PUT /config` (15 ms of a
   * 62 ms first start, on a 2-core VM). Pure: nothing is applied, looked up or written but the user lookups of the
   * sample's default user.
   */
  warmUp(): void {
    const types = appLaunchers(this.container).flatMap((l) => l.types);
    const applications: Record<string, unknown> = {};
    if (types.includes('external')) {
      applications.w = {
        type: 'external',
        executable: '/bin/true',
        processes: { max: 2, spare: 1 },
        limits: { timeout: 10 },
        isolation: {
          namespaces: { credential: true, pid: true, mount: true, network: true, uname: true, cgroup: true, ipc: true },
          uidmap: [{ host: 1000, container: 0, size: 1 }],
          gidmap: [{ host: 1000, container: 0, size: 1 }],
        },
      };
    }
    if (types.includes('node')) applications.n = { type: 'node', script: 'app.js', working_directory: '/', processes: 1 };
    const routes = [
      { match: { uri: ['/w/*', '!/w/x'], method: 'GET', headers: { host: 'w' } }, action: { pass: 'applications/w' } },
      { action: { return: 404 } },
    ];
    for (const config of [{ listeners: { '127.0.0.1:1': { pass: 'routes' } }, routes, applications }, { applications }]) {
      try {
        this.validate(config);
      } catch {
        // the outcome does not matter (an unprivileged wardend refuses the sample's uid map): the code ran
      }
    }
  }

  /**
   * Validates one application's `isolation` on its own, for tools that take just that object (`warden-isolate
   * --isolation`): the same assembled schema (`$defs.isolation`), the same sentences and the same semantic checks as
   * {@link validate} gives a whole config, with the paths the object has at `/applications/<name>/isolation`.
   * Throws ConfigValidationError.
   */
  validateIsolation(name: string, app: AppConfig): void {
    this.isolationCheck ??= compiled.get(`isolation:${this.key}`) ?? compile(`isolation:${this.key}`, isolationSchema(this.schema));
    const at = ptr('applications', name, 'isolation');
    if (!this.isolationCheck(app.isolation ?? {})) {
      throw translateAjvErrors((this.isolationCheck.errors ?? []).map((e) => ({ ...e, instancePath: at + e.instancePath })));
    }
    this.validateApp(name, app);
  }

  /**
   * The host uids that applications of a valid config share without a user namespace (or share with an unprivileged
   * wardend): not an error, as in Unit, but each of them can read and write the others' memory; the controller warns.
   */
  sharedIdentities(config: WardenConfig): SharedIdentity[] {
    const daemonUid = process.geteuid?.() ?? 0;
    const apps = Object.entries(config.applications ?? {}).map(([name, app]) => {
      const ctx = buildPlanContext(name, app, this.defaults);
      return { name, uid: daemonUid === 0 ? ctx.credentials.uid : daemonUid, userNamespace: hasUserNamespace(this.container, app) };
    });
    return sharedIdentities(apps, daemonUid);
  }

  /** An unknown `type` is reported as such before the keys that type would have allowed. */
  private checkTypes(config: unknown): void {
    const apps = (config as WardenConfig | null)?.applications;
    if (typeof apps !== 'object' || apps === null || Array.isArray(apps)) return;
    const launchers = appLaunchers(this.container);
    for (const [name, app] of Object.entries(apps)) {
      const type = (app as AppConfig | null)?.type;
      if (typeof type === 'string' && !launchers.some((l) => l.types.includes(type))) {
        throw new ConfigValidationError(unknownTypeMessage(type), ptr('applications', name, 'type'), 'WARDEN_ERR_CONFIG_APP_TYPE');
      }
    }
  }

  private validateApp(name: string, app: AppConfig): void {
    const ctx = buildPlanContext(name, app, this.defaults);
    const launcher = appLaunchers(this.container).find((l) => l.types.includes(app.type));
    try {
      checkUnprivilegedIdentity(ctx, app.group !== undefined, hasUserNamespace(this.container, app), ptr('applications', name));
      validateIsolation(this.container, app, ctx);
      launcher?.validate?.(app, ctx);
    } catch (e) {
      if (e instanceof ConfigValidationError) {
        throw e.path ? e : new ConfigValidationError(e.message, ptr('applications', name), e.code);
      }
      throw new ConfigValidationError(
        `Validating application "${name}" failed: ${(e as Error).message}`,
        ptr('applications', name),
        'WARDEN_ERR_CONFIG_PLUGIN',
      );
    }
  }
}

/** The control API's `detail` for a validation error: code and JSON path, then the sentence in Unit's words. */
export function validationDetail(e: ConfigValidationError): string {
  return e.path ? `${e.code} at ${e.path}: ${e.message}` : `${e.code}: ${e.message}`;
}
