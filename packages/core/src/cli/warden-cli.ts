import { readFileSync } from 'fs';
import { top } from './warden-top';
import { defaultPaths } from '../daemon/daemon-options';
import { parseCommandLine } from './command-line';
import { editConfig, successLine } from './warden-config-edit';
import { controlRequest, encodeConfigPath, encodeSegment, parseControlTarget, WardenCliError } from './warden-control-client';
import type { WardenControlResponse, WardenControlTarget } from './warden-control-client';
import { formatErrorResponse } from './warden-error-format';
import type { WardenSource } from './warden-error-format';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const VERSION: string = require('../../package.json').version;

/** Env var naming the control address when `--control` is not given. */
export const WARDEN_CONTROL_ENV = 'WARDEN_CONTROL';

/** `warden --help`, with the control address that applies in this environment. */
export function wardenUsage(env: NodeJS.ProcessEnv = process.env): string {
  return `Usage: warden [--control ADDR] [--json] COMMAND

Control client of wardend (the equivalent of NGINX Unit's unitctl).

Commands:
  config get [PATH]              print the configuration, or the value at PATH
  config put [PATH] FILE|-       replace the value at PATH (the whole configuration
                                 without PATH) by the JSON in FILE, or stdin with -
  config post PATH FILE|-        append the JSON in FILE (or stdin) to the array at PATH
  config delete PATH             remove the value at PATH ("/" resets the configuration to {})
  config edit [PATH]             edit the value in $VISUAL/$EDITOR (default vi); the text is
                                 checked as JSON before it is sent
  cert list                      print the uploaded certificate bundles (name → key and chain)
  cert get NAME [PATH]           print one bundle, or the value at PATH inside it (chain/0/subject)
  cert put NAME FILE|-           upload a PEM bundle (certificates and key) from FILE or stdin
  cert delete NAME               delete a bundle no listener uses
  js list                        print the uploaded JavaScript modules (name → text)
  js get NAME                    print one module's text
  js put NAME FILE|-             upload a module for template literals from FILE or stdin
  js delete NAME                 delete a module settings.js_module does not name
  status [PATH]                  print the status (connections, requests, applications)
  top [--once]                   listeners, applications, processes with their isolation, request
                                 and error rates, refreshed every 2 s (--once: one frame)
  restart APP                    restart every process of application APP

PATH is a JSON path below /config (or /status), keys written literally and separated
by "/": applications/go-app, listeners/*:8080/pass, routes/0/action.

Options:
  --control ADDR   wardend's control socket: unix:/path/to/control.sock or IP:port
                   (default: $${WARDEN_CONTROL_ENV}, else ${defaultPaths(env).control})
  --json           print wardend's raw JSON answer instead of the readable form
  --version        print the version and exit
  -h, --help       print this help and exit

Exit status: 0 success, 1 wardend refused the request or could not be reached,
2 usage error (bad command line, unreadable input file).
`;
}

interface ParsedArgs {
  control?: string;
  json: boolean;
  once: boolean;
  help: boolean;
  version: boolean;
  words: string[];
}

/** warden's options, as `util.parseArgs` reads them. */
const OPTIONS = {
  control: { type: 'string' },
  json: { type: 'boolean' },
  once: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean' },
} as const;

/** Splits the command line into options (anywhere before `--`) and words; `-` is a word (stdin). */
function parseArgs(argv: string[]): ParsedArgs {
  const { values, positionals } = parseCommandLine(
    argv,
    OPTIONS,
    (p): never => {
      if (p.kind === 'needs-value' && p.option === '--control') throw usage('--control needs a value: unix:/path/to/control.sock or IP:port');
      if (p.kind === 'no-value') throw usage(`${p.option} takes no value`);
      throw usage(`unknown option "${p.kind === 'positional' ? p.value : p.option}"`);
    },
    true,
  );
  return {
    control: values.control as string | undefined,
    json: values.json === true,
    once: values.once === true,
    help: values.help === true,
    version: values.version === true,
    words: positionals,
  };
}

function usage(message: string): WardenCliError {
  return new WardenCliError('WARDEN_ERR_CLI_USAGE', message, 2);
}

/** The `--control` value in force: the option, else `$WARDEN_CONTROL`, else wardend's own default socket. */
export function resolveControl(option: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  return option ?? (env[WARDEN_CONTROL_ENV] || defaultPaths(env).control);
}

/** Output streams, replaceable for embedding. */
export interface WardenIo {
  out: (text: string) => void;
  err: (text: string) => void;
  /** Output is a terminal (`warden top` clears it between frames). */
  tty?: boolean;
}

const processIo: WardenIo = {
  out: (t) => void process.stdout.write(t),
  err: (t) => void process.stderr.write(t),
  tty: process.stdout.isTTY === true,
};

/** The `warden` command line. Resolves with the exit status (0 ok, 1 request failed, 2 usage error); never rejects. */
export async function main(argv: string[], env: NodeJS.ProcessEnv = process.env, io: WardenIo = processIo): Promise<number> {
  try {
    return await run(argv, env, io);
  } catch (e) {
    if (e instanceof WardenCliError) {
      io.err(`warden: ${e.message}\n`);
      if (e.code === 'WARDEN_ERR_CLI_USAGE') io.err('Run "warden --help" for the commands and options.\n');
      return e.exitCode;
    }
    io.err(`warden: internal error: ${(e as Error)?.stack ?? e}\n`);
    return 1;
  }
}

async function run(argv: string[], env: NodeJS.ProcessEnv, io: WardenIo): Promise<number> {
  const args = parseArgs(argv);
  if (args.help || args.words[0] === 'help') {
    io.out(wardenUsage(env));
    return 0;
  }
  if (args.version) {
    io.out(`warden version: ${VERSION}\n`);
    return 0;
  }
  const [command, ...rest] = args.words;
  if (command === undefined) throw usage('no command given');
  const target = parseControlTarget(resolveControl(args.control, env));
  const ctx: CommandContext = { target, json: args.json, io };

  if (command === 'top') {
    arity('top [--once]', rest, 0, 0);
    return top(target, io.out, { once: args.once, tty: io.tty ?? false });
  }
  if (command === 'status') {
    arity('status [PATH]', rest, 0, 1);
    return show(ctx, '/status' + encodeConfigPath(rest[0]));
  }
  if (command === 'restart') {
    arity('restart APP', rest, 1, 1);
    const app = rest[0];
    if (app === '') throw usage('restart needs an application name');
    const url = `/control/applications/${encodeSegment(app)}/restart`;
    const res = await controlRequest(target, 'GET', url);
    if (res.status === 404 && (res.json as { error?: unknown })?.error === "Value doesn't exist.") {
      return fail(ctx, res, 'GET', url, undefined, `  there is no application "${app}" in /config/applications\n`);
    }
    if (res.status !== 200) return fail(ctx, res, 'GET', url);
    io.out(args.json ? res.text : `Application "${app}" restarted.\n`);
    return 0;
  }
  if (command === 'cert') return uploadCommand(ctx, CERT, rest);
  if (command === 'js') return uploadCommand(ctx, JS, rest);
  if (command !== 'config') throw usage(`unknown command "${command}"`);

  const [sub, ...params] = rest;
  switch (sub) {
    case 'get':
      arity('config get [PATH]', params, 0, 1);
      return show(ctx, '/config' + encodeConfigPath(params[0]));
    case 'put': {
      arity('config put [PATH] FILE|-', params, 1, 2);
      const [path, file] = params.length === 2 ? params : [undefined, params[0]];
      return change(ctx, 'PUT', '/config' + encodeConfigPath(path), await readInput(file));
    }
    case 'post': {
      arity('config post PATH FILE|-', params, 2, 2);
      if (encodeConfigPath(params[0]) === '') throw usage('config post needs the path of an array, e.g. routes or routes/main');
      return change(ctx, 'POST', '/config' + encodeConfigPath(params[0]), await readInput(params[1]));
    }
    case 'delete':
      arity('config delete PATH', params, 1, 1);
      if (params[0] === '') throw usage('config delete needs a PATH; use "/" to reset the whole configuration');
      return change(ctx, 'DELETE', '/config' + encodeConfigPath(params[0]));
    case 'edit':
      arity('config edit [PATH]', params, 0, 1);
      return editConfig({ target, path: params[0], json: args.json, env, out: io.out, err: io.err });
    case undefined:
      throw usage('config needs a subcommand: get, put, post, delete or edit');
    default:
      throw usage(`unknown config subcommand "${sub}"; use get, put, post, delete or edit`);
  }
}

/** A section of named uploads and the words of its commands. */
interface UploadCommand {
  cmd: 'cert' | 'js';
  section: string;
  /** What one item is, for "a certificate bundle needs a name". */
  what: string;
  /** The item's `get` takes a PATH inside it (certificates); else it prints the stored text as it is (modules). */
  subPath: boolean;
}

const CERT: UploadCommand = { cmd: 'cert', section: '/certificates', what: 'a certificate bundle', subPath: true };
const JS: UploadCommand = { cmd: 'js', section: '/js_modules', what: 'a JavaScript module', subPath: false };

/** `warden cert ...` (`/certificates`) and `warden js ...` (`/js_modules`). */
async function uploadCommand(ctx: CommandContext, u: UploadCommand, rest: string[]): Promise<number> {
  const [sub, ...params] = rest;
  const url = (name: string) => {
    if (name === '') throw usage(`${u.what} needs a name`);
    return `${u.section}/${encodeSegment(name)}`;
  };
  switch (sub) {
    case 'list':
      arity(`${u.cmd} list`, params, 0, 0);
      return show(ctx, u.section);
    case 'get':
      if (u.subPath) {
        arity(`${u.cmd} get NAME [PATH]`, params, 1, 2);
        return show(ctx, url(params[0]) + encodeConfigPath(params[1]));
      }
      arity(`${u.cmd} get NAME`, params, 1, 1);
      return show(ctx, url(params[0]), true);
    case 'put':
      arity(`${u.cmd} put NAME FILE|-`, params, 2, 2);
      return change(ctx, 'PUT', url(params[0]), await readInput(params[1]));
    case 'delete':
      arity(`${u.cmd} delete NAME`, params, 1, 1);
      return change(ctx, 'DELETE', url(params[0]));
    case undefined:
      throw usage(`${u.cmd} needs a subcommand: list, get, put or delete`);
    default:
      throw usage(`unknown ${u.cmd} subcommand "${sub}"; use list, get, put or delete`);
  }
}

interface CommandContext {
  target: WardenControlTarget;
  json: boolean;
  io: WardenIo;
}

function arity(form: string, params: string[], min: number, max: number): void {
  if (params.length < min) throw usage(`missing argument: warden ${form}`);
  if (params.length > max) throw usage(`too many arguments: warden ${form}`);
}

/** GET and print the value (2-space JSON, or the raw answer with --json; `text`: a string value as it is). */
async function show(ctx: CommandContext, url: string, text = false): Promise<number> {
  const res = await controlRequest(ctx.target, 'GET', url);
  if (res.status !== 200 || res.json === undefined) return fail(ctx, res, 'GET', url);
  ctx.io.out(ctx.json ? res.text : text && typeof res.json === 'string' ? res.json : JSON.stringify(res.json, null, 2) + '\n');
  return 0;
}

/** PUT/POST/DELETE and print the success line. */
async function change(ctx: CommandContext, method: string, url: string, input?: { source: WardenSource; data: Buffer }): Promise<number> {
  const res = await controlRequest(ctx.target, method, url, input?.data);
  if (res.status !== 200) return fail(ctx, res, method, url, input?.source);
  ctx.io.out(ctx.json ? res.text : successLine(res.json) + '\n');
  return 0;
}

function fail(ctx: CommandContext, res: WardenControlResponse, method: string, url: string, source?: WardenSource, hint = ''): number {
  if (ctx.json) ctx.io.out(res.text);
  ctx.io.err(formatErrorResponse(res, { method, url }, source) + hint);
  return 1;
}

/** Reads FILE, or all of stdin for `-`. An unreadable file is a usage error (exit 2). */
async function readInput(file: string): Promise<{ source: WardenSource; data: Buffer }> {
  let data: Buffer;
  let name = file;
  if (file === '-') {
    name = '<stdin>';
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    data = Buffer.concat(chunks);
  } else {
    try {
      data = readFileSync(file);
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      throw new WardenCliError(
        'WARDEN_ERR_CLI_INPUT',
        `cannot read ${file}: ${err.code === 'ENOENT' ? 'no such file' : err.code === 'EISDIR' ? 'it is a directory' : err.message}`,
        2,
      );
    }
  }
  return { source: { name, text: data.toString('utf8') }, data };
}
