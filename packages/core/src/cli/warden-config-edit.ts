import { spawnSync } from 'child_process';
import { mkdtempSync, readFileSync, readSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { isatty } from 'tty';
import { JsonParseError, parseJson } from '../control/json-parser';
import { controlRequest, encodeConfigPath } from './warden-control-client';
import type { WardenControlTarget } from './warden-control-client';
import { formatErrorResponse, locationLines } from './warden-error-format';

/** What `warden config edit` needs from the command line. */
export interface WardenEditOptions {
  target: WardenControlTarget;
  /** Config path as typed (`applications/go`), undefined for the whole config. */
  path?: string;
  /** `--json`: print the raw body of the final answer. */
  json: boolean;
  env: NodeJS.ProcessEnv;
  out: (text: string) => void;
  err: (text: string) => void;
}

/**
 * `warden config edit [PATH]`: fetches the value, opens `$VISUAL`/`$EDITOR` (default `vi`) on a private temp file,
 * checks the result with the control API's own JSON parser (comments allowed), then PUTs it. On a JSON error, a
 * rejected config or a failed apply it shows the problem and asks whether to edit again (like crontab -e); when the
 * answer is no (or stdin ends) the temp file is kept and named, so no edit is lost. Resolves with the exit code.
 */
export async function editConfig(o: WardenEditOptions): Promise<number> {
  const url = '/config' + encodeConfigPath(o.path);
  const got = await controlRequest(o.target, 'GET', url);
  if (got.status !== 200) {
    o.err(formatErrorResponse(got, { method: 'GET', url }));
    return 1;
  }
  const original = JSON.stringify(got.json, null, 2) + '\n';
  const dir = mkdtempSync(join(tmpdir(), 'warden-edit-'));
  const file = join(dir, tempFileName(o.path));
  writeFileSync(file, original, { mode: 0o600 });
  const cleanup = () => rmSync(dir, { recursive: true, force: true });
  const kept = () => {
    const where = o.path ? `${o.path} ` : '';
    o.err(`warden: your edit is kept in ${file}; apply it later with "warden config put ${where}${file}"\n`);
  };

  for (;;) {
    const editor = o.env.VISUAL || o.env.EDITOR || 'vi';
    // Through the shell, as git does, so that EDITOR may carry arguments ("code --wait", "emacs -nw").
    const run = spawnSync('/bin/sh', ['-c', `${editor} "$@"`, editor, file], { stdio: 'inherit', env: o.env });
    if (run.error || run.status !== 0) {
      const why = run.error ? run.error.message : run.signal ? `killed by ${run.signal}` : `exit status ${run.status}`;
      o.err(`warden: the editor "${editor}" failed (${why}); nothing was sent\n`);
      if (readFileSync(file, 'utf8') === original) cleanup();
      else kept();
      return 1;
    }
    const text = readFileSync(file, 'utf8');
    if (text === original) {
      o.err('warden: no changes; nothing was sent\n');
      cleanup();
      return 0;
    }
    if (text.trim() === '') {
      o.err('warden: the file is empty; edit aborted, nothing was sent\n');
      cleanup();
      return 1;
    }
    try {
      parseJson(text);
    } catch (e) {
      if (!(e instanceof JsonParseError)) throw e;
      o.err(`warden: Invalid JSON: ${e.detail}\n${locationLines(e.location, { name: file, text }).join('\n')}\n`);
      if (askAgain(o.err)) continue;
      kept();
      return 1;
    }
    const put = await controlRequest(o.target, 'PUT', url, Buffer.from(text, 'utf8'));
    if (put.status === 200) {
      if (o.json) o.out(put.text);
      else o.out(successLine(put.json) + '\n');
      cleanup();
      return 0;
    }
    if (o.json) o.out(put.text);
    o.err(formatErrorResponse(put, { method: 'PUT', url }, { name: file, text }));
    if (askAgain(o.err)) continue;
    kept();
    return 1;
  }
}

/** `config.json`, or `config-applications-go.json` for a path, so editors pick JSON highlighting. */
function tempFileName(path: string | undefined): string {
  const p = (path ?? '').replace(/^\/+|\/+$/g, '');
  return p ? `config-${p.replace(/[^A-Za-z0-9._-]+/g, '_')}.json` : 'config.json';
}

/** The `success` text of a 200 answer. */
export function successLine(body: unknown): string {
  const s = (body as { success?: unknown } | undefined)?.success;
  return typeof s === 'string' ? s : 'Done.';
}

/** Asks `Edit again? [Y/n]` on stderr and reads the answer from stdin; end of input means no. */
function askAgain(err: (text: string) => void): boolean {
  err('Edit again? [Y/n] ');
  const answer = readLineSync();
  // A terminal echoes the answer and its newline; from a pipe nothing is echoed, so end the prompt line here.
  if (answer === undefined || !isatty(0)) err('\n');
  if (answer === undefined) return false;
  return !/^\s*n/i.test(answer);
}

/**
 * Reads one line from fd 0 synchronously, a byte at a time so that nothing after the line is consumed (the editor
 * runs next on the same terminal). Undefined at end of input.
 */
function readLineSync(): string | undefined {
  const byte = Buffer.alloc(1);
  const bytes: number[] = [];
  for (;;) {
    let n: number;
    try {
      n = readSync(0, byte, 0, 1, null);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EAGAIN') {
        // stdin was left non-blocking by whoever started us: wait briefly for input and try again.
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
        continue;
      }
      return bytes.length > 0 ? Buffer.from(bytes).toString('utf8') : undefined;
    }
    if (n === 0) return bytes.length > 0 ? Buffer.from(bytes).toString('utf8') : undefined;
    if (byte[0] === 0x0a) return Buffer.from(bytes).toString('utf8');
    bytes.push(byte[0]);
  }
}
