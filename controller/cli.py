"""The `gitops` command: a thin shell over spec.load_stack, engine.plan and engine.apply.

Exit codes are a contract: 0 in sync / success, 2 changes pending (plan only),
1 anything else, usage errors included (argparse's own 2 is overridden).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import NoReturn

import structlog

from controller import logs, render
from controller.aws.gateway import AwsGateway, EventHook
from controller.engine.changeset import ChangeSet
from controller.engine.guard import GuardError
from controller.engine.reconcile import apply, plan
from controller.spec.issues import ValidationFailed
from controller.spec.loader import load_stack
from controller.spec.stack import Stack

EXIT_OK, EXIT_ERROR, EXIT_CHANGES = 0, 1, 2

# Tests inject faults here (botocore event hooks), as they would on a real gateway.
GATEWAY_HOOKS: list[EventHook] = []


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EXIT_ERROR, f"{self.prog}: error: {message}\n")


def build_parser() -> Parser:
    parser = Parser(prog="gitops", description="Keep AWS equal to the YAML in git.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    v = sub.add_parser("validate", help="check a stack folder; exit 0 valid, 1 invalid")
    v.add_argument("path", nargs="?", default=".")
    p = sub.add_parser("plan", help="show what apply would do; exit 0 in sync, 2 pending, 1 error")
    p.add_argument("path", nargs="?", default=".")
    p.add_argument("--output", choices=("text", "json", "markdown"), default="text")
    a = sub.add_parser("apply", help="make AWS equal to the stack; exit 0 converged, 1 error")
    a.add_argument("path", nargs="?", default=".")
    a.add_argument("--auto-approve", action="store_true", help="apply without asking")
    sub.add_parser("schema", help="print the JSON Schema of the desired-state format")
    sub.add_parser("demo", help="the whole loop on an embedded AWS emulator")
    return parser


def _load(path: str) -> Stack | None:
    try:
        return load_stack(path)
    except ValidationFailed as err:
        for issue in err.issues:
            print(str(issue), file=sys.stderr)
        print(f"{len(err.issues)} error(s): nothing was read from or written to AWS.",
              file=sys.stderr)
        return None


def _gateway(stack: Stack) -> AwsGateway:
    return AwsGateway(stack.config.region, hooks=list(GATEWAY_HOOKS))


def cmd_validate(args: argparse.Namespace) -> int:
    stack = _load(args.path)
    if stack is None:
        return EXIT_ERROR
    print(f"{stack.name}: {len(stack.resources)} resources, valid.", file=sys.stderr)
    return EXIT_OK


def cmd_plan(args: argparse.Namespace) -> int:
    stack = _load(args.path)
    if stack is None:
        return EXIT_ERROR
    try:
        result = plan(stack, _gateway(stack))
    except GuardError as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_ERROR
    cs = result.changes
    out = {"text": render.text, "json": render.as_json, "markdown": render.markdown}
    sys.stdout.write(out[args.output](cs))
    if cs.failed:
        return EXIT_ERROR
    return EXIT_CHANGES if cs.has_changes else EXIT_OK


def _confirm(cs: ChangeSet) -> bool:
    if not sys.stdin.isatty():
        print("error: apply asks for confirmation and there is no terminal to ask: "
              "review `gitops plan`, then run `gitops apply --auto-approve`", file=sys.stderr)
        return False
    sys.stderr.write("Apply these changes? Only 'yes' is accepted: ")
    sys.stderr.flush()
    return sys.stdin.readline().strip() == "yes"


def cmd_apply(args: argparse.Namespace) -> int:
    stack = _load(args.path)
    if stack is None:
        return EXIT_ERROR
    try:
        result = plan(stack, _gateway(stack))
    except GuardError as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_ERROR
    cs = result.changes
    if cs.failed:
        sys.stdout.write(render.text(cs))
        print("error: the plan has errors or refused changes: nothing was applied.",
              file=sys.stderr)
        return EXIT_ERROR
    if not cs.has_changes:
        sys.stdout.write(render.text(cs))
        return EXIT_OK
    if not args.auto_approve:
        sys.stdout.write(render.text(cs))
        if not _confirm(cs):
            print("Apply cancelled: nothing was written.", file=sys.stderr)
            return EXIT_ERROR
    cs = apply(result)
    sys.stdout.write(render.text(cs))
    return EXIT_ERROR if cs.failed else EXIT_OK


def cmd_schema(args: argparse.Namespace) -> int:
    from controller.schema import document_schema

    print(json.dumps(document_schema(), indent=2))
    return EXIT_OK


def cmd_demo(args: argparse.Namespace) -> int:
    from controller.demo import run_demo

    return run_demo()


COMMANDS = {"validate": cmd_validate, "plan": cmd_plan, "apply": cmd_apply,
            "schema": cmd_schema, "demo": cmd_demo}


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exit_:  # usage errors exit 1 (see Parser.error), --help 0
        return int(exit_.code or 0)
    logs.configure(json=False)
    try:
        return COMMANDS[args.command](args)
    except KeyboardInterrupt:
        return EXIT_ERROR
    except Exception as err:
        structlog.get_logger("controller.cli").exception("unexpected error")
        print(f"error: {type(err).__name__}: {err}", file=sys.stderr)
        return EXIT_ERROR


def entrypoint() -> NoReturn:
    sys.exit(main())
