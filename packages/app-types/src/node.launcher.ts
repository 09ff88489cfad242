import type { AppConfig, AppLauncher, JsonSchema, LaunchSpec, PlanContext } from '@warden/core';
import { ConfigValidationError } from '@warden/core';
import { ARGUMENTS_SCHEMA, appArguments, appEnvironment, appPath, requireString, validateCommon } from './internal/app-validation';
import { PRELOAD_PATH } from './runtime/paths';
import { nodeLanguageDeps } from './internal/node-deps';

/** Options of {@link NodeLauncher}. */
export interface NodeLauncherOptions {
  /** The Node binary used when the app does not set `node` (default: the one running wardend). */
  defaultNode?: string;
  /** Absolute path of the compiled preload (default: {@link PRELOAD_PATH}). */
  preloadPath?: string;
}

/**
 * Warden's `node` application type (an extension; Unit only has `external`):
 * `{"type": "node", "script": "app.js", "arguments": [...], "node": "/usr/bin/node"}`. Runs
 * `node --require <preload> <script> <arguments...>`; the preload makes an unmodified
 * `http.createServer(...).listen(...)` app (CommonJS or ES module) serve over the channel.
 */
export class NodeLauncher implements AppLauncher {
  readonly types = ['node'] as const;
  readonly schema: { properties: Record<string, JsonSchema>; required: string[] } = {
    properties: {
      script: { type: 'string', minLength: 1 },
      arguments: ARGUMENTS_SCHEMA,
      node: { type: 'string', minLength: 1 },
    },
    required: ['script'],
  };
  private readonly defaultNode: string;
  private readonly preloadPath: string;

  constructor(options: NodeLauncherOptions = {}) {
    this.defaultNode = options.defaultNode ?? process.execPath;
    this.preloadPath = options.preloadPath ?? PRELOAD_PATH;
  }

  validate(app: AppConfig, ctx: PlanContext): void {
    requireString(app, 'script', ctx);
    if (app.node !== undefined) {
      const node = requireString(app, 'node', ctx);
      if (!node.startsWith('/')) {
        throw new ConfigValidationError(`The "node" value must be an absolute path to a Node.js binary, but it is "${node}".`, appPath(ctx, 'node'));
      }
    }
    validateCommon(app, ctx);
  }

  launch(app: AppConfig, ctx: PlanContext): LaunchSpec {
    this.validate(app, ctx);
    const node = (app.node as string | undefined) ?? this.defaultNode;
    return {
      executable: node,
      argv: [node, '--require', this.preloadPath, app.script as string, ...appArguments(app)],
      env: appEnvironment(app),
      cwd: app.working_directory,
      stdout: app.stdout,
      stderr: app.stderr,
      languageDeps: this.languageDeps(node),
    };
  }

  private readonly depsCache = new Map<string, string[]>();

  /** What `node` needs inside a rootfs (see nodeLanguageDeps); computed once per binary. */
  private languageDeps(node: string): string[] {
    let deps = this.depsCache.get(node);
    if (!deps) {
      deps = nodeLanguageDeps(node, this.preloadPath);
      this.depsCache.set(node, deps);
    }
    return [...deps];
  }
}
