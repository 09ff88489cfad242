/**
 * wardend's status page (`GET /ui` on the control socket and on `settings.metrics.listen`): one self-contained HTML
 * document (inline style and script, no external assets) that polls `/ui/overview.json` every 2 s and shows the
 * listeners, the applications and their processes with their isolation (as configured, and as read back from each
 * process's /proc entry), and request rates and errors computed from
 * the difference between two polls.
 */
export const STATUS_PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Warden status</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #1d2330; background: #f6f7f9; }
  h1 { font-size: 20px; margin: 0 0 .2em; } h2 { font-size: 16px; margin: 1.4em 0 .4em; }
  .meta { color: #5b6475; } .err { color: #b3261e; font-weight: 600; }
  table { border-collapse: collapse; background: #fff; box-shadow: 0 1px 2px #0002; min-width: 60%; }
  th, td { text-align: left; padding: .35em .8em; border-bottom: 1px solid #e3e6eb; vertical-align: top; }
  th { background: #eceff3; font-weight: 600; }
  td.num { text-align: right; font-variant-numeric: tabular-nums; }
  .pill { display: inline-block; padding: 0 .5em; border-radius: 1em; background: #e3e6eb; margin: 0 .2em .2em 0; font-size: 12px; }
  .idle { background: #d7f0dd; } .busy { background: #fde9b8; } .stalled, .draining { background: #f7d4d1; } .starting { background: #dbe6fb; }
  code { font-size: 12px; }
</style>
</head>
<body>
<h1>Warden</h1>
<div class="meta" id="meta">loading…</div>
<h2>Listeners</h2>
<table id="listeners"><thead><tr><th>listener</th><th>pass</th><th>req/s</th><th>errors/s (4xx+5xx)</th><th>total</th><th>mean latency</th></tr></thead><tbody></tbody></table>
<h2>Applications</h2>
<table id="applications"><thead><tr><th>application</th><th>processes</th><th>isolation</th><th>req/s</th><th>errors/s</th><th>total</th><th>restarts</th></tr></thead><tbody></tbody></table>
<script>
"use strict";
let previous = null;
const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);
const rate = (now, before, dt) => (before === undefined || dt <= 0 ? 0 : Math.max(0, (now - before) / dt));
const errors = (r) => r.codes["4xx"] + r.codes["5xx"];
const fmt = (n) => (n >= 100 ? n.toFixed(0) : n.toFixed(1));
const ms = (r) => (r.total > 0 ? (1000 * r.latencySum / r.total).toFixed(2) + " ms" : "–");
function map(entry) {
  return entry.map((m) => m.host + "→" + m.container + (m.size > 1 ? " (" + m.size + ")" : "")).join(", ");
}
function isolation(i) {
  if (!i) return "none";
  const parts = ["namespaces: " + esc(i.namespaces.length ? i.namespaces.join(", ") : "none")];
  if (i.uidmap.length) parts.push("uidmap: " + esc(map(i.uidmap)));
  if (i.gidmap.length) parts.push("gidmap: " + esc(map(i.gidmap)));
  if (i.cgroup) parts.push("cgroup: <code>" + esc(JSON.stringify(i.cgroup)) + "</code>");
  if (i.rootfs) parts.push("rootfs: " + esc(i.rootfs));
  return parts.join("<br>");
}
function observed(p) {
  const o = p.observed;
  if (!o) return "pid " + p.pid + ": not readable";
  const parts = ["namespaces: " + esc(o.namespaces.length ? o.namespaces.join(", ") : "none")];
  if (o.namespaces.includes("credential")) parts.push("uidmap: " + esc(map(o.uidmap)), "gidmap: " + esc(map(o.gidmap)));
  if (o.cgroup) parts.push("cgroup: <code>" + esc(o.cgroup) + "</code>");
  const limits = Object.keys(o.limits).filter((k) => o.limits[k] !== "max" && o.limits[k] !== "max 100000");
  if (limits.length) parts.push(esc(limits.map((k) => k + "=" + o.limits[k]).join(" ")));
  return "<span data-observed=\\"" + p.pid + "\\">pid " + p.pid + " runs in: " + parts.join("; ") + "</span>";
}
function render(o) {
  const dt = previous ? (o.time - previous.time) / 1000 : 0;
  const before = (list, name) => (previous ? previous[list].find((x) => x.name === name) : undefined);
  document.getElementById("meta").textContent =
    "wardend pid " + o.pid + " · up " + o.uptime + " s · connections: " + o.connections.active + " active, " + o.connections.idle + " idle, " + o.connections.accepted + " accepted · " + new Date(o.time).toLocaleTimeString();
  document.querySelector("#listeners tbody").innerHTML = o.listeners.map((l) => {
    const b = before("listeners", l.name);
    return "<tr data-listener=\\"" + esc(l.name) + "\\"><td>" + esc(l.name) + (l.tls ? " (tls)" : "") + "</td><td>" + esc(l.pass) +
      "</td><td class=num>" + fmt(rate(l.requests.total, b && b.requests.total, dt)) +
      "</td><td class=num>" + fmt(rate(errors(l.requests), b && errors(b.requests), dt)) +
      "</td><td class=num>" + l.requests.total + "</td><td class=num>" + ms(l.requests) + "</td></tr>";
  }).join("");
  document.querySelector("#applications tbody").innerHTML = o.applications.map((a) => {
    const b = before("applications", a.name);
    const procs = a.processes.map((p) => "<span class=\\"pill " + esc(p.state) + "\\" data-pid=\\"" + p.pid + "\\">pid " + p.pid + " " + esc(p.state) + (p.inflight ? " (" + p.inflight + ")" : "") + "</span>").join("") || "none";
    const proto = a.prototypePid ? "<br><span class=meta>prototype pid " + a.prototypePid + "</span>" : "";
    const r = a.restarts;
    return "<tr data-app=\\"" + esc(a.name) + "\\"><td>" + esc(a.name) + "<br><span class=meta>" + esc(a.type) + "</span></td><td>" + procs + proto +
      "</td><td>" + isolation(a.isolation) + a.processes.map((p) => "<br><span class=meta>" + observed(p) + "</span>").join("") + "</td><td class=num>" + fmt(rate(a.requests.total, b && b.requests.total, dt)) +
      "</td><td class=num>" + fmt(rate(errors(a.requests), b && errors(b.requests), dt)) + "</td><td class=num>" + a.requests.total +
      "</td><td class=num>" + (r.crash + r.stall + r.restart) + "</td></tr>";
  }).join("");
  previous = o;
}
async function poll() {
  try {
    const res = await fetch("ui/overview.json", { cache: "no-store" });
    render(await res.json());
    document.body.dataset.loaded = "1";
  } catch (e) {
    document.getElementById("meta").innerHTML = "<span class=err>wardend does not answer: " + esc(e.message) + "</span>";
  }
  setTimeout(poll, 2000);
}
poll();
</script>
</body>
</html>
`;
