import type { Action, CompiledConfig, Pass, PassTarget } from './compiled-config';
import type { RouterLogger } from './ports';
import type { RequestContext } from './request-context';

/**
 * Unit runs at most 256 actions for one request (nxt_http_request_action, its 8-bit `pass_count`): the listener's
 * `pass` is the first, every route a `pass` leads to one more, the final app, upstream, return, share or proxy
 * (and a share's fallback) one each. Past it, or in a loop, the request is answered 500.
 */
export const MAX_ACTIONS = 256;

/**
 * Unit's level for a `log_route` line it writes at notice (the request line, a step selected, a rewrite, a share's
 * fallback taken); `discarded` is info. Logged at info with this field, which `--log-format unit` writes as `[notice]`.
 */
export const NOTICE = Object.freeze({ unitLevel: 'notice' });

/** Resolution stopped: the caller cannot take the request as it is (the lean path leaves it to node:http). */
export const DEFER = -1;

/** Where a request ends up: an app or upstream, the action to run (return, share, proxy), or a status to answer. */
export type RouteResult = Extract<PassTarget, { kind: 'app' | 'upstream' }> | Action | number;

/** How one path walks routes; one object per router or matcher (nothing is allocated per request). */
export interface RouteWalk {
  /** Where `log_route` lines go when the config asks for them; null: never logged. */
  readonly log: RouterLogger | null;
  /** The last action has `response_headers`: apply them (node:http), or return false to stop with DEFER. */
  responseHeaders(ctx: RequestContext, action: Action): boolean;
}

/**
 * Follows `start` (a listener's `pass`, or an action: a share's fallback) through routes as Unit does, applying each
 * taken action's `rewrite`, and the `response_headers` of the last one only (Unit's `r->action`: a step that passes to
 * another route gives way to that route's step), counting actions in `ctx.actions` against MAX_ACTIONS. The only
 * route loop of the package: node:http's path, the lean path and RouteMatcher all resolve through it. `ctx` must be
 * parsed. Variables only a response has throw while routing without one (`ctx.res` null).
 */
export function resolveRoute(ctx: RequestContext, start: Pass | Action, cfg: CompiledConfig, walk: RouteWalk): RouteResult {
  let action: Action | null = isAction(start) ? start : null;
  let pass: Pass | null = action === null ? (start as Pass) : null;
  const log = walk.log !== null && cfg.settings.logRoute ? walk.log : null;
  if (log !== null && action === null) log.info(NOTICE, `http request line "${ctx.method} ${ctx.originalTarget} HTTP/${ctx.req.httpVersion}"`);
  for (;;) {
    if (action !== null) {
      if (action.rewrite !== null) {
        // A value that does not parse is Unit's 500 (nxt_http_request_action); any other value is a target.
        if (!ctx.rewrite(action.rewrite(ctx))) return 500;
        if (log !== null) log.info({ uri: ctx.path, ...NOTICE }, `URI rewritten to "${ctx.path}"`);
      }
      if (action.kind !== 'pass') {
        if (action.responseHeaders !== null && !walk.responseHeaders(ctx, action)) return DEFER;
        return ++ctx.actions > MAX_ACTIONS ? tooMany(walk, action.json) : action;
      }
      pass = action.pass!;
    }
    if (++ctx.actions > MAX_ACTIONS) return tooMany(walk, pass!.text);
    const target = pass!.target ?? cfg.resolvePass(pass!.dynamic!(ctx));
    if (target === null) return 404;
    if (target.kind !== 'route') {
      // The step whose `pass` leads to an app or upstream is the request's last action: its `response_headers` hold.
      if (action !== null && action.responseHeaders !== null && !walk.responseHeaders(ctx, action)) return DEFER;
      return target;
    }
    action = matchStep(ctx, target.name, target.steps, cfg, walk);
    if (action === null) return 404;
  }
}

function isAction(x: Pass | Action): x is Action {
  return (x as Action).kind !== undefined;
}

function tooMany(walk: RouteWalk, what: unknown): number {
  walk.log?.warn({ pass: what }, 'too many nested passes');
  return 500;
}

/** The action of the first step of route `name` that `ctx` matches (recorded in ctx.route/step/action), or null. */
function matchStep(
  ctx: RequestContext,
  name: string,
  steps: Extract<PassTarget, { kind: 'route' }>['steps'],
  cfg: CompiledConfig,
  walk: RouteWalk,
): Action | null {
  const uri = ctx.path;
  const log = walk.log !== null && cfg.settings.logRoute ? walk.log : null;
  for (let i = 0; i < steps.length; i++) {
    const step = steps[i];
    const hit = (step.uriPrefix === null || uri.startsWith(step.uriPrefix)) && (step.test === null || step.test(ctx));
    // Unit's log_route lines (nxt_http_route_handler): every step tried, then the one taken.
    if (log !== null) {
      const label = `"${routeLabel(name)}/${i}"`;
      if (hit) log.info({ route: routeLabel(name), step: i, ...NOTICE }, `${label} selected`);
      else log.info({ route: routeLabel(name), step: i }, `${label} discarded`);
    }
    if (hit) {
      ctx.route = name;
      ctx.step = i;
      ctx.action = step.action;
      return step.action;
    }
  }
  return null;
}

function routeLabel(name: string): string {
  return name === '' ? 'routes' : `routes/${name}`;
}
