"""``nndl exercise ID``: the book's exercises and problems (chapters 1-3, 5), answered and checked."""

from __future__ import annotations

import argparse
import logging

from nndl.errors import UsageError

log = logging.getLogger(__name__)


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "exercise",
        help="answer an exercise or problem of the book, every step checked",
        description=(
            "Answer one of the 43 exercises and problems of chapters 1-3 and 5 (ids from "
            "`nndl exercise --list`). Identities and derivatives are checked by SymPy; claims "
            "about networks by running one (small by default, --full for the real size). "
            "Open questions get one reasonable answer, marked as such. The exit status is 1 "
            "if any check fails."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("ids", nargs="*", metavar="ID", help="exercise ids, or all")
    p.add_argument("--list", action="store_true", help="list every id with its chapter and one line")
    p.add_argument("--format", choices=("text", "markdown", "json"), default="text",
                   help="text (default), markdown with LaTeX, or json with every check")
    p.add_argument("--details", action="store_true", help="show every SymPy check's expressions")
    p.add_argument("--full", action="store_true",
                   help="run the network experiments at their real size (minutes, not seconds)")
    p.set_defaults(func=run)


def _listing() -> str:
    from nndl.answers.registry import EXERCISES, TOPICS

    width = max(len(i) for i in (*EXERCISES, *TOPICS))
    out = ["The exercises and problems of chapters 1-3 and 5, in the book's order (nndl exercise ID):", ""]
    chapter = None
    for e in EXERCISES.values():
        if e.chapter != chapter:
            chapter = e.chapter
            out.append(f"Chapter {chapter}")
        out.append(f"  {e.id:<{width}}  {e.kind} {e.number:<2}  {e.line}")
    out += ["", "The learners' questions answered by nndl derive TOPIC and nndl explain TOPIC:", ""]
    for e in TOPICS.values():
        out.append(f"  {e.id:<{width}}  ch. {e.chapter}  nndl {e.kind} {e.id}: {e.line}")
    out.append("")
    out.append(f"{len(EXERCISES)} exercises and problems, {len(TOPICS)} derive/explain topics.")
    return "\n".join(out)


def _listing_json() -> str:
    import json

    from nndl.answers.registry import EXERCISES, TOPICS

    return json.dumps({
        "exercises": [{"id": e.id, "chapter": e.chapter, "kind": e.kind, "number": e.number, "line": e.line}
                      for e in EXERCISES.values()],
        "topics": [{"id": e.id, "chapter": e.chapter, "command": f"nndl {e.kind} {e.id}", "line": e.line}
                   for e in TOPICS.values()],
    }, indent=2)


def _listing_markdown() -> str:
    from nndl.answers.registry import EXERCISES, TOPICS

    out = ["| id | chapter | kind | what is asked |", "|---|---|---|---|"]
    out += [f"| `{e.id}` | {e.chapter} | {e.kind} {e.number} | {e.line} |" for e in EXERCISES.values()]
    out += ["", "| topic | chapter | command | what is asked |", "|---|---|---|---|"]
    out += [f"| `{e.id}` | {e.chapter} | `nndl {e.kind} {e.id}` | {e.line} |" for e in TOPICS.values()]
    return "\n".join(out)


def run(args: argparse.Namespace) -> int:
    from nndl.answers.registry import EXERCISES, TOPICS, resolve

    if args.list:
        if args.ids:
            raise UsageError("--list takes no ids")
        print({"json": _listing_json, "markdown": _listing_markdown}.get(args.format, _listing)())
        return 0
    if not args.ids:
        raise UsageError("name an exercise id (or all); `nndl exercise --list` lists them")
    ids = list(EXERCISES) if args.ids == ["all"] else [resolve(i) for i in args.ids]
    for i in ids:
        if i in TOPICS:
            raise UsageError(f"{i} is answered by `nndl {TOPICS[i].kind} {i}`")
        if i not in EXERCISES:
            raise UsageError(f"unknown exercise id {i!r}; `nndl exercise --list` lists them")
    from nndl.answers import exercises

    answers = []
    for i in ids:
        log.debug("answering %s", i)
        answers.append(exercises.exercise(i, full=args.full))
    if args.format == "json":
        print(exercises.to_json(answers))
    else:
        sep = "\n\n" + ("-" * 92 if args.format == "text" else "---") + "\n\n"
        render = (lambda a: a.to_markdown(details=args.details)) if args.format == "markdown" else (
            lambda a: a.to_text(details=args.details))
        print(sep.join(render(a) for a in answers))
    return 0 if all(a.passed for a in answers) else 1
