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


def cmd_serve(args: argparse.Namespace) -> int:
    print("mailgate serve: the relay and API are not built yet (see the open issues)", file=sys.stderr)
    return EXIT_USAGE


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
    p.set_defaults(func=cmd_serve)
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
