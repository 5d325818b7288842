"""The streaming validation engine shared by ``bft validate`` and the Lambda step.

Each file is read once, in 1 MiB chunks; memory holds one chunk (or one line,
if longer), the capped issue lists, a fixed histogram and a few integers per
record for duplicate detection (for at most the family's record limit of them),
so it is flat in file size. A record's errors are all reported (every rule it
breaks, ``bft.dataset.rules``), the first ``MAX_ERRORS_PER_RECORD`` listed and
the rest counted; the same error on many records is also kept as one group with
its lines (``IssueGroups``), which is what the summary prints. Decisions on
inputs the facts leave open:

* Empty or whitespace-only line: error ``empty_line``. Bedrock reads every line
  as a record, so a blank line is a record that fails to parse. A final newline
  at the end of the file is not a line.
* UTF-8 BOM: error ``bom`` on line 1. A BOM is not JSON; Bedrock's reader parses
  line 1 as is and fails, so the file must be saved as UTF-8 without BOM.
* Invalid UTF-8: error ``invalid_utf8`` on the line, with the byte offset.
* Trailing whitespace on a line (spaces, tabs, the CR of CRLF): accepted; it is
  JSON whitespace.
* Unknown keys: error ``unknown_key`` in every format. The Claude 3 Haiku format
  allows no extra keys; for the others Bedrock's handling is undocumented and a
  stray key is usually a misspelt one.
* A line that is valid JSON but not an object: error ``not_an_object``.
* Records: every line counts (as Bedrock counts lines); statistics cover the
  records whose structure is valid, including those over the token limit.
* ``min_records`` is checked on the training file alone: Bedrock trains only on
  it, so a validation file cannot make up for a short one.
* Duplicates (warning ``duplicate_record``, naming the first line): records with
  the same texts in the same positions, whatever the JSON key order, spacing or
  escaping, across training and validation. Each record gets a cheap signature
  (text lengths, both ends, 256 sampled characters); only records whose
  signature repeats are digested in full (64-bit), the earlier one read back
  from its file by offset. Hashing every byte would cost a fifth of the run.
* A file whose known size is over the family's limit is rejected unread.
* The evaluation file (role ``evaluation``) has the family's record format (its last assistant turn is the
  expected answer) and rules of its own: at least ``EVALUATION_MIN_RECORDS`` records (a score over fewer
  moves in steps of more than 10 %), at most ``EVALUATION_MAX_RECORDS`` (what the Evaluate step reads), and
  a warning when more records than the request's ``maxRecords`` would be scored. The training minimum,
  the training/validation total and the statistics do not apply to it. It is checked with the dataset, so
  a broken evaluation file stops the run before any job is started.
"""

from __future__ import annotations

import gc
import json
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from bft.dataset.parsing import (
    MAX_LINE_BYTES,
    LineBatches,
    Loads,
    batches_of,
    default_backend,
    iter_lines,
    read_chunks,
    strict_rejection,
)
from bft.dataset.report import FileSummary, Issue, IssueGroups, Report
from bft.dataset.rft import rft_checker, rft_family
from bft.dataset.rules import Content, RecordError, RecordInvalid, make_checker
from bft.dataset.stats import EXACT_BUCKETS, RecordStats
from bft.families import ModelFamily, default_epochs, family_for

ROLES = ("training", "validation", "evaluation")
# The evaluation set: enough records for a threshold to mean something, no more than Evaluate reads.
EVALUATION_MIN_RECORDS = 10
# Evaluate fans out over chunks (bft.workflow.evaluation), so the set is bounded by what a run should score,
# not by one Lambda's time; its bytes are read in ranges, never sent to Bedrock as training data.
EVALUATION_MAX_RECORDS = 10_000
EVALUATION_MAX_BYTES = 256 * 1024 * 1024
EVALUATION_DEFAULT_SCORED = 200  # the request's evaluation.maxRecords default
Reread = Callable[[int, int], bytes]  # (offset, length) -> those bytes of the file
MAX_ISSUES = 100
# A record's errors listed one by one; the rest are counted on the last one listed (a record converted from
# another format can break a rule per message).
MAX_ERRORS_PER_RECORD = 10
_BOM = b"\xef\xbb\xbf"


def _diagnose(line: bytes | memoryview, lineno: int, exc: BaseException) -> tuple[str, str]:
    """Classify a line the fast parser rejected (error path only)."""
    raw = bytes(line)
    if not raw.strip():
        return "empty_line", "empty line; Bedrock reads every line as a record, remove it"
    if raw.startswith(_BOM):
        where = "the file starts" if lineno == 1 else "the line starts (concatenated files?)"
        return "bom", f"{where} with a UTF-8 byte order mark; save the file as UTF-8 without BOM"
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        return (
            "invalid_utf8",
            f"not valid UTF-8 at byte {err.start + 1} of the line; Bedrock reads UTF-8 only",
        )
    try:
        json.loads(text)
    except json.JSONDecodeError as err:
        return "invalid_json", f"invalid JSON at column {err.colno}: {_plain_json_error(err, text)}"
    except (RecursionError, ValueError):
        return "invalid_json", "invalid JSON: nested too deeply or a number too long"
    # Lenient json accepts it; the strict rules (NaN, Infinity, lone surrogates) do not.
    return "invalid_json", f"invalid JSON: {strict_rejection(raw) or exc}"


# Python's JSON messages, said the way a person fixing the line thinks about it.
_JSON_WORDS = (
    (
        "Expecting property name enclosed in double quotes",
        "expected a key in double quotes (a trailing comma before '}', or a key in single quotes?)",
    ),
    ("Expecting ',' delimiter", "expected ',' between two items, or a closing '}' or ']'"),
    # Python 3.13's json (the functions' runtime) names a trailing comma itself.
    ("Illegal trailing comma before end of array", "a trailing comma before ']': remove it"),
    ("Illegal trailing comma before end of object", "a trailing comma before '}': remove it"),
    ("Expecting ':' delimiter", "expected ':' after the key"),
    ("Expecting value", "expected a value (a string in double quotes, a number, true, false, null, {...} or [...])"),
    ("Unterminated string", "a string is not closed: its closing double quote is missing"),
    ("Invalid control character", "a raw tab or line break inside a string: write it as \\t or \\n"),
    ("Invalid \\escape", "a backslash that starts no valid escape: write a literal backslash as \\\\"),
    ("Extra data", "more JSON after the record ended (two records on one line, or a stray character?)"),
)


def _plain_json_error(err: json.JSONDecodeError, text: str) -> str:
    """What was expected, in words; a line that stops mid-record says it looks cut short."""
    words = next((plain for prefix, plain in _JSON_WORDS if err.msg.startswith(prefix)), err.msg)
    if err.msg.startswith("Unterminated string"):
        return "the line ends inside a string (cut short?): its closing double quote is missing"
    if err.pos >= len(text.rstrip()) and not err.msg.startswith("Extra data"):
        return f"the line ends before the record does (cut short?); {words}"
    return words


class _CountingLines:
    """Counts bytes for callers that cannot give the size up front (one newline per line)."""

    def __init__(self, lines: Iterable[bytes]) -> None:
        self._lines = lines
        self.bytes = 0

    def __iter__(self) -> Iterator[bytes]:
        total = 0
        for raw in self._lines:
            total += len(raw) if raw.endswith(b"\n") else len(raw) + 1
            yield raw
        self.bytes = total


class DatasetValidator:
    """Validates one dataset: a training file and optional validation files, each streamed once.

    Call ``add_file`` (or ``add_file_error`` when a file cannot be opened) for
    every file, then ``finish`` for the report.
    """

    def __init__(
        self,
        base_model_id: str,
        *,
        dataset_bucket: str | None = None,
        team: str | None = None,
        max_issues: int = MAX_ISSUES,
        backend: tuple[str, Loads] | None = None,
        customization: str = "fine-tuning",
    ) -> None:
        self.base_model_id = base_model_id
        self.family: ModelFamily = family_for(base_model_id)
        self.parser, self._loads = backend or default_backend()
        if customization == "reinforcement":  # prompts with a reference answer, not answered records
            self.family = rft_family(self.family)
            self._check = rft_checker(self.family)
        else:
            self._check = make_checker(self.family, base_model_id, dataset_bucket, team)
        self._max_issues = max_issues
        self._file_errors: list[Issue] = []
        self._line_errors: list[Issue] = []
        self._warnings: list[Issue] = []
        self._error_count = 0
        self._warning_count = 0
        self._errors_by_file: dict[str, int] = {}  # uncapped: a summary can leave one file's errors out exactly
        self._error_groups = IssueGroups(max_issues)
        self._warning_groups = IssueGroups(max_issues)
        # Signature -> records with it: [source, line, offset, length, digest or None].
        # Bounded: past the family's record limit the dataset is invalid anyway,
        # so tracking stops there.
        self._seen: dict[int, list[list[Any]]] = {}
        self._stored = 0
        self._seen_cap = self.family.max_total_records
        self._dup_overflow = False
        self._sources: list[tuple[str, Reread | None]] = []  # (path, reread) per add_file
        self._media: tuple[str, str, int] | None = None
        self._files: list[FileSummary] = []
        self._training: RecordStats | None = None

    # -- issues -------------------------------------------------------------

    def _file_error(self, path: str, code: str, message: str) -> None:
        self._error_count += 1
        self._errors_by_file[path] = self._errors_by_file.get(path, 0) + 1
        issue = Issue(path, None, None, code, message)
        self._file_errors.append(issue)
        self._error_groups.add(issue)

    def _line_error(self, path: str, line: int, field: str | None, code: str, message: str) -> None:
        self._error_count += 1
        self._errors_by_file[path] = self._errors_by_file.get(path, 0) + 1
        issue = Issue(path, line, field, code, message)
        self._error_groups.add(issue)
        if len(self._line_errors) < self._max_issues:
            self._line_errors.append(issue)

    def _record_errors(self, path: str, line: int, errors: list[RecordError]) -> None:
        """Every error of one record: all counted and grouped, the first MAX_ERRORS_PER_RECORD listed."""
        self._error_count += len(errors)
        self._errors_by_file[path] = self._errors_by_file.get(path, 0) + len(errors)
        listed = errors[:MAX_ERRORS_PER_RECORD]
        for index, error in enumerate(errors):
            more = len(errors) - len(listed) if index == len(listed) - 1 else 0
            issue = Issue(path, line, error.field, error.code, error.message, more_on_record=more)
            self._error_groups.add(issue)
            if index < len(listed) and len(self._line_errors) < self._max_issues:
                self._line_errors.append(issue)

    def _warn(self, path: str, line: int | None, code: str, message: str) -> None:
        self._warning_count += 1
        issue = Issue(path, line, None, code, message)
        self._warning_groups.add(issue)
        if len(self._warnings) < self._max_issues:
            self._warnings.append(issue)

    # -- files --------------------------------------------------------------

    def _limits_for(self, role: str) -> tuple[int, int]:
        fam = self.family
        if role == "training":
            return fam.max_training_records, fam.max_training_bytes
        if role == "evaluation":
            return EVALUATION_MAX_RECORDS, EVALUATION_MAX_BYTES
        return fam.max_validation_records, fam.max_validation_bytes

    def _check_role(self, role: str) -> None:
        if role not in ROLES:
            raise ValueError(f"role must be one of {ROLES}, got {role!r}")
        if role in ("training", "evaluation") and any(f.role == role for f in self._files):
            raise ValueError(f"a dataset has one {role} file")

    def add_file_error(self, role: str, path: str, code: str, message: str) -> None:
        """Record that a file could not be read at all (missing, access denied)."""
        self._check_role(role)
        self._file_error(path, code, message)
        self._files.append(FileSummary(role, path, 0, 0, False, RecordStats().to_dict()))

    def add_file(
        self,
        role: str,
        path: str,
        lines: Iterable[bytes],
        *,
        size: int | None = None,
        reread: Reread | None = None,
        scored_records: int | None = None,
    ) -> FileSummary:
        """Validate one file given as byte lines (with or without line ends).

        ``size`` is the file's length in bytes when known: a file over the
        family's limit is then rejected without being read (reading 10 GB only
        to refuse it would outlast a Lambda invocation). ``reread(offset,
        length)`` returns a span of the file again; with it, and ``lines`` from
        ``iter_lines`` (which fixes every line's offset), duplicate detection
        digests a record's whole content only when its cheap signature repeats.
        ``scored_records`` (evaluation only) is the request's ``maxRecords``: more records are warned about.
        """
        self._check_role(role)
        max_records, max_bytes = self._limits_for(role)
        if size is not None and size > max_bytes:
            self._file_error(path, "file_too_large", f"{size:,} bytes; the {role} file limit is {max_bytes:,}")
            summary = FileSummary(role, path, 0, size, False, RecordStats().to_dict())
            self._files.append(summary)
            return summary
        counted = _CountingLines(lines) if size is None and not isinstance(lines, LineBatches) else None
        stats = RecordStats()
        source = len(self._sources)
        self._sources.append((path, reread if isinstance(lines, LineBatches) else None))
        records = self._scan(source, counted if counted is not None else lines, stats)
        if size is not None:
            nbytes = size
        elif isinstance(lines, LineBatches):
            nbytes = lines.bytes_read
        else:
            nbytes = counted.bytes if counted is not None else 0
        if size is None and nbytes > max_bytes:
            self._file_error(path, "file_too_large", f"{nbytes:,} bytes; the {role} file limit is {max_bytes:,}")
        fam = self.family
        if records == 0:
            self._file_error(path, "empty_file", f"the {role} file has no records")
        elif role == "training" and records < fam.min_records:
            self._file_error(
                path, "too_few_records", f"{records:,} records; {fam.name} needs at least {fam.min_records:,}"
            )
        elif role == "evaluation" and records < EVALUATION_MIN_RECORDS:
            self._file_error(
                path,
                "too_few_records",
                f"{records:,} evaluation records; at least {EVALUATION_MIN_RECORDS} are needed for a score "
                f"a threshold can rely on (each record moves it by {1 / records:.0%})",
            )
        if role == "evaluation" and records <= max_records:
            scored = EVALUATION_DEFAULT_SCORED if scored_records is None else scored_records
            if records > scored:
                self._warn(
                    path,
                    None,
                    "records_not_scored",
                    f"{records:,} evaluation records; only the first {scored:,} are scored "
                    f"(raise evaluation.maxRecords, at most {EVALUATION_MAX_RECORDS:,}, to score more)",
                )
        if records > max_records:
            self._file_error(
                path,
                "too_many_records",
                f"{records:,} records; the {fam.name} {role} limit is {max_records:,}",
            )
        if role == "training":
            self._training = stats
        summary = FileSummary(role, path, records, nbytes, True, stats.to_dict())
        self._files.append(summary)
        return summary

    def _scan(self, source: int, lines: Iterable[bytes], stats: RecordStats) -> int:
        """Validate every line of one file; returns the number of lines.

        The cyclic garbage collector is paused meanwhile: each parsed record is a
        fresh tree of dicts and lists that triggers collections (a third of the
        parse time) yet never forms a cycle, so reference counting frees it.
        """
        was_enabled = gc.isenabled()
        gc.disable()
        try:
            return self._scan_lines(source, lines, stats)
        finally:
            if was_enabled:
                gc.enable()

    def _scan_lines(self, source: int, lines: Iterable[bytes], stats: RecordStats) -> int:
        # Everything the loop touches is a local; statistics are kept in locals
        # and folded into ``stats`` once at the end.
        path, reread = self._sources[source]
        loads = self._loads
        check = self._check
        token_limit = self.family.token_limit
        max_line = MAX_LINE_BYTES
        seen = self._seen
        line_error = self._line_error
        hist = stats.hist
        exact = EXACT_BUCKETS  # token counts below this index the histogram directly
        count = tokens_total = turns_total = with_system = 0
        tokens_min = turns_min = sys.maxsize
        tokens_max = turns_max = 0
        lineno = 0
        offset = 0  # of the current line in the file, while lines are exactly the file's
        lazy = reread is not None  # may a record's full digest wait for its signature to repeat?
        for batch in batches_of(lines):
            for raw in batch:
                lineno += 1
                start = offset
                offset += len(raw) + 1
                if len(raw) > max_line:
                    line_error(path, lineno, None, "line_too_long", f"line is longer than {max_line:,} bytes")
                    lazy = False  # the line was cut short: later offsets are unknown
                    continue
                try:
                    obj = loads(raw)
                except (ValueError, RecursionError) as exc:  # JSONDecodeError, UnicodeDecodeError
                    line_error(path, lineno, None, *_diagnose(raw, lineno, exc))
                    continue
                if type(obj) is not dict:
                    line_error(path, lineno, None, "not_an_object", "each line must be a JSON object")
                    continue
                try:
                    units, turns, has_system, content, media = check(obj)
                except RecordInvalid as exc:
                    self._record_errors(path, lineno, exc.errors)
                    continue
                tokens = (units + 2) // 3
                count += 1
                tokens_total += tokens
                if tokens < tokens_min:
                    tokens_min = tokens
                if tokens > tokens_max:
                    tokens_max = tokens
                turns_total += turns
                if turns < turns_min:
                    turns_min = turns
                if turns > turns_max:
                    turns_max = turns
                if has_system:
                    with_system += 1
                if tokens < exact:
                    hist[tokens] += 1
                else:  # stats.bucket(), inlined: a call per record is measurable here
                    shift = tokens.bit_length() - 8
                    hist[exact + ((shift - 1) << 7) + (tokens >> shift) - 128] += 1
                if tokens > token_limit:
                    line_error(
                        path,
                        lineno,
                        None,
                        "too_many_tokens",
                        f"about {tokens:,} tokens (estimate: UTF-8 bytes / 3); the limit is {token_limit:,}",
                    )
                if media is not None:
                    self._media_mix(path, lineno, media)
                # Duplicates: a cheap signature first (lengths, both ends and 256 evenly
                # spaced characters); the full digest only when it repeats, or at once
                # when the record could not be read back later.
                joined = content[0]
                signature = hash((content[1], joined[:128], joined[-128:], joined[:: (len(joined) >> 8) or 1]))
                entries = seen.get(signature)
                if entries is None and lazy:
                    if self._stored < self._seen_cap:
                        seen[signature] = [[source, lineno, start, len(raw), None]]
                        self._stored += 1
                    else:
                        self._dup_overflow = True
                else:
                    self._duplicate(entries, signature, content, source, lineno)
        stats.merge(count, tokens_total, tokens_min, tokens_max, turns_total, turns_min, turns_max, with_system)
        return lineno

    def _duplicate(
        self, entries: list[list[Any]] | None, signature: int, content: Content, source: int, lineno: int
    ) -> None:
        """Compare a record with the earlier ones sharing its signature; warn or remember it."""
        digest = hash(content)
        for entry in entries or ():
            if entry[4] is None:  # first of its signature: read it back and digest it now
                entry[4] = self._digest_at(entry)
            if entry[4] == digest:
                first_path = self._sources[entry[0]][0]
                path = self._sources[source][0]
                where = f"line {entry[1]}" if entry[0] == source else f"{first_path}:{entry[1]}"
                self._warn(path, lineno, "duplicate_record", f"same content as {where}")
                return
        if self._stored >= self._seen_cap:
            self._dup_overflow = True
            return
        self._stored += 1
        if entries is None:
            self._seen[signature] = [[source, lineno, 0, 0, digest]]
        else:
            entries.append([source, lineno, 0, 0, digest])

    def _digest_at(self, entry: list[Any]) -> int:
        """The full digest of an earlier record, read back from its file."""
        path, reread = self._sources[entry[0]]
        assert reread is not None  # entries without a digest come only from re-readable files
        raw = reread(entry[2], entry[3])
        try:
            content = self._check(self._loads(raw))[3]
        except (ValueError, RecordInvalid) as exc:
            raise RuntimeError(f"{path} changed while it was being validated (line {entry[1]})") from exc
        return hash(content)

    def _media_mix(self, path: str, lineno: int, media: str) -> None:
        if self._media is None:
            self._media = (media, path, lineno)
        elif self._media[0] != media:
            kind, first_path, first_line = self._media
            self._line_error(
                path,
                lineno,
                "messages",
                "mixed_media",
                f"the dataset mixes images and video: this record has {media}, {first_path}:{first_line} has {kind}",
            )

    # -- report -------------------------------------------------------------

    def finish(self, epochs: int | None = None) -> Report:
        """Apply the whole-dataset rules and build the report."""
        if not any(f.role in ("training", "evaluation") for f in self._files):
            raise ValueError("no training or evaluation file was added")
        fam = self.family
        read = [f for f in self._files if f.read and f.role != "evaluation"]
        total = sum(f.records for f in read)
        if len(read) > 1 and total > fam.max_total_records:
            self._file_error(
                ", ".join(f.path for f in read),
                "too_many_total_records",
                f"{total:,} records in training and validation together; the {fam.name} limit is "
                f"{fam.max_total_records:,}",
            )
        if self._dup_overflow:
            self._warn(
                "",
                None,
                "duplicates_not_checked",
                f"duplicate detection stopped after {self._seen_cap:,} distinct records (the record limit)",
            )
        training = next((f for f in self._files if f.role == "training"), None)
        stats: dict[str, Any] = {
            "records": training.records if training else 0,
            **(self._training or RecordStats()).to_dict(),
        }
        return Report(
            base_model_id=self.base_model_id,
            family=fam.name,
            data_format=fam.data_format,
            parser=self.parser,
            files=list(self._files),
            errors=self._file_errors + self._line_errors,
            error_count=self._error_count,
            warnings=list(self._warnings),
            warning_count=self._warning_count,
            error_groups=self._error_groups.groups(),
            warning_groups=self._warning_groups.groups(),
            ungrouped_errors=self._error_groups.ungrouped,
            ungrouped_warnings=self._warning_groups.ungrouped,
            statistics=stats,
            epochs=default_epochs(fam) if epochs is None else epochs,
            errors_by_file=dict(self._errors_by_file),
            limits={
                "min_records": fam.min_records,
                "max_training_records": fam.max_training_records,
                "max_validation_records": fam.max_validation_records,
                "max_total_records": fam.max_total_records,
                "max_tokens_per_record": fam.token_limit,
                "max_tokens_per_record_confirmed": fam.max_tokens_per_record is not None,
                "max_training_bytes": fam.max_training_bytes,
                "max_validation_bytes": fam.max_validation_bytes,
                "min_evaluation_records": EVALUATION_MIN_RECORDS,
                "max_evaluation_records": EVALUATION_MAX_RECORDS,
            },
        )


def validate_lines(
    base_model_id: str,
    training: Iterable[bytes],
    validation: Iterable[bytes] | None = None,
    *,
    epochs: int | None = None,
    training_name: str = "training.jsonl",
    validation_name: str = "validation.jsonl",
    max_issues: int = MAX_ISSUES,
    backend: tuple[str, Loads] | None = None,
    customization: str = "fine-tuning",
) -> Report:
    """Validate in-memory or streamed byte lines (tests, notebooks)."""
    validator = DatasetValidator(base_model_id, max_issues=max_issues, backend=backend, customization=customization)
    validator.add_file("training", training_name, training)
    if validation is not None:
        validator.add_file("validation", validation_name, validation)
    return validator.finish(epochs)


def validate_paths(
    base_model_id: str,
    training: str | os.PathLike[str] | None,
    validation: str | os.PathLike[str] | None = None,
    *,
    evaluation: str | os.PathLike[str] | None = None,
    scored_records: int | None = None,
    epochs: int | None = None,
    max_issues: int = MAX_ISSUES,
    backend: tuple[str, Loads] | None = None,
    customization: str = "fine-tuning",
) -> Report:
    """Validate local files, streaming each in 1 MiB chunks (OSError if one cannot be opened).

    ``training`` may be None when only an evaluation file is checked. ``customization`` reinforcement: the
    prompt format of reinforcement fine-tuning (:mod:`bft.dataset.rft`).
    """
    validator = DatasetValidator(base_model_id, max_issues=max_issues, backend=backend, customization=customization)
    for role, path in (("training", training), ("validation", validation), ("evaluation", evaluation)):
        if path is None:
            continue
        with open(path, "rb") as stream:
            size = os.fstat(stream.fileno()).st_size
            validator.add_file(
                role,
                os.fspath(path),
                iter_lines(read_chunks(stream)),
                size=size,
                reread=_file_reader(path),
                scored_records=scored_records if role == "evaluation" else None,
            )
    return validator.finish(epochs)


def _file_reader(path: str | os.PathLike[str]) -> Reread:
    def reread(offset: int, length: int) -> bytes:
        with open(path, "rb") as stream:
            stream.seek(offset)
            return stream.read(length)

    return reread
