"""The `gitops` command: a thin shell over spec.load_stack, engine.plan and engine.apply.

Exit codes are a contract: 0 in sync / success, 2 changes pending (plan only),
1 anything else, usage errors included (argparse's own 2 is overridden).

A command imports what it uses when it runs: `gitops validate`, `gitops set` and
`gitops --help` never import boto3, structlog, the engine, git or the daemon, half a
second of imports they do not use (tests/test_quick_cli.py lists what they must not
import).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import traceback
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from controller.spec.issues import Issue, ValidationFailed

if TYPE_CHECKING:
    from controller.aws.gateway import EventHook, WriteGuard
    from controller.engine.changeset import ChangeSet
    from controller.engine.holds import RollbackHolds
    from controller.engine.lease import Lease
    from controller.engine.reconcile import HoldRule, Plan
    from controller.spec.stack import Stack

EXIT_OK, EXIT_ERROR, EXIT_CHANGES = 0, 1, 2

# Tests inject faults here (botocore event hooks), as they would on a real gateway.
GATEWAY_HOOKS: list[EventHook] = []


class Parser(argparse.ArgumentParser):
    """Usage errors exit 1; `epilog_from` writes the epilog only when the help is shown."""

    def __init__(self, *args: Any, epilog_from: Callable[[], str] | None = None,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.epilog_from = epilog_from

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EXIT_ERROR, f"{self.prog}: error: {message}\n")

    def format_help(self) -> str:
        if self.epilog_from is not None:
            self.epilog = self.epilog_from()
        return super().format_help()


class _Version(argparse.Action):
    """--version: the installed package's version, read only when asked for."""

    def __init__(self, option_strings: Sequence[str], dest: str,
                 **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0,
                         help="show program's version number and exit", **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: Any, option_string: str | None = None) -> NoReturn:
        from controller.version import package_version

        sys.stdout.write(f"gitops {package_version()}\n")
        parser.exit(EXIT_OK)


def build_parser() -> Parser:
    parser = Parser(prog="gitops", description="Keep AWS equal to the YAML in git.")
    parser.add_argument("--version", action=_Version, default=argparse.SUPPRESS)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    v = sub.add_parser("validate", help="check a stack folder; exit 0 valid, 1 invalid")
    _stack_arguments(v)
    p = sub.add_parser("plan", help="show what apply would do; exit 0 in sync, 2 pending, 1 error")
    _stack_arguments(p)
    p.add_argument("--output", choices=("text", "json", "markdown"), default="text",
                   help="json and markdown print a document on every exit, errors included")
    _colour_argument(p)
    a = sub.add_parser("apply", help="make AWS equal to the stack; exit 0 converged, 1 error")
    _stack_arguments(a)
    a.add_argument("--auto-approve", action="store_true", help="apply without asking")
    a.add_argument("--wait", action="store_true",
                   help="then wait until AWS is done (ECS rollouts, databases creating...): "
                        "exit 1 if one fails, is rolled back or times out")
    a.add_argument("--allow-prune", type=int, metavar="N",
                   help="prune up to N resources in this apply, past the stack's pruneLimit")
    a.add_argument("--timeout", type=float, default=600.0, metavar="SECONDS",
                   help="how long --wait waits (default 600)")
    a.add_argument("--lock-timeout", type=float, default=0.0, metavar="SECONDS",
                   help="how long to wait while another apply or the daemon writes the "
                        "same stack on this machine (default 0: say who, and stop)")
    a.add_argument("--parallelism", type=_parallelism, metavar="N",
                   default=os.environ.get("GITOPS_PARALLELISM") or None,
                   help="resources written at once, each once what it depends on is done "
                        "(1-100; default: $GITOPS_PARALLELISM, else 10)")
    a.add_argument("--lease-table", metavar="TABLE",
                   default=os.environ.get("GITOPS_LEASE_TABLE") or None,
                   help="DynamoDB table of the stack's lease, shared with the daemon's "
                        "replicas (default: $GITOPS_LEASE_TABLE; unset: this machine only)")
    _colour_argument(a)
    s = sub.add_parser("set", help="change values in STACK/stack.yaml, keeping the rest of "
                                   "the file as written; exit 0 changed or unchanged, 1 error",
                       description="Set values of a stack's stack.yaml, e.g. `gitops set "
                                   "desired/prod api_image_tag=1.4.3`: only those values' text "
                                   "changes; the result is validated before it is written, "
                                   "and nothing is written when any NAME=VALUE fails.")
    s.add_argument("path", metavar="STACK", help="a stack folder, e.g. desired/prod")
    s.add_argument("assignments", nargs="+", metavar="NAME=VALUE",
                   help="a name under values: and its new value")
    sub.add_parser("schema", help="print the JSON Schema of the desired-state format")
    sub.add_parser("run", help="the daemon: settings from GITOPS_* variables",
                   description="Reconcile one stack from git on a schedule and on a webhook; "
                               "serve /metrics, /healthz, /readyz and /webhook.",
                   epilog_from=_settings_help,
                   formatter_class=argparse.RawDescriptionHelpFormatter)
    demo = sub.add_parser("demo", help="the whole loop on an embedded AWS emulator")
    demo.add_argument("--interval", type=float, default=3.0, metavar="SECONDS",
                      help="seconds between the daemon's runs (default 3)")
    return parser


def _settings_help() -> str:
    from controller.daemon.settings import VARIABLES

    width = max(len(name) for name, _, _ in VARIABLES)
    rows = [f"  {name:<{width}}  {meaning} (default: {default})"
            for name, default, meaning in VARIABLES]
    return "settings, from the environment:\n" + "\n".join(rows)


def _parallelism(value: str) -> int:
    """--parallelism (or GITOPS_PARALLELISM, its default): a whole number, 1-100."""
    from controller.engine.schedule import MAX_PARALLELISM
    if not value.strip().isdigit() or not 1 <= int(value) <= MAX_PARALLELISM:
        raise argparse.ArgumentTypeError(f"{value!r}: expected a whole number of resources "
                                         f"from 1 to {MAX_PARALLELISM} ($GITOPS_PARALLELISM "
                                         "is its default)")
    return int(value)


def _colour_argument(command: argparse.ArgumentParser) -> None:
    command.add_argument("--no-color", action="store_true",
                         help="no colours (also NO_COLOR=1; never in a pipe)")


def _stack_arguments(command: argparse.ArgumentParser) -> None:
    """PATH (a stack folder) or --repo URL --ref REF --path DIR (a stack in git at a commit)."""
    where = command.add_mutually_exclusive_group()
    where.add_argument("path", nargs="?", default=".", help="a stack folder (default: .)")
    where.add_argument("--repo", metavar="URL",
                       help="read the stack from this git repository instead (https://, ssh://, "
                            "file:// or a local path; an https token comes from GITOPS_GIT_TOKEN)")
    command.add_argument("--ref", help="branch or tag of --repo (default: main)")
    command.add_argument("--path", dest="repo_path", metavar="DIR",
                         help="the stack folder inside --repo, e.g. desired/prod")


class NoStack(Exception):
    """There is nothing to plan: the stack is invalid (`issues`) or could not be read."""

    def __init__(self, message: str, issues: Sequence[Issue] = (),
                 stack: str | None = None) -> None:
        super().__init__(message)
        self.issues = list(issues)
        self.stack = stack


def _from_git(args: argparse.Namespace) -> bool:
    return args.repo is not None or args.repo_path is not None or args.ref is not None


def _load(args: argparse.Namespace) -> Stack:
    """The stack to work on; raises NoStack, having said why on stderr."""
    try:
        if _from_git(args):
            return _load_from_git(args)
        return _load_local(args.path)
    except ValidationFailed as err:
        for issue in err.issues:
            print(str(issue), file=sys.stderr)
        message = f"{len(err.issues)} error(s): nothing was read from or written to AWS."
        print(message, file=sys.stderr)
        raise NoStack(message, err.issues, err.stack) from None
    except ValueError as err:
        _cannot_read(str(err))


def _cannot_read(reason: str) -> NoReturn:
    print(f"error: {reason}", file=sys.stderr)
    raise NoStack(reason) from None


def _load_local(path: str) -> Stack:
    from controller.resources.registry import REGISTRY
    from controller.spec.loader import load_stack

    return load_stack(path, REGISTRY)


def _load_from_git(args: argparse.Namespace) -> Stack:
    """The stack at the tip of --ref; its revision is the commit sha."""
    from controller.resources.registry import REGISTRY
    from controller.source import GitSource, SourceError, load_revision

    if args.repo is None or not args.repo_path:
        raise ValueError("--repo URL needs --path DIR (the stack folder inside the "
                         "repository); --ref and --path only go with --repo")
    try:
        source = GitSource(args.repo, args.ref or "main",
                           token=os.environ.get("GITOPS_GIT_TOKEN") or None)
        return load_revision(source, source.fetch(), args.repo_path, REGISTRY)
    except SourceError as err:
        _cannot_read(str(err))


def _plan(args: argparse.Namespace, stack: Stack, hold: HoldRule,
          guard: WriteGuard | None = None) -> Plan:
    """plan(), or NoStack when the account guard stops it; `guard` is asked before every
    write of the apply that follows."""
    from controller.aws.gateway import AwsGateway
    from controller.engine.guard import GuardError
    from controller.engine.reconcile import plan

    gateway = AwsGateway(stack.config.region, hooks=list(GATEWAY_HOOKS))
    gateway.write_guard = guard
    try:
        return plan(stack, gateway, hold=hold, allow_prune=getattr(args, "allow_prune", None))
    except GuardError as err:
        print(f"error: {err}", file=sys.stderr)
        raise NoStack(str(err), stack=stack.name) from None


def _colour(args: argparse.Namespace) -> bool:
    """Colours on a terminal only, and never with NO_COLOR or --no-color."""
    return (sys.stdout.isatty() and not os.environ.get("NO_COLOR")
            and not getattr(args, "no_color", False))


def cmd_validate(args: argparse.Namespace) -> int:
    stack = _load(args)
    print(f"{stack.name}: {len(stack.resources)} resources, valid.", file=sys.stderr)
    return EXIT_OK


def cmd_plan(args: argparse.Namespace) -> int:
    from controller import render
    from controller.engine.holds import RollbackHolds

    # Fresh holds hold what apply would hold: an update AWS rolled back.
    cs = _plan(args, _load(args), RollbackHolds().hold_rule).changes
    if args.output == "json":
        sys.stdout.write(render.as_json(cs))
    elif args.output == "markdown":
        sys.stdout.write(render.markdown(cs))
    else:
        sys.stdout.write(render.text(cs, color=_colour(args)))
    if cs.failed:
        return EXIT_ERROR
    return EXIT_CHANGES if cs.has_changes else EXIT_OK


def _no_plan_document(args: argparse.Namespace, err: NoStack) -> None:
    """`plan --output json|markdown` prints a document on every exit: what went wrong."""
    output = getattr(args, "output", "text")
    if args.command != "plan" or output == "text":
        return
    from controller import render

    writer = render.machine if output == "json" else render.md
    if err.issues:
        sys.stdout.write(writer.invalid(err.stack, err.issues))
    else:
        sys.stdout.write(writer.failed(err.stack, str(err)))


def _confirm(cs: ChangeSet) -> bool:
    if not sys.stdin.isatty():
        print("error: apply asks for confirmation and there is no terminal to ask: "
              "review `gitops plan`, then run `gitops apply --auto-approve`", file=sys.stderr)
        return False
    sys.stderr.write("Apply these changes? Only 'yes' is accepted: ")
    sys.stderr.flush()
    return sys.stdin.readline().strip() == "yes"


def cmd_apply(args: argparse.Namespace) -> int:
    """Plan and write under the stack's write lock: the plan is made after any other
    writer is done, so it never undoes what that writer just wrote."""
    from controller.engine.lease import LeaseUnavailable
    from controller.engine.writer import StackLocked, one_writer

    stack = _load(args)
    try:
        with one_writer(stack.name, stack.config.account, "gitops apply", args.lock_timeout), \
                _lease(args, stack) as guard:
            outcome = _apply(args, stack, guard)
    except (StackLocked, LeaseUnavailable) as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_ERROR
    # --wait follows AWS after the last write: the lock is already released.
    return outcome if isinstance(outcome, int) else _wait(args, *outcome)


def _lease(args: argparse.Namespace,
           stack: Stack) -> contextlib.AbstractContextManager[WriteGuard | None]:
    """With --lease-table: the stack's DynamoDB lease for the apply, checked before every
    write (as the daemon's replicas take it); without: nothing more than the file lock."""
    if not args.lease_table:
        return contextlib.nullcontext()
    from controller.daemon.settings import lease_seconds
    from controller.engine.lease import holding, open_lease

    lease = open_lease(args.lease_table, stack.name, stack.config.account,
                       stack.config.region, "gitops apply",
                       lease_seconds(os.environ.get("GITOPS_LEASE_SECONDS")))
    return _guarding(holding(lease, args.lock_timeout))


@contextlib.contextmanager
def _guarding(held: contextlib.AbstractContextManager[Lease]) -> Iterator[WriteGuard]:
    with held as lease:
        yield lease.check


def _apply(args: argparse.Namespace, stack: Stack,
           guard: WriteGuard | None = None) -> int | tuple[Plan, RollbackHolds]:
    """Exit code, or (what was applied, its holds) for --wait."""
    from controller import render
    from controller.engine.holds import RollbackHolds
    from controller.engine.reconcile import apply
    from controller.engine.schedule import DEFAULT_PARALLELISM

    holds = RollbackHolds()
    result = _plan(args, stack, holds.hold_rule, guard)
    cs = result.changes
    colour = _colour(args)
    if cs.failed:
        sys.stdout.write(render.text(cs, color=colour))
        print("error: the plan has errors or refused changes: nothing was applied.",
              file=sys.stderr)
        return EXIT_ERROR
    if not cs.has_changes:
        sys.stdout.write(render.text(cs, color=colour))
        return EXIT_OK
    if not args.auto_approve:
        sys.stdout.write(render.text(cs, color=colour))
        if not _confirm(cs):
            print("Apply cancelled: nothing was written.", file=sys.stderr)
            return EXIT_ERROR
    cs = apply(result, parallelism=args.parallelism or DEFAULT_PARALLELISM)
    sys.stdout.write(render.text(cs, color=colour))
    if cs.failed or not args.wait:
        return EXIT_ERROR if cs.failed else EXIT_OK
    return result, holds


def _wait(args: argparse.Namespace, result: Plan, holds: RollbackHolds) -> int:
    """--wait: until everything AWS is still doing is done; exit 1 on a failure, a rollback
    (one held from before included) or the timeout."""
    from controller.engine.waiting import progressing, wait_for_ready

    rolled_back = [rid for rid, phase in holds.phases(result).items() if phase == "rolled_back"]
    for rid in rolled_back:
        print(f"{rid}: not deployed: AWS rolled it back (see the reason above)", file=sys.stderr)
    failed = [c for c in result.changes.changes
              if c.result == "success" and c.progress and c.progress.startswith("failed")]
    for change in failed:
        print(f"{change.id}: {change.progress}", file=sys.stderr)
    waiting = progressing(result)
    print(f"Waiting up to {args.timeout:g} s for {len(waiting)} resource(s) AWS is still "
          "working on.", file=sys.stderr)
    outcomes = wait_for_ready(result, waiting, timeout=args.timeout,
                              progress=lambda line: print(line, file=sys.stderr))
    ok = not rolled_back and not failed and all(o.ok for o in outcomes.values())
    return EXIT_OK if ok else EXIT_ERROR


def cmd_set(args: argparse.Namespace) -> int:
    """Edit the values in place; every line printed names the file."""
    from controller.resources.registry import REGISTRY
    from controller.spec.files import display_path
    from controller.spec.setvalues import SetError, set_values

    try:
        shown, edit = set_values(args.path, args.assignments, REGISTRY)
    except SetError as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_ERROR
    except ValidationFailed as err:
        for issue in err.issues:
            print(str(issue), file=sys.stderr)
        shown = display_path(Path(args.path) / "stack.yaml")
        print(f"{len(err.issues)} error(s) with the new values: nothing was written to "
              f"{shown}.", file=sys.stderr)
        return EXIT_ERROR
    for change in edit.changes:
        print(f"{shown}: {change}")
    return EXIT_OK


def cmd_schema(args: argparse.Namespace) -> int:
    from controller.schema import document_schema

    print(json.dumps(document_schema(), indent=2))
    return EXIT_OK


def cmd_demo(args: argparse.Namespace) -> int:
    from controller.demo import run_demo

    return run_demo(interval=args.interval)


def cmd_run(args: argparse.Namespace) -> int:
    from controller.daemon.service import run_daemon

    return run_daemon()


COMMANDS = {"validate": cmd_validate, "plan": cmd_plan, "apply": cmd_apply, "run": cmd_run,
            "set": cmd_set, "schema": cmd_schema, "demo": cmd_demo}


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exit_:  # usage errors exit 1 (see Parser.error), --help 0
        return int(exit_.code or 0)
    if _may_log(args):
        from controller import logs

        logs.configure(json=False)
    try:
        return COMMANDS[args.command](args)
    except NoStack as err:
        _no_plan_document(args, err)
        return EXIT_ERROR
    except KeyboardInterrupt:
        return EXIT_ERROR
    except Exception as err:
        report_unexpected(err)
        _no_plan_document(args, NoStack(f"unexpected {type(err).__name__}: {err}"))
        return EXIT_ERROR


def _may_log(args: argparse.Namespace) -> bool:
    """Whether the command reaches code that logs (AWS, git, the daemon): only then is
    structlog imported and set up (to stderr; unset, it would print to stdout). Checking a
    local folder, editing its values and printing the schema log nothing."""
    return not (args.command in ("schema", "set")
                or (args.command == "validate" and not _from_git(args)))


def report_unexpected(err: BaseException) -> None:
    """One line on stderr; the traceback only with GITOPS_DEBUG=1, and never with locals.

    Frames' local variables hold credentials and the whole environment, so no
    renderer that shows them (rich, better_exceptions) is ever involved.
    """
    if os.environ.get("GITOPS_DEBUG") == "1":
        traceback.print_exception(err, file=sys.stderr)
        hint = ""
    else:
        hint = "; GITOPS_DEBUG=1 shows the traceback"
    print(f"error: unexpected {type(err).__name__}: {err}{hint}", file=sys.stderr)


def entrypoint() -> NoReturn:
    sys.exit(main())
