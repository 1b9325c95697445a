#!/usr/bin/env python3
"""Prints `N passed, N failed` from a Bazel build-event JSON file.

Counts test cases: each test target's test.xml (written by gtest, or by Bazel
for other tests) gives its cases and failures. A target that failed to build,
timed out or crashed without a test.xml counts as one failed case. Also
prints any `SUMMARY:` lines the tests logged (e.g. the Raft simulator's).
Exit status 1 when anything failed or nothing ran.
"""
import json
import sys
import urllib.parse
import xml.etree.ElementTree as ET


def local_path(uri):
    if uri.startswith("file://"):
        return urllib.parse.unquote(uri[len("file://"):])
    return None


def count_xml(path):
    """(cases, failed) from a JUnit XML file."""
    root = ET.parse(path).getroot()
    cases = failed = 0
    for case in root.iter("testcase"):
        cases += 1
        if case.find("failure") is not None or case.find("error") is not None:
            failed += 1
    return cases, failed


def main():
    events = []
    with open(sys.argv[1]) as f:
        for line in f:
            line = line.strip()
            if line:
                events.append(json.loads(line))

    passed = failed = 0
    seen = set()
    failures = []
    summaries = []
    for ev in events:
        ident = ev.get("id", {})
        if "testResult" in ident and "testResult" in ev:
            label = ident["testResult"]["label"]
            result = ev["testResult"]
            status = result.get("status", "")
            files = {o["name"]: local_path(o.get("uri", ""))
                     for o in result.get("testActionOutput", [])}
            seen.add(label)
            cases = bad = 0
            xml = files.get("test.xml")
            if xml:
                try:
                    cases, bad = count_xml(xml)
                except (ET.ParseError, OSError):
                    cases = bad = 0
            if status != "PASSED" and bad == 0:
                # Timed out, crashed, or failed outside any test case.
                bad = 1
                cases = max(cases, 1)
            passed += cases - bad
            failed += bad
            if bad:
                failures.append(f"{label}: {status}")
            log = files.get("test.log")
            if log:
                try:
                    with open(log, errors="replace") as lf:
                        for l in lf:
                            if l.startswith("SUMMARY:"):
                                summaries.append(f"{label}: {l.strip()}")
                except OSError:
                    pass
        elif "testSummary" in ident and "testSummary" in ev:
            label = ident["testSummary"]["label"]
            if label not in seen and ev["testSummary"].get("overallStatus") != "PASSED":
                seen.add(label)
                failed += 1
                failures.append(f"{label}: {ev['testSummary'].get('overallStatus')}")
        elif "targetCompleted" in ident and "completed" in ev and \
                not ev["completed"].get("success", False):
            label = ident["targetCompleted"]["label"]
            if label not in seen:
                seen.add(label)
                failed += 1
                failures.append(f"{label}: FAILED_TO_BUILD")
        elif "targetCompleted" in ident and "aborted" in ev:
            label = ident["targetCompleted"]["label"]
            if label not in seen:
                seen.add(label)
                failed += 1
                failures.append(f"{label}: {ev['aborted'].get('reason', 'ABORTED')}")

    # Results from outside Bazel (tools/fuzz.sh smoke): "PASS name" or
    # "FAIL name ..." per line, one case each.
    for extra in sys.argv[2:]:
        try:
            with open(extra) as ef:
                for l in ef:
                    word, _, rest = l.strip().partition(" ")
                    if word == "PASS":
                        passed += 1
                    elif word == "FAIL":
                        failed += 1
                        failures.append(rest)
        except OSError:
            failed += 1
            failures.append(f"{extra}: no results")

    for s in summaries:
        print(s)
    for f in failures:
        print("FAILED", f)
    print(f"{passed} passed, {failed} failed")
    return 1 if failed or passed == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
