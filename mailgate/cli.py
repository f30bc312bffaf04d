"""The ``mailgate`` command (SPEC §4): lint, format, checks, serve."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from mailgate.errors import ConfigError
from mailgate.policy import Policy, load_policy

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE = 0, 1, 2


def _policy(args: argparse.Namespace) -> Policy:
    path = Path(args.config) if args.config else None
    if path is None and Path("mailgate.toml").is_file():
        path = Path("mailgate.toml")
    policy = load_policy(path)
    if getattr(args, "locale", None):
        from dataclasses import replace

        policy = replace(policy, locale=args.locale)
    return policy


def _inputs(paths: list[str]) -> Iterator[tuple[str, bytes | None]]:
    """Each path with its bytes, or None (reported on stderr) when it cannot be read."""
    for path in paths:
        try:
            yield path, (sys.stdin.buffer.read() if path == "-" else Path(path).read_bytes())
        except OSError as exc:
            print(f"mailgate: {path}: {exc.strerror or exc}", file=sys.stderr)
            yield path, None


def cmd_lint(args: argparse.Namespace) -> int:
    from mailgate.lint import lint_bytes
    from mailgate.report import report_to_json, report_to_text

    policy = _policy(args)
    status = EXIT_OK
    reports: list[dict[str, Any]] = []
    color = args.color == "always" or (args.color == "auto" and sys.stdout.isatty() and not os.environ.get("NO_COLOR"))
    for path, raw in _inputs(args.paths):
        if raw is None:
            status = EXIT_USAGE
            continue
        report = lint_bytes(raw, policy)
        if report.crashed:
            print(f"mailgate: {path}: internal error in {', '.join(report.crashed)} (logged)", file=sys.stderr)
        if (report.verdict in {"fail", "error"} or report.crashed) and status == EXIT_OK:
            status = EXIT_FINDINGS
        if args.format == "json":
            reports.append(report_to_json(report, path, policy.locale))
        else:
            print(report_to_text(report, path, policy.locale, color=color))
    if args.format == "json":
        json.dump(reports, sys.stdout, ensure_ascii=False, indent=1)
        sys.stdout.write("\n")
    return status


def cmd_format(args: argparse.Namespace) -> int:
    from mailgate.fmt import format_bytes

    policy = _policy(args)
    status = EXIT_OK
    for path, raw in _inputs(args.paths):
        if raw is None:
            status = EXIT_USAGE
            continue
        result = format_bytes(raw, policy)
        if result.error:
            print(f"mailgate: {path}: {result.error}", file=sys.stderr)
            status = max(status, EXIT_FINDINGS)
            if not args.write:
                sys.stdout.buffer.write(raw)
            continue
        if args.write:
            if result.changed:
                Path(path).write_bytes(result.data)
                print(f"{path}: {len(result.applied)} fix(es) applied", file=sys.stderr)
        else:
            sys.stdout.buffer.write(result.data)
    return status


def cmd_checks(args: argparse.Namespace) -> int:
    from mailgate.explain import explain, list_checks

    policy = _policy(args)
    if args.explain:
        if args.explain not in policy.registry:
            print(f"mailgate: unknown check id {args.explain!r}", file=sys.stderr)
            return EXIT_USAGE
        print(explain(policy, args.explain, policy.locale))
    else:
        print(list_checks(policy, policy.locale))
    return EXIT_OK


def _config_path(args: argparse.Namespace) -> str | None:
    if args.config:
        return str(Path(args.config).resolve())
    return str(Path("mailgate.toml").resolve()) if Path("mailgate.toml").is_file() else None


def cmd_serve(args: argparse.Namespace) -> int:
    from mailgate.relay import relay_settings
    from mailgate.serve import run_relay, supervise

    policy = _policy(args)
    settings = relay_settings(policy, config_path=_config_path(args))
    from mailgate.logjson import configure

    configure(args.log_format)
    os.environ["MAILGATE_LOG_FORMAT"] = args.log_format  # for the relay processes of `processes > 1`
    if args.relay_only and args.api_only:
        print("mailgate: --relay-only and --api-only exclude each other", file=sys.stderr)
        return EXIT_USAGE
    if settings.process_count > 1 and not args.api_only:
        return supervise(settings, getattr(args, "locale", None), api=not args.relay_only)
    try:
        run_relay(policy, settings, api=not args.relay_only, relay_enabled=not args.api_only)
    except OSError as exc:
        print(f"mailgate: cannot listen on {settings.host}:{settings.port}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_USAGE
    return EXIT_OK


def cmd_outbox(args: argparse.Namespace) -> int:
    from mailgate.relay import open_store
    from mailgate.report import subject_of

    store = open_store(_policy(args))
    if args.show:
        entry = store.get_outbox(args.show)
        if entry is None:
            print(f"mailgate: no outbox message {args.show!r}", file=sys.stderr)
            return EXIT_FINDINGS
        sys.stdout.buffer.write(entry.data)
        return EXIT_OK
    for e in store.outbox(limit=args.limit):
        when = e.at.strftime("%Y-%m-%d %H:%M:%S")
        print(f"{e.id}  {when}  {e.kind:6}  {e.mail_from or '<>'} -> {', '.join(e.rcpt_to)}  "
              f"{len(e.data)} B  {subject_of(e.data)}")  # fmt: skip
    return EXIT_OK


def cmd_token(args: argparse.Namespace) -> int:
    from mailgate.api.tokens import create_token
    from mailgate.relay import open_store

    store = open_store(_policy(args))
    try:
        if args.action == "create":
            if args.expires_days is not None and args.expires_days <= 0:
                print("mailgate: --expires-days must be positive", file=sys.stderr)
                return EXIT_USAGE
            row, secret = create_token(store, args.role, args.name, args.expires_days)
            print(secret)
            print(f"mailgate: {row.role} token {row.id} created; the secret above is shown once", file=sys.stderr)
            return EXIT_OK
        if args.action == "list":
            for t in store.tokens():
                state = "revoked" if t.revoked_at else "active"
                expires = t.expires_at.isoformat(timespec="minutes") if t.expires_at else "never"
                print(f"{t.id}  {t.role:6}  {state:7}  expires {expires}  {t.name}")
            return EXIT_OK
        if not args.id:
            print("mailgate: token revoke needs the token id", file=sys.stderr)
            return EXIT_USAGE
        if not store.revoke_token(args.id):
            print(f"mailgate: no active token {args.id}", file=sys.stderr)
            return EXIT_USAGE
        print(f"mailgate: token {args.id} revoked", file=sys.stderr)
        return EXIT_OK
    finally:
        store.close()


def cmd_quarantine(args: argparse.Namespace) -> int:
    import asyncio
    import getpass

    from mailgate.relay import delivery_for, notify_decision, open_store, relay_settings
    from mailgate.relay.upstream import deliver_once
    from mailgate.report import subject_of

    policy = _policy(args)
    store = open_store(policy)
    if args.action == "list":
        for e in store.quarantine(status=None if args.all else "held", limit=args.limit):
            when = e.at.strftime("%Y-%m-%d %H:%M:%S")
            print(f"{e.id}  {when}  {e.status:9}  {e.verdict:5}  {e.mail_from or '<>'} -> {', '.join(e.rcpt_to)}  "
                  f"[{', '.join(e.findings)}]  {subject_of(e.data)}")  # fmt: skip
        return EXIT_OK
    if not args.id:
        print(f"mailgate: quarantine {args.action} needs an ID", file=sys.stderr)
        return EXIT_USAGE
    entry = store.get_quarantine(args.id)
    if entry is None:
        print(f"mailgate: no quarantined message {args.id!r}", file=sys.stderr)
        return EXIT_FINDINGS
    if args.action == "show":
        sys.stdout.buffer.write(entry.data)
        return EXIT_OK
    if entry.status != "held":
        print(f"mailgate: {entry.id} is already {entry.status}", file=sys.stderr)
        return EXIT_FINDINGS
    who = getpass.getuser()
    if args.action == "release":
        delivery = delivery_for(relay_settings(policy), store, pooled=False)
        reply, refused = asyncio.run(
            deliver_once(delivery, entry.mail_from, entry.rcpt_to, entry.data, entry.mail_options)
        )
        if not reply.ok:
            print(f"mailgate: release failed, still held: {reply.code} {reply.text}", file=sys.stderr)
            return EXIT_FINDINGS
        for rcpt, r in refused.items():
            print(f"mailgate: {rcpt} refused by the next hop: {r.code} {r.text}", file=sys.stderr)
    store.settle_quarantine(entry.id, "released" if args.action == "release" else "discarded", who)
    print(f"{entry.id}: {'released' if args.action == 'release' else 'discarded'}")
    settled = store.get_quarantine(entry.id)
    if settled is not None and asyncio.run(notify_decision(policy, relay_settings(policy), store, settled)):
        print(f"{entry.id}: {settled.mail_from} notified")
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mailgate", description="邮件规范网关 / mail-policy gateway")
    parser.add_argument("--locale", choices=["zh-CN", "en"], help="language of messages (default zh-CN)")
    sub = parser.add_subparsers(dest="command", required=True)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--config", help="mailgate.toml (default: ./mailgate.toml if present)")
        p.add_argument("--locale", choices=["zh-CN", "en"], default=argparse.SUPPRESS)

    p = sub.add_parser("lint", help="lint .eml files")
    common(p)
    p.add_argument("--format", choices=["text", "json"], default="text")
    p.add_argument("--color", choices=["auto", "always", "never"], default="auto")
    p.add_argument("paths", nargs="+", metavar="PATH")
    p.set_defaults(func=cmd_lint)

    p = sub.add_parser("format", help="apply safe fixes to .eml files")
    common(p)
    p.add_argument("--write", action="store_true", help="rewrite the files in place")
    p.add_argument("paths", nargs="+", metavar="PATH")
    p.set_defaults(func=cmd_format)

    p = sub.add_parser("checks", help="list the checks or explain one")
    common(p)
    p.add_argument("--explain", metavar="ID")
    p.set_defaults(func=cmd_checks)

    p = sub.add_parser("serve", help="run the SMTP relay, HTTP API and web pages")
    common(p)
    p.add_argument("--relay-only", action="store_true", help="run only the SMTP relay")
    p.add_argument("--api-only", action="store_true", help="run only the HTTP API")
    p.add_argument("--log-format", choices=["json", "text"], default="json", help="log lines on stderr")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("outbox", help="list (or show) mail delivered to the local outbox")
    common(p)
    p.add_argument("--limit", type=int, default=50)
    p.add_argument("--show", metavar="ID", help="print one message")
    p.set_defaults(func=cmd_outbox)

    p = sub.add_parser("quarantine", help="list, show, release or discard held mail")
    common(p)
    p.add_argument("action", choices=["list", "show", "release", "discard"])
    p.add_argument("id", nargs="?", metavar="ID")
    p.add_argument("--all", action="store_true", help="list released and discarded mail too")
    p.add_argument("--limit", type=int, default=50)
    p.set_defaults(func=cmd_quarantine)

    p = sub.add_parser("token", help="create, list or revoke API bearer tokens")
    common(p)
    p.add_argument("action", choices=["create", "list", "revoke"])
    p.add_argument("id", nargs="?", metavar="ID", help="the token id to revoke")
    p.add_argument("--role", choices=["admin", "viewer"], default="viewer")
    p.add_argument("--name", default="", help="who or what the token is for (shown in the audit trail)")
    p.add_argument("--expires-days", type=int, default=None, metavar="N")
    p.set_defaults(func=cmd_token)
    return parser


def main(argv: list[str] | None = None) -> int:
    import logging

    logging.basicConfig(level=logging.WARNING, format="%(name)s: %(message)s")
    logging.getLogger("mailgate.lint").setLevel(logging.CRITICAL)  # crashes are summarised per file instead
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except ConfigError as exc:
        print(f"mailgate: configuration error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
