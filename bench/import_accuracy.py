"""How well does the importer read other groups' sites? Per site: the share of talks read with
the right start instant, title and speakers, and how many of the rest the report flags.

    .venv/bin/python bench/import_accuracy.py tests/services/fixtures/jekyll-collection ...
    .venv/bin/python bench/import_accuracy.py --corpus ../shared/corpus/mcgill tests/services/fixtures/*/

Each site folder holds `expected.yaml` (see tests/services/fixtures/*/expected.yaml): per page,
relative to the folder, its `title`, `speakers`, `start` (an ISO instant, or null when the page
gives no time), optionally `affiliations`, and the pages the importer must skip. `--corpus`
measures the group's own Jekyll site against tests/services/corpus_expected.py (speakers and
instants read by hand; the titles are the posts' own front matter titles).

One run imports every site in a dry run (a throwaway SQLite database, nothing kept) with the
series' time zone from the expected file, then prints one line per site:

- right: start, title and speakers all as expected (a page that gives no time is never right
  on its start: the importer must flag it instead);
- flagged: the report puts the start, the title or the speakers in doubt;
- wrong, unflagged: neither right nor flagged: what an organizer would not be warned about;
- missing: an expected talk the importer skipped or failed; extra: a page it imported that
  should have been skipped.

A folder without expected.yaml is passed over. Results go in docs/importing.md by hand.
"""

from __future__ import annotations

import argparse
import ast
import sys
import tempfile
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import flask_migrate  # noqa: E402

from app import create_app  # noqa: E402
from extensions import db  # noqa: E402
from services import talks  # noqa: E402
from services.importer import FileReport, Importer, ImportSettings  # noqa: E402

FACTS = ("start", "title", "speakers")


@dataclass
class Score:
    site: str
    expected: int = 0
    right: int = 0
    flagged: int = 0
    flagged_wrong: int = 0
    silent_wrong: int = 0
    missing: int = 0
    extra: int = 0
    affiliations_right: int = 0
    affiliations_given: int = 0
    wrong: list[str] = field(default_factory=list)

    def line(self) -> str:
        share = 100 * self.right / self.expected if self.expected else 0.0
        caught = self.flagged_wrong + self.right
        covered = 100 * caught / self.expected if self.expected else 0.0
        aff = f"{self.affiliations_right}/{self.affiliations_given}" if self.affiliations_given else "-"
        return (
            f"| {self.site} | {self.expected} | {self.right} ({share:.0f}%) | {self.flagged} | "
            f"{self.silent_wrong} | {covered:.0f}% | {self.missing} | {self.extra} | {aff} |"
        )


HEADER = (
    "| site | talks | right | flagged | wrong, unflagged | right or flagged | missing | extra | affiliations |\n"
    "|---|---|---|---|---|---|---|---|---|"
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("sites", nargs="*", type=Path, help="site folders, each with an expected.yaml")
    parser.add_argument("--corpus", type=Path, help="the group's own Jekyll site (../shared/corpus/mcgill)")
    parser.add_argument("--verbose", "-v", action="store_true", help="list every talk that is not right")
    args = parser.parse_args()
    jobs: list[tuple[str, Path, dict[str, Any]]] = []
    if args.corpus:
        jobs.append(("corpus (Jekyll posts)", args.corpus / "_posts", corpus_expectations(args.corpus)))
    for site in args.sites:
        expected_file = site / "expected.yaml"
        if not expected_file.is_file():
            print(f"{site}: no expected.yaml, not measured", file=sys.stderr)
            continue
        jobs.append((site.name, site, yaml.safe_load(expected_file.read_text(encoding="utf-8"))))
    if not jobs:
        parser.error("name at least one site or --corpus")
    print(HEADER)
    total = Score("all")
    for name, folder, expected in jobs:
        score = measure(name, folder, expected)
        print(score.line())
        for fieldname in (
            "expected",
            "right",
            "flagged",
            "flagged_wrong",
            "silent_wrong",
            "missing",
            "extra",
            "affiliations_right",
            "affiliations_given",
        ):
            setattr(total, fieldname, getattr(total, fieldname) + getattr(score, fieldname))
        if args.verbose:
            for line in score.wrong:
                print(f"    {line}", file=sys.stderr)
    if len(jobs) > 1:
        print(total.line())
    return 0


def measure(name: str, folder: Path, expected: dict[str, Any]) -> Score:
    reports = dry_run(folder, expected.get("timezone") or "America/Montreal")
    by_path = {_relative(report.source, folder): report for report in reports}
    score = Score(name, expected=len(expected["talks"]))
    for path, want in expected["talks"].items():
        report = by_path.get(path)
        if report is None or report.talk is None:
            score.missing += 1
            score.wrong.append(f"{name}: {path} not imported ({report.outcome if report else 'not found'})")
            continue
        got = {
            "start": report.talk["starts_at"] if "placeholder" not in " ".join(report.warnings) else None,
            "title": report.talk["title"],
            "speakers": report.talk["speakers"],
        }
        right = {fact: _same(fact, got[fact], want.get(fact)) for fact in FACTS}
        if want.get("start") is None:
            right["start"] = False  # no time on the page: only a flag is the right answer
        flagged = bool(report.doubts & set(FACTS))
        score.flagged += flagged
        if all(right.values()):
            score.right += 1
        elif flagged:
            score.flagged_wrong += 1
        else:
            score.silent_wrong += 1
        if not all(right.values()):
            wrong = ", ".join(f"{f}: {got[f]!r} (expected {want.get(f)!r})" for f in FACTS if not right[f])
            score.wrong.append(f"{name}: {path}: {wrong}{' [flagged]' if flagged else ''}")
        if "affiliations" in want and report.post is not None:
            score.affiliations_given += 1
            score.affiliations_right += [s.affiliation for s in report.post.speakers] == want["affiliations"]
    for path in expected.get("skipped") or []:
        report = by_path.get(path)
        if report is not None and report.talk is not None:
            score.extra += 1
            score.wrong.append(f"{name}: {path} imported but should be skipped")
    return score


def _same(fact: str, got: Any, want: Any) -> bool:
    if fact == "start":
        return got is not None and want is not None and datetime.fromisoformat(got) == datetime.fromisoformat(str(want))
    return got == want


def _relative(source: str, folder: Path) -> str:
    try:
        return Path(source).resolve().relative_to(folder.resolve()).as_posix()
    except ValueError:
        return source


def dry_run(folder: Path, timezone: str) -> list[FileReport]:
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app(
            {
                "TESTING": True,
                "DATABASE_URL": f"sqlite:///{Path(tmp) / 'lectern.db'}",
                "CONTENT_VERSION_FILE": str(Path(tmp) / "content-version"),
                "SECRET_KEY": "bench",
                "SERIES_TIMEZONE": timezone,
                "MAIL_BACKEND": "memory",
                "JOBS_IMMEDIATE": True,
            }
        )
        with app.app_context():
            flask_migrate.upgrade()
            series = talks.configured_series(db.session, app.config)
            series.timezone = timezone
            db.session.flush()
            reports = Importer(db.session, series, ImportSettings()).import_posts([folder])
            db.session.rollback()
            db.session.remove()
            db.engine.dispose()
        return reports


def corpus_expectations(corpus: Path) -> dict[str, Any]:
    """The group's posts as tests/services/corpus_expected.py reads them by hand; titles are the
    posts' front matter titles (what the talks are called on the group's own site)."""
    module = ast.parse((ROOT / "tests/services/corpus_expected.py").read_text(encoding="utf-8"))
    expected = next(
        ast.literal_eval(node.value)
        for node in module.body
        if isinstance(node, ast.AnnAssign) and getattr(node.target, "id", "") == "EXPECTED"
    )
    talks_expected = {}
    for path, facts in expected.items():
        text = (corpus / path).read_text(encoding="utf-8")
        front = yaml.safe_load(text.split("---", 2)[1])
        talks_expected[Path(path).relative_to("_posts").as_posix()] = {
            "title": str(front["title"]).strip(),
            "speakers": facts["speakers"],
            "start": facts["starts_at"],
        }
    return {"timezone": "America/Montreal", "talks": talks_expected, "skipped": []}


if __name__ == "__main__":
    sys.exit(main())
