#!/usr/bin/env python3
"""Where a write's time goes: the difference of two /metrics scrapes of a
leader, as a Markdown table of concordance_write_stage_seconds by stage (and
the raft.db fsync histogram), with the count, mean, p50 and p99 of the writes
between them. Quantiles are interpolated linearly within a bucket.

    stage_breakdown.py BEFORE AFTER [TITLE]
"""
import re
import sys

SERIES = re.compile(r'^(\w+)_(bucket|sum|count)(\{[^}]*\})? ([0-9.eE+-]+|\+Inf|NaN)$')
ORDER = ["intake", "append", "replicate", "apply", "answer", "send", "total", "fsync"]
WHAT = {
    "intake": "handed to the driver → proposed to the Raft core",
    "append": "proposed → the leader's own append fsynced",
    "replicate": "proposed → committed (a quorum has it durable)",
    "apply": "committed → applied to state.db (its batch)",
    "answer": "the reply callback (encode, hand to the connection)",
    "send": "answered → response written to the socket",
    "total": "request read → response written",
    "fsync": "one raft.db transaction + fsync (per Ready, not per write)",
}


def parse(path):
    hists = {}
    for line in open(path):
        m = SERIES.match(line.strip())
        if not m:
            continue
        name, kind, labels, value = m.groups()
        labels = labels or ""
        if name == "concordance_write_stage_seconds":
            stage = re.search(r'stage="([^"]+)"', labels).group(1)
        elif name == "concordance_raft_fsync_duration_seconds":
            stage = "fsync"
        else:
            continue
        h = hists.setdefault(stage, {"buckets": {}, "sum": 0.0, "count": 0.0})
        if kind == "bucket":
            le = re.search(r'le="([^"]+)"', labels).group(1)
            h["buckets"][float("inf") if le == "+Inf" else float(le)] = float(value)
        else:
            h[kind] = float(value)
    return hists


def quantile(buckets, count, q):
    rank = q * count
    prev_bound, prev_cum = 0.0, 0.0
    for bound in sorted(buckets):
        cum = buckets[bound]
        if cum >= rank:
            if bound == float("inf"):
                return prev_bound
            frac = (rank - prev_cum) / (cum - prev_cum) if cum > prev_cum else 1.0
            return prev_bound + (bound - prev_bound) * frac
        prev_bound, prev_cum = bound, cum
    return prev_bound


def main():
    before, after = parse(sys.argv[1]), parse(sys.argv[2])
    if len(sys.argv) > 3:
        print(sys.argv[3])
        print()
    print("| stage | what | count | mean ms | p50 ms | p99 ms |")
    print("|---|---|---|---|---|---|")
    for stage in ORDER:
        if stage not in after:
            continue
        a, b = after[stage], before.get(stage, {"buckets": {}, "sum": 0.0, "count": 0.0})
        count = a["count"] - b["count"]
        if count <= 0:
            continue
        buckets = {k: v - b["buckets"].get(k, 0.0) for k, v in a["buckets"].items()}
        mean = (a["sum"] - b["sum"]) / count
        print("| %s | %s | %d | %.3f | %.3f | %.3f |" % (
            stage, WHAT[stage], count, mean * 1e3,
            quantile(buckets, count, 0.5) * 1e3, quantile(buckets, count, 0.99) * 1e3))


if __name__ == "__main__":
    main()
