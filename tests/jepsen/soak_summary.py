#!/usr/bin/env python3
"""Adds up the gtest XML of a soak run (tests/jepsen/soak.sh): scenarios run
and their verdicts, operations by type, indeterminate operations, faults by
type. Properties come from RecordOperationsAndFaults in faults_test.cc."""
import collections
import sys
import xml.etree.ElementTree as ET


def main(paths):
    runs = collections.Counter()
    failed = collections.Counter()
    ops = collections.Counter()
    indeterminate = collections.Counter()
    faults = collections.Counter()
    acked = 0
    for path in paths:
        try:
            root = ET.parse(path).getroot()
        except (ET.ParseError, OSError):
            failed["(no result: crashed or killed)"] += 1
            continue
        for case in root.iter("testcase"):
            name = case.get("name")
            runs[name] += 1
            if case.find("failure") is not None:
                failed[name] += 1
            props = {p.get("name"): p.get("value") for p in case.iter("property")}
            props.update({k: v for k, v in case.attrib.items()})
            for k, v in props.items():
                try:
                    n = int(v)
                except (TypeError, ValueError):
                    continue
                if k.startswith("op:"):
                    ops[k[3:]] += n
                elif k.startswith("indeterminate:"):
                    indeterminate[k[14:]] += n
                elif k.startswith("fault:"):
                    faults[k[6:]] += n
                elif k == "acknowledged_writes":
                    acked += n
    total = sum(runs.values())
    print(f"\nscenario runs: {total} ({len(runs)} scenarios), "
          f"passed {total - sum(failed.values())}, failed {sum(failed.values())}")
    for name in sorted(runs):
        print(f"  {name:55s} {runs[name]:3d} runs  {failed[name]:2d} failed")
    # A write without an answer (timed out, cut off after sending, or
    # answered "indeterminate") may or may not have happened: the checker
    # must allow both. A read without one (most of them refused connections
    # while every node was down: the clients retry at once) says nothing.
    print("\noperations by type")
    for kind in sorted(ops):
        label = "unanswered (no information)" if kind == "get" else "indeterminate"
        print(f"  {kind:12s} {ops[kind]:9d}   {label} {indeterminate[kind]:6d}")
    writes = sum(n for k, n in ops.items() if k != "get")
    maybe = sum(n for k, n in indeterminate.items() if k != "get")
    print(f"  writes {writes}: acknowledged {acked}, indeterminate {maybe}, "
          f"the rest answered with a conflict or not found")
    print("\nfaults injected by type")
    for kind, n in sorted(faults.items(), key=lambda kv: -kv[1]):
        print(f"  {kind:45s} {n:6d}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
