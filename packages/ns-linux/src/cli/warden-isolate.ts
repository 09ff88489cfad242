import 'reflect-metadata';
import { accessSync, constants as fsConstants } from 'fs';
import { constants as osConstants } from 'os';
import * as path from 'path';
import { parseArgs as parseCommandLine } from 'util';
import { container as rootContainer, DependencyContainer } from 'tsyringe';
import {
  AppConfig,
  buildPlanContext,
  buildSpawnPlan,
  ConfigValidationError,
  ConfigValidator,
  IsolationConfig,
  planContextDefaults,
  ProcessSpawner,
  TOKENS,
  WardenError,
} from '@warden/core';
import { register } from '../register';

const USAGE = `usage: warden-isolate --isolation '<isolation object JSON>' [--user U] [--group G] [--plugin MODULE]...
                      -- COMMAND [ARGS...]

Runs COMMAND in the namespaces described by an NGINX Unit / Warden "isolation" object, with stdio attached, and
exits with its status (128+N when killed by signal N; 127 when COMMAND is not found, 126 when it cannot be run;
125 when the isolation object is invalid or the sandbox could not be set up; 2 on usage errors).
Without --user the command runs as Unit's default app user (nobody when run as root). --plugin loads a Warden
plugin (module name, or a path relative to the current directory) that adds namespaces or isolation keys.
Example: warden-isolate --isolation '{"namespaces":{"pid":true,"network":true}}' -- /bin/sh -c 'echo $$'`;

/** Parsed command line of warden-isolate. */
export interface IsolateArgs {
  isolation: IsolationConfig;
  user?: string;
  group?: string;
  plugins: string[];
  command: string[];
}

/** A wrong command line: exit status 2 and the usage text. */
class UsageError extends WardenError {
  constructor(message: string) {
    super('WARDEN_ERR_ISOLATE_USAGE', message);
  }
}

/** warden-isolate's options, as `util.parseArgs` reads them. */
const OPTIONS = {
  isolation: { type: 'string' },
  user: { type: 'string' },
  group: { type: 'string' },
  plugin: { type: 'string', multiple: true },
  help: { type: 'boolean', short: 'h' },
} as const;

/** Parses argv (without node and the script): options, then `--` and COMMAND; throws a usage error with a sentence. */
export function parseArgs(argv: string[]): IsolateArgs | 'help' {
  const { tokens, values } = parseCommandLine({ args: argv, options: OPTIONS, strict: false, allowPositionals: true, tokens: true });
  const end = tokens.find((t) => t.kind === 'option-terminator')?.index ?? argv.length;
  for (const t of tokens) {
    if (t.index >= end) break;
    if (t.kind === 'positional') throw new UsageError(`unknown option ${t.value}`);
    if (t.kind !== 'option') continue;
    const flag = t.name === 'help' && (t.rawName === '-h' || t.rawName === '--help');
    if (flag && t.value === undefined) return 'help';
    if (flag || !Object.prototype.hasOwnProperty.call(OPTIONS, t.name) || t.rawName !== `--${t.name}`) {
      throw new UsageError(`unknown option ${t.inlineValue ? `${t.rawName}=${t.value}` : t.rawName}`);
    }
    if (t.value === undefined) throw new UsageError(`${t.rawName} needs a value`);
  }
  let isolation: unknown;
  if (values.isolation === undefined) throw new UsageError('--isolation is required');
  try {
    isolation = JSON.parse(values.isolation as string);
  } catch (err) {
    throw new UsageError(`--isolation is not valid JSON: ${(err as Error).message}`);
  }
  if (typeof isolation !== 'object' || isolation === null || Array.isArray(isolation)) {
    throw new UsageError('--isolation must be a JSON object');
  }
  const command = argv.slice(end + 1);
  if (!command.length) throw new UsageError('no COMMAND given after --');
  const user = values.user as string | undefined;
  const group = values.group as string | undefined;
  return { isolation: isolation as IsolationConfig, user, group, plugins: (values.plugin as string[] | undefined) ?? [], command };
}

function findExecutable(cmd: string, rooted: boolean): string {
  if (cmd.includes('/') || rooted) return cmd;
  for (const dir of (process.env.PATH ?? '/usr/bin:/bin').split(':')) {
    const file = path.join(dir || '.', cmd);
    try {
      accessSync(file, fsConstants.X_OK);
      return file;
    } catch {
      // next
    }
  }
  return cmd;
}

/** Loads a plugin the way wardend's --plugin does: by module name or by path relative to the working directory. */
async function loadPlugin(container: DependencyContainer, module: string): Promise<void> {
  const id = module.startsWith('.') || path.isAbsolute(module) ? path.resolve(module) : module;
  let mod: { register?: unknown; default?: { register?: unknown } };
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    mod = require(require.resolve(id, { paths: [process.cwd()] }));
  } catch (err) {
    throw new WardenError('WARDEN_ERR_PLUGIN_LOAD', `Cannot load plugin "${module}": ${(err as Error).message}.`);
  }
  const reg = typeof mod.register === 'function' ? mod.register : mod.default?.register;
  if (typeof reg !== 'function') {
    throw new WardenError('WARDEN_ERR_PLUGIN_LOAD', `Cannot load plugin "${module}": it does not export a register(container) function.`);
  }
  await (reg as (c: DependencyContainer) => unknown)(container);
}

/** Runs the CLI; resolves with the exit status. */
export async function main(argv: string[]): Promise<number> {
  let args: IsolateArgs | 'help';
  try {
    args = parseArgs(argv);
  } catch (err) {
    process.stderr.write(`warden-isolate: ${(err as Error).message}\n${USAGE}\n`);
    return 2;
  }
  if (args === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const container = rootContainer.createChildContainer();
  register(container, { stdio: 'inherit' });
  try {
    for (const plugin of args.plugins) await loadPlugin(container, plugin);
    // wardend's own validator and plan context: the same schema, sentences and checks as a config's `isolation`.
    const defaults = planContextDefaults({ tmpdir: process.env.TMPDIR ?? '/tmp' });
    const app: AppConfig = { type: 'external', user: args.user, group: args.group, isolation: args.isolation };
    new ConfigValidator(container, defaults).validateIsolation(APP_NAME, app);
    const ctx = buildPlanContext(APP_NAME, app, defaults);
    const plan = buildSpawnPlan(container, app, ctx);
    const spawner = container.resolve<ProcessSpawner>(TOKENS.ProcessSpawner);
    const proto = await spawner.createPrototype('warden-isolate', plan);
    const rooted = typeof args.isolation.rootfs === 'string';
    const env = Object.fromEntries(Object.entries(process.env).filter((e): e is [string, string] => e[1] !== undefined));
    let proc;
    try {
      proc = await proto.spawn({ executable: findExecutable(args.command[0], rooted), argv: args.command, env, cwd: rooted ? '/' : process.cwd() }, []);
    } catch (err) {
      await proto.close();
      throw err;
    }
    // Ctrl-C reaches the command directly (same process group); other signals sent to us are forwarded.
    const forward = (sig: NodeJS.Signals) => proc.kill(sig);
    process.on('SIGINT', () => {});
    for (const sig of ['SIGTERM', 'SIGHUP', 'SIGQUIT'] as const) process.on(sig, forward);
    const { code, signal } = await proc.exited;
    await proto.close();
    if (signal) return 128 + ((osConstants.signals as Record<string, number>)[signal] ?? 0);
    return code ?? 1;
  } catch (err) {
    const e = err as WardenError & { step?: string; errno?: number };
    const where = e instanceof ConfigValidationError && e.path ? ` at ${optionAt(e.path)}` : '';
    const code = e.code ? ` [${e.code}${where}${e.step ? ` step=${e.step}` : ''}${e.errno ? ` errno=${e.errno}` : ''}]` : '';
    process.stderr.write(`warden-isolate: ${e.message}${code}\n`);
    return exitStatus(e);
  }
}

const APP_NAME = 'warden-isolate';
const ISOLATION_PATH = `/applications/${APP_NAME}/isolation`;
/** Where a validation error's JSON path points on our command line: `--isolation /namespaces/pid`, `--user`. */
function optionAt(path: string): string {
  if (path.startsWith(ISOLATION_PATH)) return `--isolation ${path.slice(ISOLATION_PATH.length) || '/'}`;
  return `--${path.split('/').pop()}`;
}

const ENOENT = osConstants.errno.ENOENT;
const ENOTDIR = osConstants.errno.ENOTDIR;

/**
 * The status for a failure before COMMAND ran, as env(1), chroot(1) and other sandbox tools use them: 127 when
 * execve found no COMMAND, 126 when it found one it cannot run (permission, format, a directory), else 125.
 */
function exitStatus(e: { step?: string; errno?: number }): number {
  if (e.step !== 'execve' || e.errno === undefined) return 125;
  return e.errno === ENOENT || e.errno === ENOTDIR ? 127 : 126;
}
