export {
  HttpRouter,
  type CompletedRequest,
  type HttpRouterOptions,
  type PreparedRouterChange,
  type RequestDoneHook,
  type RouterStats,
} from './http-router';
export { RouterConfigError, ROUTER_CONFIG_ERROR } from './internal/errors';
export { NodeExchange } from './internal/node-exchange';
export type { ApplicationGateway, LeanExchange, LeanHandler, RequestInfo, RouterLogger } from './internal/ports';
export { passSegments, type RouterConfig } from './internal/config-compiler';
export type { TlsCertificate } from './internal/tls-config';
export type { FileIdentity } from './internal/share-path';
export { RouteMatcher, type MatchRequest, type RouteMatch } from './route-matcher';
export { subjectAltDnsNames } from './internal/tls-names';
