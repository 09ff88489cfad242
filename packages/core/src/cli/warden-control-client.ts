import { request } from 'http';
import type { RequestOptions } from 'http';
import { WardenError } from '../contracts/errors';
import { parseControlAddress } from '../control/control-address';
import type { ControlAddress } from '../control/control-address';

/** A `warden` failure with a stable code, the exit status to use and a message for the user. */
export class WardenCliError extends WardenError {
  constructor(
    /** Stable code, `WARDEN_ERR_CLI_...`. */
    code: string,
    message: string,
    /** Process exit status: 1 request failed, 2 usage or input error. */
    readonly exitCode: 1 | 2,
  ) {
    super(code, message);
    this.name = 'WardenCliError';
  }
}

/** Where to reach wardend: `unix:/path` or `IP:port` / `[v6]:port` (the syntax of wardend's `--control`). */
export type WardenControlTarget = { kind: 'unix'; path: string; text: string } | { kind: 'tcp'; host: string; port: number; text: string };

/** Parses a `--control` value with wardend's own parser; throws a usage error on anything else. */
export function parseControlTarget(value: string): WardenControlTarget {
  let address: ControlAddress;
  try {
    address = parseControlAddress(value);
  } catch {
    throw badAddress(value);
  }
  return { ...address, text: value };
}

function badAddress(value: string): WardenCliError {
  return new WardenCliError(
    'WARDEN_ERR_CLI_CONTROL_ADDRESS',
    `the control address "${value}" is invalid; use unix:/path/to/control.sock or IP:port (e.g. 127.0.0.1:8080)`,
    2,
  );
}

/** One control-API answer: status, the raw body, and the body parsed as JSON (undefined when it is not JSON). */
export interface WardenControlResponse {
  status: number;
  text: string;
  json: unknown;
}

/**
 * Encodes a config path given on the command line (`listeners/*:8080/pass`, leading and one trailing `/`
 * optional) as URL path segments: keys are written literally, `/` separates them, everything else is escaped.
 */
export function encodeConfigPath(path: string | undefined): string {
  const trimmed = (path ?? '').replace(/^\/+/, '').replace(/\/$/, '');
  if (trimmed === '') return '';
  return '/' + trimmed.split('/').map(encodeSegment).join('/');
}

/** Percent-encodes one key or index, keeping `:` and `*` readable (both are valid in a URL path). */
export function encodeSegment(segment: string): string {
  return encodeURIComponent(segment).replace(/%3A/gi, ':');
}

/** Sends one request to wardend's control API. Rejects with WardenCliError (exit 1) when wardend cannot be reached. */
export function controlRequest(target: WardenControlTarget, method: string, path: string, body?: Buffer): Promise<WardenControlResponse> {
  const where: RequestOptions = target.kind === 'unix' ? { socketPath: target.path } : { host: target.host, port: target.port };
  const headers: Record<string, string | number> = { Host: 'localhost', 'User-Agent': 'warden-cli' };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    headers['Content-Length'] = body.length;
  }
  return new Promise((resolve, reject) => {
    const req = request({ ...where, method, path, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', (e) => reject(unreachable(target, e as NodeJS.ErrnoException)));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json: unknown;
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode ?? 0, text, json });
      });
    });
    req.on('error', (e: NodeJS.ErrnoException) => reject(unreachable(target, e)));
    req.end(body);
  });
}

function unreachable(target: WardenControlTarget, e: NodeJS.ErrnoException): WardenCliError {
  const code = e.code ?? e.message;
  let hint: string;
  if (code === 'ENOENT' || code === 'ECONNREFUSED') hint = `is it running? ${code}`;
  else if (code === 'EACCES' || code === 'EPERM') hint = `permission denied: run as the owner of the control socket or as root; ${code}`;
  else if (code === 'ECONNRESET' || code === 'EPIPE') hint = `the connection was closed before an answer; ${code}`;
  else hint = code;
  return new WardenCliError('WARDEN_ERR_CLI_UNREACHABLE', `cannot reach wardend at ${target.text} (${hint})`, 1);
}
