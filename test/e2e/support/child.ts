import { spawn } from 'child_process';
import type { ChildProcess, SpawnOptions } from 'child_process';

/** A child process whose stdout and stderr are collected together, and its exit. */
export interface Collected {
  child: ChildProcess;
  /** Everything it printed so far, stdout and stderr interleaved. */
  out(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Spawns a command with piped output (stdin ignored) and collects what it prints. */
export function spawnCollected(cmd: string, args: string[], opts: SpawnOptions = {}): Collected {
  const child = spawn(cmd, args, { ...opts, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.once('exit', (code, signal) => r({ code, signal })));
  return { child, out: () => out, exited };
}
