import { constants } from 'os';
import { ApplyError, ConfigValidationError, WardenError } from '../contracts';
import { validationDetail } from '../config/config-validator';

/** A control-API answer: status code and Unit's JSON body. */
export interface ControlResponse {
  status: number;
  body: unknown;
  /** Set for the answers that are not JSON (`/metrics`, `/ui`): `body` is then the text sent as is. */
  contentType?: string;
}

/** An operation of the control API that ends in one of Unit's error answers. */
export class ControlError extends WardenError {
  constructor(readonly response: ControlResponse) {
    super('WARDEN_ERR_CONTROL_ANSWER', String((response.body as { error?: string }).error ?? 'error'));
    this.name = 'ControlError';
  }
}

/** Unit's error body. */
export function errorBody(error: string, detail?: string, extra?: Record<string, unknown>): Record<string, unknown> {
  return detail === undefined ? { error, ...extra } : { error, detail, ...extra };
}

/** `Value doesn't exist.` (404). */
export const notFound = () => new ControlError({ status: 404, body: errorBody("Value doesn't exist.") });
/** `Method isn't allowed.` (405). */
export const notAllowed = () => new ControlError({ status: 405, body: errorBody("Method isn't allowed.") });
/** `Invalid path.` (404). */
export const invalidPath = () => new ControlError({ status: 404, body: errorBody('Invalid path.') });

/** Detail of an apply failure: code, then the app and the failing step when known, then the message. */
export function applyDetail(e: unknown): string {
  if (e instanceof ApplyError) {
    const where = [e.app !== undefined ? `application "${e.app}"` : '', e.step !== undefined ? `step "${e.step}"` : ''].filter(Boolean).join(', ');
    const errno = e.errno !== undefined ? ` (${errnoName(e.errno)})` : '';
    return `${e.code}${where ? ` in ${where}` : ''}: ${e.message}${errno}`;
  }
  const err = e as { code?: unknown; message?: unknown };
  const code = typeof err?.code === 'string' && err.code.startsWith('WARDEN_ERR_') ? err.code : 'WARDEN_ERR_APPLY';
  return `${code}: ${String(err?.message ?? e)}`;
}

function errnoName(errno: number): string {
  const n = Math.abs(errno);
  const name = Object.entries(constants.errno).find(([, v]) => v === n)?.[0];
  return name ? `${name}, errno ${n}` : `errno ${n}`;
}

/** Maps an error thrown while validating or applying a config to Unit's answer. */
export function applyFailure(e: unknown): ControlError {
  if (e instanceof ControlError) return e;
  if (e instanceof ConfigValidationError) {
    return new ControlError({ status: 400, body: errorBody('Invalid configuration.', validationDetail(e)) });
  }
  return new ControlError({ status: 500, body: errorBody('Failed to apply new configuration.', applyDetail(e)) });
}
