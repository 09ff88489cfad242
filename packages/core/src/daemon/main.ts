import 'reflect-metadata';
import { spawn } from 'child_process';
import { closeSync, writeSync } from 'fs';
import { join } from 'path';
import { WardenError } from '../contracts';
import { parseDaemonArgs, USAGE } from './daemon-options';
import type { DaemonOptions } from './daemon-options';
import { closeInheritedFds } from './inherited-fds';
import { composeContainer, startWarden } from './warden';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const VERSION: string = require('../../package.json').version;

/** Env var naming the fd on which a daemonised child reports `ready` or its start-up error to its parent. */
const READY_FD_ENV = 'WARDEN_READY_FD';

/**
 * `wardend` command line. Resolves with an exit code for one-shot commands (and the daemonising parent);
 * in the foreground it keeps running until SIGTERM/SIGINT, then exits 0.
 */
export async function main(argv: string[]): Promise<number | undefined> {
  // Pass on exactly the fds we mean to: nothing the launching shell left open may reach an app (see inherited-fds.ts).
  closeInheritedFds(process.env[READY_FD_ENV] ? [Number(process.env[READY_FD_ENV])] : []);
  let options: DaemonOptions;
  try {
    options = parseDaemonArgs(argv);
  } catch (e) {
    return fatal(e);
  }
  if (options.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (options.version) {
    process.stdout.write(`wardend version: ${VERSION}\n`);
    return 0;
  }
  if (options.printSchema) {
    try {
      const { validator } = await composeContainer(options);
      process.stdout.write(JSON.stringify(validator.schema, null, 2) + '\n');
      return 0;
    } catch (e) {
      return fatal(e);
    }
  }
  if (!options.noDaemon) return daemonise(argv, options);
  return runForeground(options);
}

async function runForeground(options: DaemonOptions): Promise<number | undefined> {
  const readyFd = process.env[READY_FD_ENV] ? Number(process.env[READY_FD_ENV]) : undefined;
  delete process.env[READY_FD_ENV];
  // Unit: SIGUSR1 reopens the log files (after logrotate moved them). Registered before anything else: Node's own
  // default for SIGUSR1 is to start the inspector, which would swallow a signal sent early without reopening.
  let started: Awaited<ReturnType<typeof startWarden>> | undefined;
  process.on('SIGUSR1', () => void started?.reopenLogs());
  let warden;
  try {
    warden = await startWarden(options);
  } catch (e) {
    if (readyFd !== undefined) report(readyFd, `error ${describe(e)}`);
    return fatal(e);
  }
  started = warden;
  const shutdown = (signal: string) => {
    warden.log.info({ signal }, 'signal received');
    warden.stop().then(
      () => process.exit(0),
      (e) => {
        warden.log.error({ err: e }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGHUP', () => warden.log.info('SIGHUP ignored'));
  process.on('unhandledRejection', (e) => {
    warden.log.error({ err: e }, 'unhandled promise rejection (a bug; the daemon keeps running)');
  });
  process.on('uncaughtException', (e) => {
    warden.log.fatal({ err: e }, 'uncaught exception; stopping');
    warden.stop().finally(() => process.exit(1));
  });
  // Ready only once every signal handler is in place: a caller may signal us as soon as it reads this.
  if (readyFd !== undefined) report(readyFd, `ready ${warden.control}`);
  return undefined;
}

/**
 * Unit's default mode: start a detached copy of ourselves with `--no-daemon` and exit once its control socket is up
 * (exit 0) or it failed (exit 1 with its error). The daemon logs to `--log`, by default `<statedir>/wardend.log`.
 */
function daemonise(argv: string[], options: DaemonOptions): Promise<number> {
  const extra = options.log ? [] : ['--log', join(options.statedir, 'wardend.log')];
  const child = spawn(process.execPath, [...process.execArgv, process.argv[1], ...argv, ...extra, '--no-daemon'], {
    detached: true,
    stdio: ['ignore', 'ignore', 'ignore', 'pipe'],
    env: { ...process.env, [READY_FD_ENV]: '3' },
  });
  return new Promise((resolve) => {
    let text = '';
    const pipe = child.stdio[3] as NodeJS.ReadableStream;
    pipe.setEncoding('utf8');
    let done = false;
    const finish = (line: string | undefined) => {
      if (done) return;
      done = true;
      if (line?.startsWith('ready ')) {
        child.unref();
        process.stderr.write(`wardend started (pid ${child.pid}, control ${line.slice(6)})\n`);
        resolve(0);
      } else {
        const reason = line?.startsWith('error ') ? line.slice(6) : `the daemon exited before it was ready; see ${options.log ?? extra[1]}`;
        process.stderr.write(`wardend: ${reason}\n`);
        resolve(1);
      }
    };
    // Decide on the first complete line: processes the daemon started may have inherited the pipe, so its end
    // may never come.
    pipe.on('data', (d: string) => {
      text += d;
      const nl = text.indexOf('\n');
      if (nl >= 0) finish(text.slice(0, nl));
    });
    pipe.on('end', () => finish(undefined));
    pipe.on('error', () => undefined);
    child.on('error', (e) => {
      process.stderr.write(`wardend: cannot start the daemon: ${e.message}\n`);
      resolve(1);
    });
  });
}

function report(fd: number, line: string): void {
  try {
    writeSync(fd, line + '\n');
    closeSync(fd);
  } catch {
    /* parent went away */
  }
}

function describe(e: unknown): string {
  return e instanceof WardenError ? `${e.code}: ${e.message}` : String((e as Error)?.message ?? e);
}

function fatal(e: unknown): number {
  process.stderr.write(`wardend: ${describe(e)}\n`);
  return 1;
}
