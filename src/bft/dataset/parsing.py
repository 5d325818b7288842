"""JSON backend and bounded line splitting for the streaming validator.

orjson parses 2-4x faster than the standard library and is what makes full-rule
validation faster than a bare ``json.loads`` loop. The CLI installs it
(requirements.lock) and the functions' package layer ships the same version
built for their architecture (requirements-layer.lock, ARM_64). Where it cannot
be imported -- not installed, or a build for another machine (the layer's
aarch64 extension on an x86_64 host raises ImportError when loaded) -- the
strict standard-library parser below is the fallback; both backends reject
invalid UTF-8 and a BOM the same way (the validator checks those before parsing).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Iterator
from typing import Any

Loads = Callable[[bytes | memoryview], Any]

# 1 MiB reads: large enough that per-chunk overhead vanishes, small enough for a flat RSS.
CHUNK_BYTES = 1 << 20

# No record of any family can be this long: 32,000 estimated tokens are at most
# 96,000 UTF-8 bytes of text, and JSON escaping at most sextuples that. A longer
# line is rejected without being buffered, which keeps memory flat even for a
# file with no newline at all.
MAX_LINE_BYTES = 8 << 20


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


def _finite_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise ValueError(f"number {text} is infinite as a double")
    return value


# orjson's nesting limit: 1,024 levels parse, 1,025 do not. Python 3.11's json stopped at its recursion
# limit (RecursionError); 3.12+ parses much deeper, so the fallback counts levels itself.
MAX_DEPTH = 1024


def _too_deep(line: bytes) -> bool:
    if line.count(b"[") + line.count(b"{") <= MAX_DEPTH:  # the common case: two C scans
        return False
    depth, in_string, escaped = 0, False, False
    for byte in line:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # closing quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):  # [ {
            depth += 1
            if depth > MAX_DEPTH:
                return True
        elif byte in (0x5D, 0x7D):  # ] }
            depth -= 1
    return False


def _stdlib_loads(line: bytes | memoryview) -> Any:
    """json.loads made as strict as orjson, so both backends give the same report."""
    if type(line) is not bytes:
        line = bytes(line)  # a memoryview slice from LineBatches
    if _too_deep(line):
        raise ValueError(f"nested deeper than {MAX_DEPTH} levels")
    # Decode explicitly: json.loads(bytes) would also accept UTF-16/32 and a BOM.
    obj = json.loads(line.decode("utf-8"), parse_constant=_reject_constant, parse_float=_finite_float)
    if b"\\ud" in line or b"\\uD" in line:
        # An unpaired surrogate escape (orjson rejects it) fails to encode: UnicodeEncodeError.
        json.dumps(obj, ensure_ascii=False).encode("utf-8")
    return obj


def strict_rejection(line: bytes) -> str | None:
    """Why the strict parser rejects a line that json.loads accepts (error path only)."""
    try:
        _stdlib_loads(line)
    except UnicodeError:
        return "unpaired UTF-16 surrogate escape"
    except ValueError as exc:
        return str(exc)
    return None


def stdlib_backend() -> tuple[str, Loads]:
    return "json", _stdlib_loads


def _orjson() -> Any:
    """The orjson module, or None where it cannot be imported: not installed, or its compiled extension is
    for another architecture or Python (the loader then raises ImportError, as for a missing module)."""
    try:
        import orjson
    except ImportError:
        return None
    return orjson


def default_backend() -> tuple[str, Loads]:
    """(name, loads) of the fastest importable parser."""
    orjson = _orjson()
    if orjson is None:
        return stdlib_backend()
    return "orjson", orjson.loads


def stdlib_dumps(value: Any) -> bytes:
    """Compact JSON, byte for byte what orjson.dumps writes for the values reports and rules use."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _fast_dumps() -> Callable[[Any], bytes]:
    orjson = _orjson()
    if orjson is None:
        return stdlib_dumps
    return orjson.dumps


# Serialize to compact UTF-8 JSON (orjson when importable; same bytes either way).
dumps: Callable[[Any], bytes] = _fast_dumps()


class LineBatches:
    """The lines of a byte stream split on b"\\n" (line ends removed), holding one chunk at a time.

    Iterating yields each line as ``bytes``. ``batches()``, the validator's fast
    path, yields a chunk's lines at once as memoryview slices of the chunk: no
    copy per line and no generator step per line (together a third of the parse
    time for 20 KB records). A line longer than ``max_line_bytes`` comes out as
    its first ``max_line_bytes + 1`` bytes (so the validator reports it as too
    long) and the rest is skipped without being kept. Only b"\\n" ends a line,
    as in Bedrock's JSONL reader; a b"\\r" before it stays and is JSON whitespace.
    """

    def __init__(self, chunks: Iterable[bytes], max_line_bytes: int = MAX_LINE_BYTES) -> None:
        self._chunks = chunks
        self._limit = max_line_bytes
        self.bytes_read = 0  # bytes consumed so far: the file size once exhausted

    def __iter__(self) -> Iterator[bytes]:
        for batch in self.batches():
            for line in batch:
                yield bytes(line)

    def batches(self) -> Iterator[list[bytes | memoryview]]:
        limit = self._limit
        carry = b""  # start of the line the next chunk continues
        skipping = False  # inside an over-long line that was already yielded
        for chunk in self._chunks:
            self.bytes_read += len(chunk)
            find = chunk.find
            pos = find(b"\n")
            if pos == -1:
                if not skipping:
                    carry = carry + chunk if carry else chunk
                    if len(carry) > limit:
                        yield [carry[: limit + 1]]
                        carry = b""
                        skipping = True
                continue
            view = memoryview(chunk)
            batch: list[bytes | memoryview] = []
            if skipping:
                skipping = False  # this newline ends the over-long line
            else:
                first = carry + chunk[:pos] if carry else view[:pos]
                batch.append(first if len(first) <= limit else first[: limit + 1])
            start = pos + 1
            pos = find(b"\n", start)
            while pos != -1:
                batch.append(view[start:pos] if pos - start <= limit else view[start : start + limit + 1])
                start = pos + 1
                pos = find(b"\n", start)
            yield batch
            carry = chunk[start:]
            if len(carry) > limit:
                yield [carry[: limit + 1]]
                carry = b""
                skipping = True
        if carry and not skipping:
            yield [carry]


def iter_lines(chunks: Iterable[bytes], max_line_bytes: int = MAX_LINE_BYTES) -> LineBatches:
    """Lines of a chunked byte stream (see LineBatches): the input ``DatasetValidator.add_file`` reads fastest."""
    return LineBatches(chunks, max_line_bytes)


def batches_of(lines: Iterable[bytes], max_lines: int = 4096) -> Iterator[list[bytes | memoryview]]:
    """Group any iterable of lines into lists of at most ~1 MiB (LineBatches already are)."""
    if isinstance(lines, LineBatches):
        yield from lines.batches()
        return
    batch: list[bytes | memoryview] = []
    size = 0
    for line in lines:
        batch.append(line)
        size += len(line)
        if size >= CHUNK_BYTES or len(batch) >= max_lines:
            yield batch
            batch = []
            size = 0
    if batch:
        yield batch


def read_chunks(stream: Any, size: int = CHUNK_BYTES) -> Iterator[bytes]:
    """Chunks from a binary file object (``read(n)``), e.g. an open file or an S3 body."""
    read = stream.read
    while chunk := read(size):
        yield chunk
