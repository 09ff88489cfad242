/**
 * Errors with a stable code (as fastify's FST_ERR_* and undici's UND_ERR_*). `message` is a sentence a user can act
 * on; `path` names the JSON path in the config when the error is about one.
 */
export class WardenError extends Error {
  constructor(
    /** Stable code, `WARDEN_ERR_<AREA>_<WHAT>`. */
    readonly code: string,
    message: string,
    /** JSON path of the offending value, e.g. `/applications/go/isolation/uidmap/0`. */
    readonly path?: string,
  ) {
    super(message);
    this.name = 'WardenError';
  }
}

/**
 * A config that is well-formed JSON but not acceptable. Becomes 400 `Invalid configuration.` with `message` as the
 * detail (Unit's wording where Unit has one, e.g. `Required parameter "executable" is missing.`).
 */
export class ConfigValidationError extends WardenError {
  constructor(message: string, path?: string, code = 'WARDEN_ERR_CONFIG_INVALID') {
    super(code, message, path);
    this.name = 'ConfigValidationError';
  }
}

/**
 * Applying a valid config failed at run time (port in use, app does not start, kernel refused a map). Becomes 500
 * `Failed to apply new configuration.` with a detail naming the app and the failing step.
 */
export class ApplyError extends WardenError {
  constructor(
    message: string,
    readonly app?: string,
    readonly step?: string,
    readonly errno?: number,
    code = 'WARDEN_ERR_APPLY',
  ) {
    super(code, message);
    this.name = 'ApplyError';
  }
}
