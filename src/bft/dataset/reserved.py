"""Finding a family's reserved strings ("Human:", "Assistant:", Nova's role markers) in a record's texts, case
insensitively, at the cost of a plain substring scan on the texts that hold none.

Most texts hold none of the characters the reserved strings contain (":", "<", "["), which no other character
lowercases to: a screen finds those marks with str.find (in C), lowercases only a few characters around each,
and falls back to the full case-insensitive search only when one could start a match. Standard library only
(the functions' layer).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from bft.families import ModelFamily

# Characters that no other character lowercases to (str.lower() maps no letter to punctuation).
CASELESS = frozenset(":<>[]{}()|/\\#=")


def anchored_screen(needles: tuple[str, ...]) -> Callable[[str], bool] | None:
    """A fast test that ``text.lower()`` may contain one of ``needles`` (lowercase): False only when it cannot.

    Lowercasing a record's text and searching it for each of Nova's eight reserved strings costs more than
    parsing the record. Each of them holds a character with no case (``user:``, ``<image>``, ``[eos]``), which
    ``str.find`` locates at memchr speed and which prose has few of; only around each one is a few characters'
    window lowercased and compared. Lowercasing windows finds what lowercasing the text finds: the needles are
    ASCII, and the one character whose lowercase is longer than one character (U+0130, ``İ`` -> ``i̇``) adds a
    non-ASCII mark that no needle contains. Past a budget of anchors (JSON, code) the answer is "maybe" and the
    caller's full search decides. None: some needle has no such character (no screen possible).
    """
    groups: dict[str, list[tuple[str, str]]] = {}
    for needle in needles:
        at = next((i for i, char in enumerate(needle) if char in CASELESS), None)
        if at is None or not needle.isascii():
            return None
        groups.setdefault(needle[at], []).append((needle[:at], needle[at + 1 :]))
    # Per anchor: the longest part before and after it, the (before, after) pairs, and the lowercase characters
    # that can stand next to it in a match (None where some needle has nothing on that side): most anchors in
    # prose ("Note:") fail that one-character test.
    anchors = []
    for mark, pairs in groups.items():
        befores = {p[-1] for p, _ in pairs} if all(p for p, _ in pairs) else None
        afters = {s[0] for _, s in pairs} if all(s for _, s in pairs) else None
        anchors.append((mark, max(len(p) for p, _ in pairs), max(len(s) for _, s in pairs), pairs, befores, afters))

    def screen(text: str) -> bool:
        budget = 16 + len(text) // 256
        find = text.find
        for mark, before_len, after_len, pairs, befores, afters in anchors:
            pos = find(mark)
            while pos != -1:
                budget -= 1
                if budget < 0:
                    return True
                if (befores is None or text[pos - 1 : pos].lower()[-1:] in befores) and (
                    afters is None or text[pos + 1 : pos + 2].lower()[:1] in afters
                ):
                    before = text[max(0, pos - before_len) : pos].lower()
                    after = text[pos + 1 : pos + 1 + after_len].lower()
                    for prefix, suffix in pairs:
                        if before.endswith(prefix) and after.startswith(suffix):
                            return True
                pos = find(mark, pos + 1)
        return False

    return screen


def reserved_finder(family: ModelFamily) -> Callable[[str], str | None]:
    """Return a function giving the first reserved string found in a text, or None."""
    strings = family.reserved_strings
    if not strings:
        return lambda text: None
    if family.reserved_strings_ignore_case:
        # str.lower(), exactly as the official Nova validator compares.
        lowered = tuple((s.lower(), s) for s in strings)

        def find_ci(text: str) -> str | None:
            low = text.lower()
            for needle, original in lowered:
                if needle in low:
                    return original
            return None

        screen = anchored_screen(tuple(needle for needle, _ in lowered))
        if screen is None:
            return find_ci

        def find_screened(text: str) -> str | None:
            return find_ci(text) if screen(text) else None

        return find_screened

    # The shared prefix goes first so the regex engine scans for it ("\\n").
    prefix = strings[0]
    for s in strings[1:]:
        while not s.startswith(prefix):
            prefix = prefix[:-1]
    pattern = re.compile(re.escape(prefix) + "(?:" + "|".join(re.escape(s[len(prefix) :]) for s in strings) + ")")
    mark = strings[0][-1]
    if not all(s[-1] == mark and mark not in s[:-1] for s in strings):

        def find_regex(text: str) -> str | None:
            match = pattern.search(text)
            return match.group(0) if match else None

        return find_regex

    # Every reserved string ends with the same character, found nowhere else in it
    # (Claude's "\\nHuman:" and "\\nAssistant:" end with ":"). Colons are few in
    # prose and memchr finds them ~50x faster than any substring search, so look
    # only behind each one. Each look costs about what the regex spends on 500
    # characters, so text denser in colons (JSON, code) finishes with the regex.
    # Text without the shared first character (a newline) cannot match at all.
    stems = tuple(s[:-1] for s in strings)
    first = prefix[:1]

    def find(text: str) -> str | None:
        if first not in text:
            return None
        find_mark = text.find
        ends_with = text.endswith
        pos = find_mark(mark)
        start = 0
        for _ in range(8 + len(text) // 512):
            if pos == -1:
                return None
            if ends_with(stems, 0, pos):
                return next(s for s in strings if text.startswith(s, pos + 1 - len(s)))
            start = pos + 1  # no match can span a checked mark: it occurs only at their end
            pos = find_mark(mark, start)
        match = pattern.search(text, start)
        return match.group(0) if match else None

    return find
