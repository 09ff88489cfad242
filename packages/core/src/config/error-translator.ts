import type { ErrorObject } from 'ajv';
import { describeType, schemaProblem, type SchemaSentence } from '@warden/http-router';
import { ConfigValidationError } from '../contracts';

/** Unit's sentence for an application `type` no loaded plugin provides. */
export function unknownTypeMessage(type: string): string {
  return `The module to run "${type}" is not found among the available application modules.`;
}

/** Unit's sentences for `applications` (the router's objects have theirs in http-router's schemaProblem). */
const applicationSentence: SchemaSentence = (err, segs, name) => {
  const p = err.params;
  const path = err.instancePath || '/';
  // `The "NAME" environment value must be a string.`
  if (err.keyword === 'type' && segs.length === 4 && segs[0] === 'applications' && segs[2] === 'environment') {
    return { message: `The "${name}" environment value must be a string.`, path, code: 'WARDEN_ERR_CONFIG_TYPE' };
  }
  if (err.keyword !== 'discriminator') return undefined;
  const at = path === '/' ? '' : path;
  if (p.error === 'mapping') return { message: unknownTypeMessage(String(p.tagValue)), path: `${at}/type`, code: 'WARDEN_ERR_CONFIG_APP_TYPE' };
  if (p.tagValue === undefined) return { message: 'Required parameter "type" is missing.', path, code: 'WARDEN_ERR_CONFIG_REQUIRED' };
  return { message: `The "type" value must be a string, but not ${describeType(p.tagValue)}.`, path: `${at}/type`, code: 'WARDEN_ERR_CONFIG_TYPE' };
};

/**
 * Turns ajv's errors into one ConfigValidationError: the first meaningful error, as one sentence in Unit's words,
 * with the JSON path of the offending value and a stable code (http-router's schemaProblem, with the sentences
 * Unit has for applications).
 */
export function translateAjvErrors(errors: ErrorObject[]): ConfigValidationError {
  const p = schemaProblem(errors, applicationSentence);
  return new ConfigValidationError(p.message, p.path, p.code);
}
