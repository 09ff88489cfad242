/** Stable code of every semantic config error raised by the router compiler. */
export const ROUTER_CONFIG_ERROR = 'WARDEN_ERR_ROUTER_CONFIG';

/**
 * A config the router cannot run: the message is Unit's wording where Unit has one, `path` is the JSON pointer of
 * the offending value (e.g. `/routes/0/match/uri`).
 */
export class RouterConfigError extends Error {
  /** Stable machine-readable code (`WARDEN_ERR_ROUTER_CONFIG`). */
  readonly code: string;
  /** JSON pointer of the offending value inside the config. */
  readonly path: string;

  constructor(message: string, path: string, code: string = ROUTER_CONFIG_ERROR) {
    super(message);
    this.name = 'RouterConfigError';
    this.code = code;
    this.path = path;
  }
}

/** Appends one key or index to a JSON pointer, escaping `~` and `/` as RFC 6901 requires. */
export function jp(base: string, key: string | number): string {
  return `${base}/${String(key).replace(/~/g, '~0').replace(/\//g, '~1')}`;
}
