"""`pilot-desktop status [--json]`: is this data folder's receiver receiving from the platform?

One view of five parts, read without changing anything: the store read-only (never created
or upgraded), the settings and state files read (never written), and one GET /healthz to the
receiver's address with a short timeout (proxies ignored; the hook token is never sent: a
nonce is, which the receiver answers with HMAC(token, nonce), so we know it is ours).

- receiver: the address, running per the heartbeat (services/gaps.situation), storing per
  /healthz (`status` "not storing" and a 503 mean the writer cannot store; `ok` false also
  while this receiver's own deliveries are refused);
- tunnel: the tunnel in effect (services/alerts.effective_tunnel): the row a running
  process's tunnel manager keeps (mode, public URL, process state; `serve --tunnel` overrides
  the settings for one run), else the settings' mode;
- reachability: the newest probe through the public URL and the state the newest probes
  give (core/alerts.probe_state: not_checked, reachable, failing, unreachable);
- drift: the open findings of the webhook audit;
- alerts: the rules the tray uses (services/alerts.alerts_now), from the same records.

Healthy (exit 0) means evidence that webhooks from the platform arrive and are stored: the
store opens, a Pilot Desktop runs, its receiver answers as this profile's and stores, the
newest probe through the public URL is ok (one failure in a row is still healthy, two are
the unreachable alert), a managed tunnel is up, no drift finding is open and no alert is
active. "Not checked" (no public URL, no probe yet, or the last probe is stale) is not
healthy: nothing shows the platform can reach the receiver. Otherwise exit 1; the
`problems` list says why. Exit 2: the command cannot run as given.
"""

from __future__ import annotations

import argparse
import hmac
import secrets
import time
from typing import Any

import httpx

from pilot_desktop.cli.common import EXIT_ERROR, EXIT_OK, EXIT_USAGE, CliError, Ctx, print_json
from pilot_desktop.cli.output import say
from pilot_desktop.core.alerts import Alert, ProbeLike, probe_state
from pilot_desktop.core.format import cli_time, iso
from pilot_desktop.core.urls import PROBE_HEADER, http_base, probe_proof
from pilot_desktop.services.alerts import (
    FAILURES,
    Effective,
    alerts_now,
    effective_tunnel,
    listening,
    probes_now,
)
from pilot_desktop.services.config import STATE, peek_settings, read_json
from pilot_desktop.services.gaps import situation
from pilot_desktop.store.db import StoreError
from pilot_desktop.store.reads import Reads
from pilot_desktop.store.records import Gap
from pilot_desktop.store.watch_records import DriftRow, ProbeRow, TunnelRow

HEALTHZ_TIMEOUT_S = 2.0
PROBES_READ = 50


def add_parsers(sub: Any, common: argparse.ArgumentParser, as_json: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "status",
        parents=[common, as_json],
        help="receiver, tunnel, reachability, drift and alerts in one view; exit 0 only when healthy",
        description="Reads the store and the settings (never writes them) and asks the receiver's "
        "/healthz. Exit 0: running, storing, the newest probe through the public URL reached this "
        "receiver, the managed tunnel is up, no open drift finding and no active alert. Exit 1 "
        "otherwise (the reasons are listed). Times are UTC.",
    )
    p.add_argument("--host", help="the receiver's address if serve was started with --host")
    p.add_argument("--port", type=int, help="the receiver's port if serve was started with --port")
    p.add_argument(
        "--timeout",
        type=float,
        default=HEALTHZ_TIMEOUT_S,
        help=f"seconds to wait for /healthz (default {HEALTHZ_TIMEOUT_S:g})",
    )
    p.set_defaults(handler=status_command)


def _at(name: str, ts: float | None) -> dict[str, Any]:
    """`name` as UTC ISO and `nameEpoch` as unix seconds (both null when unknown)."""
    return {name: iso(ts), f"{name}Epoch": ts}


def _token(ctx: Ctx) -> str | None:
    """The hook token, read (never created) to check the /healthz proof; None when unknown."""
    try:
        raw = read_json(STATE, ctx.paths.state_file)
    except Exception:  # a broken state file: the proof is just not checked
        return None
    token = raw.get("token") if raw else None
    return token if isinstance(token, str) and token else None


def _healthz(address: str, token: str | None, timeout: float) -> dict[str, Any]:
    out: dict[str, Any] = {
        "answering": False,
        "thisProfile": None,
        "storing": None,
        "refusing": None,
        "healthStatus": None,
        "error": None,
    }
    nonce = secrets.token_urlsafe(16)
    try:
        with httpx.Client(timeout=timeout, trust_env=False, follow_redirects=False) as client:
            resp = client.get(f"{address}/healthz", headers={PROBE_HEADER: nonce})
        data = resp.json() if resp.status_code in (200, 503) else None
    except (httpx.HTTPError, OSError, ValueError) as exc:
        out["error"] = f"no answer from {address}/healthz ({type(exc).__name__}: {exc or 'no detail'})"
        return out
    if not isinstance(data, dict) or "status" not in data:
        out["error"] = f"{address}/healthz answered {resp.status_code}, not as a Pilot Desktop receiver"
        return out
    out["answering"] = True
    proof = data.get("proof")
    if token is not None:
        ours = isinstance(proof, str) and hmac.compare_digest(proof, probe_proof(token, nonce))
        out["thisProfile"] = ours
        if not ours:
            out["error"] = f"the receiver at {address} is not this data folder's (another profile's token)"
            return out
    out["healthStatus"] = data.get("status")
    out["storing"] = data.get("status") != "not storing" and resp.status_code == 200
    refused = data.get("refused") if isinstance(data.get("refused"), dict) else {}
    out["refusing"] = bool(refused.get("own_deliveries_5min")) if refused else not data.get("ok", True)
    if not out["storing"]:
        out["error"] = str(data.get("error") or "the store writer is not running")
    return out


def _tunnel_json(eff: Effective, row: TunnelRow | None) -> dict[str, Any]:
    """The tunnel in effect: the recorded row when it is of that mode, else the settings'."""
    if row is None or (not eff.live and row.mode != eff.mode):
        manual = eff.mode == "manual"
        return {
            "recorded": False,
            "mode": eff.mode,
            "publicUrl": eff.public_url if manual else None,
            "state": "off" if manual else None,
            "pid": None,
            **_at("since", None),
            "error": None,
            **_at("updatedAt", None),
        }
    return {
        "recorded": True,
        "mode": row.mode,
        "publicUrl": row.public_url,
        "state": row.state,
        "pid": row.pid,
        **_at("since", row.since),
        "error": row.error,
        **_at("updatedAt", row.at),
    }


def probe_json(p: ProbeRow) -> dict[str, Any]:
    return {
        **_at("at", p.at),
        "ok": p.ok,
        "latencyMs": None if p.latency_ms is None else round(p.latency_ms, 1),
        "diagnosis": p.diagnosis,
        "sentence": p.sentence,
        "publicUrl": p.public_url,
        "status": p.status,
        "trigger": p.trigger,
    }


def _reach_json(
    probes: list[ProbeRow], current: list[ProbeLike], tunnel: Effective, running: bool
) -> dict[str, Any]:
    state = probe_state(current, FAILURES)
    public = tunnel.public_url
    reason = None
    if state.state == "not_checked":
        if public is None and not probes:
            reason = "no public URL: the platform has no address to reach this receiver"
        elif not probes:
            reason = "no probe recorded yet"
        elif not running:
            reason = "no Pilot Desktop runs for this data folder, so nothing probes"
        else:
            reason = (
                f"the newest probe ({cli_time(probes[0].at)} UTC) is too old or through another URL "
                "than the current one: nothing probes now"
            )
    return {
        "state": state.state,
        "publicUrl": public or (current[0].public_url if current else None),
        "failures": state.failures,
        **_at("since", state.since),
        "reason": reason,
        "lastProbe": probe_json(probes[0]) if probes else None,
    }


def drift_json(f: DriftRow) -> dict[str, Any]:
    return {
        "id": f.id,
        "kind": f.kind,
        "webhookId": f.webhook_id,
        "numberId": f.number_id,
        "sentence": f.sentence,
        **_at("foundAt", f.found_at),
    }


def gap_json(g: Gap) -> dict[str, Any]:
    return {"id": g.id, "kind": g.kind, **_at("since", g.started_at), "reason": g.reason}


def alert_json(a: Alert) -> dict[str, Any]:
    return {"kind": a.kind, "subject": a.subject, **_at("since", a.since), "sentence": a.sentence}


def gather(ctx: Ctx, now: float) -> dict[str, Any]:
    """The whole status document (the --json output)."""
    settings = peek_settings(ctx.paths)
    host = ctx.args.host or settings.receiver.host
    port = settings.receiver.port if ctx.args.port is None else ctx.args.port
    address = http_base(host, port)
    store: dict[str, Any] = {"path": str(ctx.paths.data_dir), "ok": False, "error": None}
    beat, tunnel, probes, findings, cadences, open_gaps = None, None, [], [], [], []
    since, gap_open = None, False
    try:
        reads = Reads.open(ctx.paths.data_dir)
        try:
            beat, tunnel = reads.heartbeat(), reads.tunnel()
            probes, findings = reads.probes(PROBES_READ), reads.drift(open_only=True)
            cadences = reads.cadences(now)
            since, gap_open = listening(reads, beat)
            open_gaps = [g for g in reads.gaps(now) if g.ended_at is None]
        finally:
            reads.close()
        store["ok"] = True
    except StoreError as exc:
        store["error"] = str(exc)
    running = situation(beat, now) if store["ok"] else None
    receiving = bool(running and running.receiving)
    health = _healthz(address, _token(ctx), ctx.args.timeout)
    eff = effective_tunnel(settings, tunnel, receiving)  # serve --tunnel overrides the settings
    # Probes tell about a running receiver: after a stop, the last ones say nothing of now.
    current = probes_now(settings, probes, eff, now) if receiving else []
    storing = health["storing"]
    alerts = alerts_now(
        settings,
        probes=current,
        storing=(storing is not False, health["error"] if storing is False else None),
        storing_since=now,
        cadences=cadences,
        now=now,
        listening_since=since,
        gap_open=gap_open,
    )
    doc: dict[str, Any] = {
        "healthy": False,
        "problems": [],
        **_at("checkedAt", now),
        "store": store,
        "receiver": {
            "address": address,
            "running": running.receiving if running else None,
            "runningSentence": running.sentence if running else None,
            "pid": beat.pid if beat else None,
            **_at("lastHeartbeatAt", beat.alive_at if beat else None),
            **health,
        },
        "tunnel": _tunnel_json(eff, tunnel),
        "reachability": _reach_json(probes, current, eff, receiving),
        # A run that ended left its gaps to the next start: only a running one's count now.
        "gaps": {"open": [gap_json(g) for g in open_gaps] if receiving else []},
        "drift": {"open": len(findings), "findings": [drift_json(f) for f in findings]},
        "alerts": [alert_json(a) for a in alerts],
    }
    doc["problems"] = problems(doc)
    doc["healthy"] = not doc["problems"]
    return doc


def problems(doc: dict[str, Any]) -> list[str]:
    """Why the status is not healthy, one sentence each (empty: healthy)."""
    out = []
    store, rec, tun, reach = doc["store"], doc["receiver"], doc["tunnel"], doc["reachability"]
    if not store["ok"]:
        out.append(f"The store cannot be read: {store['error']}")
    elif rec["running"] is not True:
        out.append(rec["runningSentence"])
    if not rec["answering"] or rec["thisProfile"] is False:
        hint = "" if rec["running"] is False else " (serve started with --host/--port: give the same here)"
        out.append(f"No receiver of this data folder answers at {rec['address']}: {rec['error']}{hint}.")
    elif rec["storing"] is not True:
        out.append(f"The receiver at {rec['address']} does not store webhooks: {rec['error']}.")
    elif rec["refusing"]:
        out.append("The receiver refuses this app's own deliveries (`pilot-desktop refusals`).")
    if tun["mode"] != "manual" and tun["state"] != "up":
        out.append(f"The {tun['mode']} tunnel is {tun['state'] or 'not started'}{_why(tun['error'])}.")
    for gap in doc["gaps"]["open"]:
        out.append(f"Not receiving since {_when(gap['since'])} ({gap['kind']}): {gap['reason']}")
    if reach["state"] == "not_checked":
        out.append(f"Reachability not checked: {reach['reason']}.")
    elif reach["state"] == "unreachable":
        out.append(f"Unreachable through {reach['publicUrl']}: {reach['failures']} probes in a row failed.")
    if doc["drift"]["open"]:
        out.append(f"{doc['drift']['open']} webhook drift finding(s) open (`pilot-desktop webhooks drift`).")
    out += [a["sentence"] for a in doc["alerts"] if a["kind"] == "silence"]
    return out


def _why(error: str | None) -> str:
    return f": {error.rstrip('.')}" if error else ""


def _when(iso_text: str | None) -> str:
    return f"{iso_text[:19].replace('T', ' ')} UTC" if iso_text else "-"


def show(doc: dict[str, Any]) -> None:
    """The human view: a short block per part, plain sentences, each fitted to the terminal."""
    rec, tun, reach = doc["receiver"], doc["tunnel"], doc["reachability"]
    say(f"Receiver: {rec['address']}")
    if not doc["store"]["ok"]:
        say(f"  Store: {doc['store']['error']}")
    else:
        say(f"  {rec['runningSentence']}")
    if rec["storing"] is True:
        refusing = " but refuses this app's own deliveries" if rec["refusing"] else ""
        say(f"  Storing webhooks{refusing} (/healthz: {rec['healthStatus']}).")
    elif rec["storing"] is False:
        say(f"  Not storing webhooks: {rec['error']}.")
    else:
        say(f"  Storing unknown: {rec['error']}.")
    url = tun["publicUrl"] or "no public URL"
    say(f"Tunnel: {tun['mode']}, {url}")
    if tun["recorded"]:
        pid = f", pid {tun['pid']}" if tun["pid"] else ""
        say(f"  State {tun['state']}{pid} since {_when(tun['since'])}{_why(tun['error'])}.")
    last = reach["lastProbe"]
    words = {"reachable": "Reachable", "failing": "Probe failed once", "unreachable": "Unreachable"}
    say(f"Reachability: {words.get(reach['state'], 'Not checked')}")
    if reach["reason"]:
        say(f"  {reach['reason'][0].upper()}{reach['reason'][1:]}.")
    if last is not None:
        took = f" in {last['latencyMs']:g} ms" if last["latencyMs"] is not None else ""
        outcome = "ok" if last["ok"] else f"failed ({last['diagnosis']})"
        say(f"  Last probe {_when(last['at'])} through {last['publicUrl']}: {outcome}{took}.")
        if not last["ok"]:
            say(f"  {last['sentence']}")
    findings = doc["drift"]["findings"]
    for gap in doc["gaps"]["open"]:
        say(f"Not receiving since {_when(gap['since'])} ({gap['kind']}): {gap['reason']}")
    say(f"Drift: {len(findings)} open finding(s)" if findings else "Drift: no open finding")
    for f in findings:
        say(f"  {f['kind']} ({_when(f['foundAt'])}): {f['sentence']}")
    say("Alerts:" if doc["alerts"] else "Alerts: none")
    for a in doc["alerts"]:
        say(f"  {a['kind']}{' ' + a['subject'] if a['subject'] else ''}: {a['sentence']}")
    if doc["healthy"]:
        say("Healthy.")
        return
    say("Not healthy:")
    for problem in doc["problems"]:
        say(f"  - {problem}")


def status_command(ctx: Ctx) -> int:
    if ctx.args.port is not None and not 0 < ctx.args.port <= 65535:
        raise CliError(f"--port must be 1-65535, got {ctx.args.port}", EXIT_USAGE)
    if not 0 < ctx.args.timeout <= 60:
        raise CliError(
            f"--timeout must be more than 0 and at most 60 seconds, got {ctx.args.timeout}", EXIT_USAGE
        )
    doc = gather(ctx, time.time())
    if ctx.as_json:
        print_json(doc)
    else:
        show(doc)
    return EXIT_OK if doc["healthy"] else EXIT_ERROR
