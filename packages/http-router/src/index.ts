export { HttpRouter, type HttpRouterOptions, type PreparedRouterChange, type RouterStats } from './http-router';
export { RouterConfigError, ROUTER_CONFIG_ERROR } from './internal/errors';
export type { ApplicationGateway, LeanExchange, LeanHandler, RequestInfo, RequestObserver, RouterLogger } from './internal/ports';
export { passSegments, type RouterConfig } from './internal/config-compiler';
export type { TlsCertificate } from './internal/tls-config';
export type { FileIdentity } from './internal/share-path';
export { RouteMatcher, type MatchRequest, type RouteMatch } from './route-matcher';
export { subjectAltDnsNames } from './internal/tls-names';
