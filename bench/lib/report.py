#!/usr/bin/python3
"""Prints bench/run's table from its measurements.

  report.py RESULTS FAILURES

RESULTS: TSV lines "bench label repeat seconds maxrss_kib cpu_seconds"
(common.sh timed).
FAILURES: lines "bench<TAB>reason" of benchmarks that stopped.

Each row compares the median of ours with the median of a baseline (the
largest median when a row names several baselines, as DESIGN.md section 9's
"the slower of curl and openssl dgst"). A target is a bound on the ratio
ours / baseline; None only reports the ratio.
"""
import collections
import statistics
import sys

# (benchmark, ours, baselines, target ratio or None, how the target reads)
ROWS = [
    ("cache-2g", "catcher cache", ["curl -o"], None, "report"),
    ("cache-2g", "catcher cache", ["openssl dgst -sha512"], None, "report"),
    ("cache-2g", "catcher cache", ["curl -o", "openssl dgst -sha512"], 1.15, "<= 1.15x"),
    ("cache-2g", "catcher cache", ["curl -o && sha512sum"], 1 / 1.6, "<= 0.625x (1.6x faster)"),
    ("cache-2g", "catcher cache", ["curl -o && sync FILE"], None, "report"),
    ("parallel-4x512m", "limited: at once (downloads=4)", ["limited: serial (downloads=1)"],
     0.35, "<= 0.35x"),
    ("parallel-4x512m", "unlimited: at once (downloads=4)", ["unlimited: serial (downloads=1)"],
     1.0, "<= 1.0x"),
    ("verify-10k", "catcher verify", ["openssl smime -verify"], 1.0, "<= 1.0x"),
    ("verify-10k", "caster verify", ["openssl smime -verify"], None, "report"),
    ("update-500", "unchanged update", ["first update"], 0.2, "<= 0.2x"),
    # Issue 12: a cycle with nothing to do costs little more than its update.
    ("idle-cycle", "run --once (all cached)", ["update (unchanged)"], 1.3, "<= 1.3x"),
    ("caster-add-2g", "caster image add --file", ["sha512sum"], None, "report"),
    ("caster-add-2g", "caster image add --file", ["openssl dgst -sha512"], None, "report"),
    # Issue 14: converting through catcher costs what qemu-img costs.
    ("convert-2g", "catcher cache (inspect, convert to raw)", ["qemu-img convert"], 1.05,
     "<= 1.05x"),
    # Issue 11, finding 8: every command linear in the images of a list at
    # the size cap, each within 5x of verifying that list.
    ("list-75k", "first update", ["catcher verify"], None, "report"),
    ("list-75k", "first cache (makes every view)", ["catcher verify"], None, "report"),
    ("list-75k", "catcher update (new version)", ["catcher verify"], 5.0, "<= 5x"),
    ("list-75k", "catcher cache (all cached)", ["catcher verify"], 5.0, "<= 5x"),
    ("list-75k", "images --json", ["catcher verify"], 5.0, "<= 5x"),
    ("list-75k", "status --json", ["catcher verify"], 5.0, "<= 5x"),
    ("list-75k", "export --format json", ["catcher verify"], 5.0, "<= 5x"),
]
# (benchmark, ours, baseline, bound in seconds on the difference of their
# medians): what one step adds to a run that does the rest.
DIFF_ROWS = [
    # Issue 14: inspecting a cached 2 GiB image costs under 0.1 s.
    ("convert-2g", "catcher cache (inspect, make available)", "catcher cache (all cached)", 0.1),
]
# (benchmark, ours, bound in MiB on the peak RSS over every repeat)
RSS_ROWS = [
    ("cache-2g", "catcher cache", 64),
    ("parallel-4x512m", "limited: at once (downloads=4)", None),
    ("parallel-4x512m", "unlimited: at once (downloads=4)", None),
    ("verify-10k", "catcher verify", None),
    ("caster-add-2g", "caster image add --file", None),
]


def scale_rows(order):
    """idle-cycle-scale's rows, from the sizes measured: run --once against
    update at each size, and each size's run --once against the smallest's
    (linear growth: the ratio of the sizes)."""
    sizes = sorted({int(label.split(", ")[1].split()[0]) for bench, label in order
                    if bench == "idle-cycle-scale" and label.startswith("run --once, ")})
    rows = []
    for n in sizes:
        rows.append(("idle-cycle-scale", "run --once, %d subscriptions" % n,
                     ["update, %d subscriptions" % n], None, "report"))
    for n in sizes[1:]:
        rows.append(("idle-cycle-scale", "run --once, %d subscriptions" % n,
                     ["run --once, %d subscriptions" % sizes[0]], None,
                     "report (linear: %gx)" % (n / sizes[0])))
    return rows


def main():
    seconds = collections.defaultdict(list)
    rss = collections.defaultdict(list)
    cpu = collections.defaultdict(list)
    order = []
    with open(sys.argv[1]) as f:
        for line in f:
            bench, label, _repeat, secs, kib, cpu_secs = line.rstrip("\n").split("\t")
            key = (bench, label)
            if key not in seconds:
                order.append(key)
            seconds[key].append(float(secs))
            rss[key].append(int(kib))
            cpu[key].append(float(cpu_secs))
    failures = {}
    with open(sys.argv[2]) as f:
        for line in f:
            bench, reason = line.rstrip("\n").split("\t", 1)
            failures[bench] = reason

    def median(key):
        return statistics.median(seconds[key])

    rows = ROWS + scale_rows(order)

    def cpu_text(key):
        """Median CPU time (user + system) and its share of one core."""
        cpu_median = statistics.median(cpu[key])
        return "%.2f (%d%%)" % (cpu_median, round(100 * cpu_median / median(key)))

    table = [("benchmark", "ours", "median s", "CPU s", "baseline", "median s", "CPU s", "ratio",
              "target", "met")]
    missed = 0
    benches = []
    for bench in [r[0] for r in rows] + [r[0] for r in DIFF_ROWS] + list(failures):
        if bench not in benches:
            benches.append(bench)
    for bench in benches:
        if bench in failures:
            table.append((bench, "FAILED", "-", "-", "-", "-", "-", "-", "-", "no"))
            missed += 1
            continue
        for row_bench, ours, bases, target, target_text in rows:
            if row_bench != bench or (bench, ours) not in seconds:
                continue
            if any((bench, b) not in seconds for b in bases):
                continue
            base_name = bases[0]
            slowest = max(bases, key=lambda b: median((bench, b)))
            base_median = median((bench, slowest))
            if len(bases) > 1:
                base_name = "slower of %s: %s" % (" / ".join(bases), slowest)
            ours_median = median((bench, ours))
            ratio = ours_median / base_median
            met = "report" if target is None else ("yes" if ratio <= target else "no")
            if met == "no":
                missed += 1
            table.append((bench, ours, "%.3f" % ours_median, cpu_text((bench, ours)), base_name,
                          "%.3f" % base_median, cpu_text((bench, slowest)), "%.3fx" % ratio,
                          target_text, met))
        for row_bench, ours, base, bound in DIFF_ROWS:
            if row_bench != bench or (bench, ours) not in seconds or (bench, base) not in seconds:
                continue
            diff = median((bench, ours)) - median((bench, base))
            met = "yes" if diff < bound else "no"
            if met == "no":
                missed += 1
            table.append((bench, ours, "%.3f" % median((bench, ours)), cpu_text((bench, ours)),
                          base, "%.3f" % median((bench, base)), cpu_text((bench, base)),
                          "+%.3f s" % diff, "< +%g s" % bound, met))
        for row_bench, ours, bound in RSS_ROWS:
            if row_bench != bench or (bench, ours) not in rss:
                continue
            peak = max(rss[(bench, ours)]) / 1024
            met = "report" if bound is None else ("yes" if peak < bound else "no")
            if met == "no":
                missed += 1
            table.append((bench, ours + ": peak RSS", "%.1f MiB" % peak, "-", "-", "-", "-", "-",
                          "report" if bound is None else "< %d MiB" % bound, met))

    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    for n, row in enumerate(table):
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())
        if n == 0:
            print("  ".join("-" * w for w in widths))

    print("\nEvery measurement (seconds, in repeat order; peak RSS; median CPU time, user + system):")
    for key in order:
        print("  %-16s %-36s %s   (%.1f MiB; CPU %.2f s)" % (
            key[0], key[1], " ".join("%.3f" % s for s in seconds[key]), max(rss[key]) / 1024,
            statistics.median(cpu[key])))
    for bench, reason in failures.items():
        print("  %-16s FAILED: %s" % (bench, reason))
    print("\n%d target(s) missed" % missed if missed else "\nevery target met")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
