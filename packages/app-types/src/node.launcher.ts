import type { AppConfig, AppLauncher, JsonSchema, LaunchSpec, PlanContext } from '@warden/core';
import { ConfigValidationError } from '@warden/core';
import { ARGUMENTS_SCHEMA, appArguments, appEnvironment, appPath, requireString, validateCommon } from './internal/app-validation';
import { PRELOAD_PATH } from './runtime/paths';
import { nodeLanguageDeps } from './internal/node-deps';

/**
 * The young generation's size limit given to a `node` app (`--max-semi-space-size`, MB). Served over the channel, a
 * Node app's requests survive V8's scavenges far more often than under node:http (35-40 % of the young generation
 * survives, against a few per cent), so V8 grows each semi-space to its default limit of 16 MB and every scavenge
 * then pauses the app for 5-15 ms: the p99 of the hello app through wardend was 10-14 ms against 1.7-2 ms served
 * directly. Capped at 4 MB, scavenges stay short: p99 4.4-5.1 ms, at the same or better throughput (bench/README.md
 * "Node tail latency"). An app that sets `--max-semi-space-size` in its `NODE_OPTIONS` keeps its own value.
 */
export const NODE_SEMI_SPACE_MB = 4;

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
 * `node --max-semi-space-size=4 --require <preload> <script> <arguments...>` (see {@link NODE_SEMI_SPACE_MB}); the preload makes an unmodified
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
    const env = appEnvironment(app);
    const young = /--max-semi-space-size\b/.test(env.NODE_OPTIONS ?? '') ? [] : [`--max-semi-space-size=${NODE_SEMI_SPACE_MB}`];
    return {
      executable: node,
      argv: [node, ...young, '--require', this.preloadPath, app.script as string, ...appArguments(app)],
      env,
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
