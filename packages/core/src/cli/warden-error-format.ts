import type { WardenControlResponse } from './warden-control-client';

/** A document the user wrote (a file, stdin or the edited temp file), to point at a JSON error inside it. */
export interface WardenSource {
  /** Shown as the location: the file path, or `<stdin>`. */
  name: string;
  text: string;
}

/** Where a JSON document is broken, as the control API and the local parser report it. */
export interface WardenTextLocation {
  line: number;
  column: number;
}

/**
 * Turns a control-API error answer into lines for stderr:
 * `warden: Invalid configuration: Required parameter "executable" is missing.` followed by the JSON path or
 * application and the stable code (`  at /applications/a (WARDEN_ERR_CONFIG_REQUIRED)`), or for `Invalid JSON.`
 * the file, line and column with the offending line and a caret.
 */
export function formatErrorResponse(res: WardenControlResponse, request: { method: string; url: string }, source?: WardenSource): string {
  const body = res.json as { error?: unknown; detail?: unknown; location?: { line?: unknown; column?: unknown } } | undefined;
  if (!body || typeof body !== 'object' || typeof body.error !== 'string') {
    const excerpt = res.text.trim().slice(0, 300);
    return `warden: unexpected answer from wardend to ${request.method} ${request.url} (HTTP ${res.status})${excerpt ? `: ${excerpt}` : ''}\n`;
  }
  const title = body.error.replace(/\.$/, '');
  const lines: string[] = [];
  if (typeof body.detail === 'string' && body.detail !== '') {
    const d = splitDetail(body.detail);
    lines.push(`warden: ${title}: ${d.message}`);
    if (d.where && d.code) lines.push(`  ${d.where} (${d.code})`);
    else if (d.code) lines.push(`  (${d.code})`);
  } else {
    lines.push(`warden: ${title}: ${request.method} ${request.url}`);
  }
  const loc = body.location;
  if (loc && typeof loc.line === 'number' && typeof loc.column === 'number') {
    lines.push(...locationLines({ line: loc.line, column: loc.column }, source));
  }
  return lines.join('\n') + '\n';
}

/**
 * Splits wardend's detail `CODE at /json/path: message` or `CODE in application "a", step "exec": message` into
 * its parts; a detail without a code is all message.
 */
export function splitDetail(detail: string): { code?: string; where?: string; message: string } {
  const m = /^(WARDEN_ERR_[A-Z0-9_]+)(?: ((?:at|in) .*?))?: ([\s\S]*)$/.exec(detail);
  if (!m) return { message: detail };
  return { code: m[1], where: m[2], message: m[3] };
}

/** `  at FILE, line L, column C:` then the line itself and a caret under the column. */
export function locationLines(loc: WardenTextLocation, source?: WardenSource): string[] {
  if (!source) return [`  at line ${loc.line}, column ${loc.column}`];
  const out = [`  at ${source.name}, line ${loc.line}, column ${loc.column}:`];
  const lineText = source.text.split('\n')[loc.line - 1];
  if (lineText !== undefined) {
    let shown = lineText.replace(/\r$/, '');
    let column = loc.column;
    if (loc.line === 1 && shown.startsWith('\uFEFF')) {
      // The parser counts a leading byte order mark as a character; it is invisible, so drop it from both.
      shown = shown.slice(1);
      column--;
    }
    if (shown.length <= 300) {
      // Keep tabs in the caret line so that it lines up under tab-indented text.
      const prefix = Array.from(shown)
        .slice(0, column - 1)
        .map((ch) => (ch === '\t' ? '\t' : ' '))
        .join('');
      out.push(`    ${shown}`, `    ${prefix}^`);
    }
  }
  return out;
}
