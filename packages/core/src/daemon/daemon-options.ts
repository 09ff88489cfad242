import { availableParallelism, homedir } from 'os';
import { join } from 'path';
import { WardenError } from '../contracts';
import { parseCommandLine } from '../cli/command-line';
import { LOG_FORMATS } from './logger';
import type { LogFormat } from './logger';

/** The parsed `wardend` command line (registered as TOKENS.DaemonOptions). */
export interface DaemonOptions {
  /** Stay in the foreground (`--no-daemon`). */
  noDaemon: boolean;
  /** `--control`: `unix:/path` or `IP:port`. */
  control: string;
  /** `--control-mode` as permission bits (default 0o600). */
  controlMode: number;
  controlUser?: string;
  controlGroup?: string;
  /** `--statedir`: where the accepted config is saved. */
  statedir: string;
  /** `--log`: log file; stderr when absent. */
  log?: string;
  /** `--log-format`: `json`, `unit` or `auto` (default: `unit` on a terminal, `json` otherwise). */
  logFormat: LogFormat | 'auto';
  /** `--pid`: pid file. */
  pid?: string;
  /** `--tmpdir`: wardend's runtime files. */
  tmpdir: string;
  /** `--user`/`--group`: default credentials of apps (undefined = Unit's defaults). */
  user?: string;
  group?: string;
  /** `--routers N`: router processes (default: {@link defaultRouters}, half the CPUs rounded up). */
  routers: number;
  /** `--config`: initial config, used only when the state dir holds none. */
  config?: string;
  /** `--plugin` (repeatable): extra plugin modules, loaded after the defaults. */
  plugins: string[];
  /** `--no-default-plugins`: load only the `--plugin` modules. */
  noDefaultPlugins: boolean;
  printSchema: boolean;
  version: boolean;
  help: boolean;
}

/**
 * The default number of router processes: half the CPUs, rounded up. The app processes need the other half: per
 * request of a hello app a router spends 2.5 to 4 times the CPU of a Go or Node app process, and a real app more than
 * that, so one router per CPU left the apps short (on 2 CPUs, `bench/run.js --only routers`: 1 router served the Go
 * hello app at 0.73x and the Node one at 1.13x of the app served directly, 2 routers at 0.67x and 0.74x, with the
 * Node p99 at 2.0x instead of 1.3x). Each router is also a Node process of its own (about 60 MB RSS idle).
 */
export function defaultRouters(cpus = availableParallelism()): number {
  return Math.max(1, Math.ceil(cpus / 2));
}

/** Defaults as documented in the README: system paths as root, per-user paths otherwise. */
export function defaultPaths(env: NodeJS.ProcessEnv = process.env, uid = process.geteuid?.() ?? 0): { control: string; statedir: string; tmpdir: string } {
  if (uid === 0) return { control: 'unix:/run/warden/control.sock', statedir: '/var/lib/warden', tmpdir: env.TMPDIR || '/tmp' };
  const runtime = env.XDG_RUNTIME_DIR ? join(env.XDG_RUNTIME_DIR, 'warden') : `/tmp/warden-${uid}`;
  let home = env.HOME;
  if (!home) {
    try {
      home = homedir();
    } catch {
      home = undefined;
    }
  }
  const stateBase = env.XDG_STATE_HOME || (home ? join(home, '.local', 'state') : undefined);
  return {
    control: `unix:${join(runtime, 'control.sock')}`,
    statedir: stateBase ? join(stateBase, 'warden') : join(runtime, 'state'),
    tmpdir: env.TMPDIR || '/tmp',
  };
}

/** `wardend --help`, with the defaults that apply for this user and environment. */
export function wardendUsage(env: NodeJS.ProcessEnv = process.env, uid = process.geteuid?.() ?? 0): string {
  const d = defaultPaths(env, uid);
  return `Usage: wardend [options]

Without --no-daemon wardend goes to the background once its control socket is up
and logs to --log, else to <statedir>/wardend.log. In the foreground it logs to
stderr (Unit's line format on a terminal, JSON lines otherwise).

  --no-daemon              run in the foreground
  --control ADDR           control API address: unix:/path (or a bare /path) or IP:port
                           (default: ${d.control})
  --control-mode MODE      control socket permissions, octal (default 600)
  --control-user USER      control socket owner
  --control-group GROUP    control socket group
  --statedir DIR           where the accepted configuration is saved
                           (default: ${d.statedir})
  --log FILE               log file (default: stderr in the foreground,
                           <statedir>/wardend.log when daemonised)
  --log-format FORMAT      json (pino lines), unit (Unit's error-log lines) or auto
                           (default: unit on a terminal, json otherwise)
  --pid FILE               pid file
  --tmpdir DIR             directory for runtime files (default: ${d.tmpdir})
  --user USER              default user of applications (default: nobody as root,
                           else your own)
  --group GROUP            default group of applications
                           (USER and GROUP also run the router processes)
  --routers N              router processes (default: half the CPUs, rounded up: ${defaultRouters()})
  --config FILE            initial configuration, used when the state dir has none
  --plugin MODULE          load a plugin module (repeatable)
  --no-default-plugins     do not load the bundled plugins
  --print-schema           print the configuration schema and exit
  --version                print the version and exit
  -h, --help               print this help and exit

Signals:
  SIGTERM, SIGINT, SIGQUIT stop gracefully: stop accepting, let in-flight requests
                           finish (up to 5 s), stop the apps, remove the control
                           socket and the pid file, exit 0
  SIGUSR1                  reopen the log files (after logrotate moved them)
  SIGHUP, SIGUSR2          logged and ignored
  SIGKILL                  leaves the control socket and pid file behind; the next
                           start finds them stale and replaces them (a running
                           wardend is never replaced: the start is refused)

Files:
  The pid file (--pid) is written before the control socket is created.
  <statedir>/conf.json            the accepted configuration
  <statedir>/conf.json.last-good  a copy of it, restored when conf.json is damaged
  <statedir>/conf.json.corrupt-*  a damaged conf.json, moved aside at start

Exit status: 0 success, 1 start-up failed, 2 usage error.
`;
}

const string = { type: 'string' } as const;
const flag = { type: 'boolean' } as const;
/** wardend's options, as `util.parseArgs` reads them. */
const OPTIONS = {
  control: string,
  'control-mode': string,
  'control-user': string,
  'control-group': string,
  statedir: string,
  log: string,
  'log-format': string,
  pid: string,
  tmpdir: string,
  user: string,
  group: string,
  config: string,
  routers: string,
  plugin: { type: 'string', multiple: true },
  'no-daemon': flag,
  'print-schema': flag,
  version: flag,
  help: { type: 'boolean', short: 'h' },
  'no-default-plugins': flag,
} as const;

/** Parses the command line (`--flag value` or `--flag=value`, `-h`); a usage problem throws WardenError. */
export function parseDaemonArgs(argv: string[], env: NodeJS.ProcessEnv = process.env): DaemonOptions {
  const { values: v } = parseCommandLine(argv, OPTIONS, (p): never => {
    if (p.kind === 'positional') throw usageError(`Unexpected argument "${p.value}".`);
    if (p.kind === 'unknown') throw usageError(`Unknown option "${p.option}".`);
    throw usageError(p.kind === 'no-value' ? `${p.option} takes no value.` : `${p.option} needs a value.`);
  });
  const values = v as Record<string, string | undefined>;
  const plugins = (v.plugin as string[] | undefined) ?? [];
  const bools = new Set(Object.keys(v).filter((k) => v[k] === true));
  const defaults = defaultPaths(env);
  let controlMode = 0o600;
  if (values['control-mode'] !== undefined) {
    if (!/^[0-7]{1,4}$/.test(values['control-mode'])) throw usageError(`--control-mode "${values['control-mode']}" is not an octal mode such as 600 or 660.`);
    controlMode = parseInt(values['control-mode'], 8);
  }
  let routers = defaultRouters();
  if (values.routers !== undefined) {
    if (!/^[1-9][0-9]{0,2}$/.test(values.routers) || Number(values.routers) > 256) {
      throw usageError(`--routers "${values.routers}" is not a number of processes from 1 to 256.`);
    }
    routers = Number(values.routers);
  }
  const logFormat = (values['log-format'] ?? 'auto') as LogFormat | 'auto';
  if (!LOG_FORMATS.includes(logFormat)) throw usageError(`--log-format "${logFormat}" is not one of ${LOG_FORMATS.join(', ')}.`);
  return {
    noDaemon: bools.has('no-daemon'),
    control: values.control ?? defaults.control,
    controlMode,
    controlUser: values['control-user'],
    controlGroup: values['control-group'],
    statedir: values.statedir ?? defaults.statedir,
    log: values.log,
    logFormat,
    pid: values.pid,
    tmpdir: values.tmpdir ?? defaults.tmpdir,
    user: values.user,
    group: values.group,
    config: values.config,
    routers,
    plugins,
    noDefaultPlugins: bools.has('no-default-plugins'),
    printSchema: bools.has('print-schema'),
    version: bools.has('version'),
    help: bools.has('help'),
  };
}

function usageError(message: string): WardenError {
  return new WardenError('WARDEN_ERR_USAGE', `${message} Run "wardend --help" for the options.`);
}
