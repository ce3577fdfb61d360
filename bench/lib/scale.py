#!/usr/bin/python3
"""The table and the plot of idle-cycle-scale.

  scale.py RESULTS BENCH PNG WORKDIR TITLE

RESULTS: bench/run's measurements (common.sh timed); the rows of BENCH
labelled "run --once, N subscriptions" and "update, N subscriptions".
Prints a table of the medians per size (wall and CPU time), with the cost
of each subscription added between two sizes and a least-squares line t = a + b * n through the
run --once medians, and plots the medians (every repeat as a dot), the
fitted line and the line through the two smallest sizes, extended, to PNG
with gnuplot (its data and script are written to WORKDIR). Growth is linear
when the largest size lies on that extension and the cost per added
subscription stays the same.
"""
import collections
import os
import re
import statistics
import subprocess
import sys

LABEL = re.compile(r"^(run --once|update), (\d+) subscriptions$")


def main():
    results, bench, png, workdir, title = sys.argv[1:6]
    times = collections.defaultdict(list)
    cpu = collections.defaultdict(list)
    with open(results) as f:
        for line in f:
            b, label, _repeat, secs, _kib, cpu_secs = line.rstrip("\n").split("\t")
            m = LABEL.match(label)
            if b == bench and m:
                times[(m.group(1), int(m.group(2)))].append(float(secs))
                cpu[(m.group(1), int(m.group(2)))].append(float(cpu_secs))
    sizes = sorted({n for _, n in times})
    if len(sizes) < 2:
        print("scale.py: fewer than two sizes measured", file=sys.stderr)
        return 1
    once = {n: statistics.median(times[("run --once", n)]) for n in sizes}
    update = {n: statistics.median(times[("update", n)]) for n in sizes}
    once_cpu = {n: statistics.median(cpu[("run --once", n)]) for n in sizes}
    update_cpu = {n: statistics.median(cpu[("update", n)]) for n in sizes}

    # Least squares through the run --once medians.
    mx = statistics.mean(sizes)
    my = statistics.mean(once[n] for n in sizes)
    slope = (sum((n - mx) * (once[n] - my) for n in sizes) /
             sum((n - mx) ** 2 for n in sizes))
    intercept = my - slope * mx
    # The line through the two smallest sizes, extended: where the larger
    # sizes would be if every subscription added cost the same.
    n0, n1 = sizes[0], sizes[1]
    ext_slope = (once[n1] - once[n0]) / (n1 - n0)
    ext_intercept = once[n0] - ext_slope * n0

    rows = [("subscriptions", "images", "wall: run --once s", "update s", "ratio", "CPU: run --once s",
             "update s", "ratio", "ms per added subscription (CPU)",
             "linear from %d,%d" % (n0, n1))]
    prev = None
    for n in sizes:
        added = "-"
        if prev is not None:
            added = "%.2f (%.2f)" % (1000 * (once[n] - once[prev]) / (n - prev),
                                     1000 * (once_cpu[n] - once_cpu[prev]) / (n - prev))
        rows.append((str(n), str(20 * n), "%.3f" % once[n], "%.3f" % update[n],
                     "%.2fx" % (once[n] / update[n]), "%.2f" % once_cpu[n], "%.2f" % update_cpu[n],
                     "%.2fx" % (once_cpu[n] / update_cpu[n]), added,
                     "%.3f s" % (ext_intercept + ext_slope * n)))
        prev = n
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        print("  ".join(c.rjust(w) for c, w in zip(r, widths)))
    print("fit (run --once): t = %.3f s + %.3f ms x subscriptions; %d subscriptions: %.3f s measured, "
          "%.3f s on the line through %d and %d (%.2fx)"
          % (intercept, 1000 * slope, sizes[-1], once[sizes[-1]],
             ext_intercept + ext_slope * sizes[-1], n0, n1,
             once[sizes[-1]] / (ext_intercept + ext_slope * sizes[-1])))

    dat = os.path.join(workdir, "scale.dat")
    with open(dat, "w") as f:
        f.write("# subscriptions run_once_median update_median\n")
        for n in sizes:
            f.write("%d %.6f %.6f\n" % (n, once[n], update[n]))
    every = os.path.join(workdir, "scale-every.dat")
    with open(every, "w") as f:
        for (kind, n), secs in sorted(times.items()):
            for s in secs:
                f.write("%d %.6f %d\n" % (n, s, 0 if kind == "run --once" else 1))
    script = os.path.join(workdir, "scale.gp")
    with open(script, "w") as f:
        f.write("""set terminal pngcairo size 900,600 font ",11"
set output %(png)s
set title %(title)s noenhanced
set xlabel "subscriptions (20 images each, all cached, lists unchanged: 304)"
set ylabel "wall time, s"
set key top left
set grid
set xrange [0:%(xmax)d]
set yrange [0:*]
fit(x) = %(a).9f + %(b).9f * x
ext(x) = %(ea).9f + %(eb).9f * x
plot %(every)s using 1:($3 == 0 ? $2 : 1/0) with points pt 7 ps 0.5 lc rgb "#9999cc" title "run --once, each repeat", \\
     %(every)s using 1:($3 == 1 ? $2 : 1/0) with points pt 7 ps 0.5 lc rgb "#cc9999" title "update, each repeat", \\
     %(dat)s using 1:2 with linespoints pt 5 lc rgb "#2020a0" title "run --once, median", \\
     %(dat)s using 1:3 with linespoints pt 9 lc rgb "#a02020" title "update, median", \\
     fit(x) with lines dt 1 lc rgb "#808080" title sprintf("least squares: %%.3f s + %%.2f ms x n", %(a).9f, %(ms).6f), \\
     ext(x) with lines dt 2 lc rgb "#20a020" title "linear from %(n0)d and %(n1)d, extended"
""" % {"png": quote(png), "title": quote(title), "every": quote(every), "dat": quote(dat),
            "a": intercept, "b": slope, "ms": 1000 * slope, "ea": ext_intercept, "eb": ext_slope,
            "n0": n0, "n1": n1, "xmax": sizes[-1] * 21 // 20})
    subprocess.run(["gnuplot", script], check=True)
    return 0


def quote(s):
    # A gnuplot string in single quotes: a quote is doubled.
    return "'" + s.replace("'", "''") + "'"


if __name__ == "__main__":
    sys.exit(main())
