/** Every stable error code @warden/app-types raises (in the app process), with its meaning. */
export const ERROR_CODES = {
  WARDEN_ERR_NODE_CHANNEL: 'The Node app cannot open the channel that WARDEN_CHANNEL describes.',
  WARDEN_ERR_NODE_CHANNEL_CLOSED: "The app's channel is closed: a server cannot listen on it again.",
} as const;
