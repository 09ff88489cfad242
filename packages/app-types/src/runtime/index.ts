export { ChannelBinding, parseListenArgs } from './channel-server';
export type { ChannelBindingOptions, ListenRequest } from './channel-server';
export { createExchange } from './channel-exchange';
export type { ChannelExchange, ExchangeOptions } from './channel-exchange';
export type { ChannelEndpoint, ChannelRequest } from './channel-types';
export { PRELOAD_PATH, HTTP_MODULE_PATH } from './paths';
export { underWarden } from './process-binding';
