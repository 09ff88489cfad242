/** Every stable error code @warden/http-router raises, with its meaning. */
export const ERROR_CODES = {
  WARDEN_ERR_ROUTER_CONFIG: 'A config the router cannot run (the path and Unit\'s sentence say why).',
} as const;
