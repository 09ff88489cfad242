import 'reflect-metadata';
import { spawn } from 'child_process';
import { closeSync, writeSync } from 'fs';
import { join } from 'path';
import { isWardenError } from '../contracts';
import { parseDaemonArgs, wardendUsage } from './daemon-options';
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
    process.stdout.write(wardendUsage());
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

/**
 * The signals wardend handles (documented in `wardend --help`). SIGTERM, SIGINT and SIGQUIT stop it gracefully, as
 * Unit's main process does (Unit 1.35 handles all three the same way; nginx's SIGQUIT is its graceful stop):
 * listeners stop accepting, in-flight requests finish (up to the grace), apps stop, the control socket and pid file
 * are removed, exit 0. SIGUSR1 reopens the log files (Unit, nginx). SIGHUP and SIGUSR2 are logged and ignored: Unit
 * ignores SIGHUP, and nginx's SIGUSR2 (binary upgrade) has no equivalent here; neither must kill the server.
 */
export const STOP_SIGNALS = ['SIGTERM', 'SIGINT', 'SIGQUIT'] as const;
/** Signals that are logged and otherwise ignored. */
export const IGNORED_SIGNALS = ['SIGHUP', 'SIGUSR2'] as const;

async function runForeground(options: DaemonOptions): Promise<number | undefined> {
  // `ps` shows the roles, as Unit's `unit: main` / `unit: router`: this is main, the routers are `wardend: router N`.
  process.title = 'wardend: main';
  const readyFd = process.env[READY_FD_ENV] ? Number(process.env[READY_FD_ENV]) : undefined;
  delete process.env[READY_FD_ENV];
  // Every handled signal is registered before anything else: a signal that arrives during start-up (restoring the
  // config can take seconds) must not take the default action (SIGQUIT, SIGUSR2: terminate on the spot; SIGUSR1:
  // Node starts its inspector). A stop signal received then is acted on as soon as the start has finished.
  let warden: Awaited<ReturnType<typeof startWarden>> | undefined;
  let stopRequested: string | undefined;
  const shutdown = (signal: string) => {
    if (!warden) {
      stopRequested ??= signal;
      return;
    }
    const w = warden;
    w.log.info({ signal, action: 'graceful shutdown' }, 'signal received');
    w.stop().then(
      () => process.exit(0),
      (e) => {
        w.log.error({ err: e }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  for (const signal of STOP_SIGNALS) process.on(signal, () => shutdown(signal));
  for (const signal of IGNORED_SIGNALS) process.on(signal, () => warden?.log.info({ signal, action: 'ignored' }, 'signal received'));
  process.on('SIGUSR1', () => {
    warden?.log.info({ signal: 'SIGUSR1', action: 'log files rotation' }, 'signal received');
    void warden?.reopenLogs();
  });
  try {
    warden = await startWarden(options);
  } catch (e) {
    if (readyFd !== undefined) report(readyFd, `error ${describe(e)}`);
    return fatal(e);
  }
  const started = warden;
  process.on('unhandledRejection', (e) => {
    started.log.error({ err: e }, 'unhandled promise rejection (a bug; the daemon keeps running)');
  });
  process.on('uncaughtException', (e) => {
    started.log.fatal({ err: e }, 'uncaught exception; stopping');
    void started.stop().finally(() => process.exit(1));
  });
  // Ready only once every signal handler is in place: a caller may signal us as soon as it reads this.
  if (readyFd !== undefined) report(readyFd, `ready ${started.control}`);
  if (stopRequested) shutdown(stopRequested);
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
  return isWardenError(e) ? `${e.code}: ${e.message}` : String((e as Error)?.message ?? e);
}

/** Reports a start-up failure: exit 1, or 2 for a usage error (as `warden` and `warden-isolate`). */
function fatal(e: unknown): number {
  process.stderr.write(`wardend: ${describe(e)}\n`);
  return isWardenError(e, 'WARDEN_ERR_USAGE') ? 2 : 1;
}
