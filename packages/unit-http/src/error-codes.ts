/** Every stable error code @warden/unit-http raises (in the app process), with its meaning. */
export const ERROR_CODES = {
  WARDEN_ERR_UNIT_WEBSOCKET: "Unit's `unit-http/websocket` module is not provided by Warden.",
} as const;
