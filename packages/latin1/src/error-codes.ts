/**
 * Every stable error code @warden/latin1 raises: none. Its functions throw only what Node's own Buffer methods throw
 * (a `RangeError` for an offset outside the buffer).
 */
export const ERROR_CODES = {} as const;
