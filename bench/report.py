#!/usr/bin/env python3
"""bench/report.py: turns bench/run's results.tsv and meta.txt into the figure
tables (stdout and markdown) and a bar chart relative to FUSE passthrough."""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile

# key, label, unit, higher is better
WORKLOADS = [
    ("seq_write", "sequential write {seq} MiB (dd bs=1M, fsync)", "MB/s", True),
    ("seq_read", "sequential read {seq} MiB (dd bs=1M, after remount)", "MB/s", True),
    ("randread_1", "4 KiB random read, 1 job ({fio} MiB file)", "IOPS", True),
    ("randread_2", "4 KiB random read, 2 jobs", "IOPS", True),
    ("randwrite_1", "4 KiB random write, 1 job", "IOPS", True),
    ("randwrite_2", "4 KiB random write, 2 jobs", "IOPS", True),
    ("tree_extract", "small files: tar -x", "s", False),
    ("tree_ls", "small files: ls -lR (cold)", "s", False),
    ("tree_read", "small files: read every file (cold)", "s", False),
    ("tree_rm", "small files: rm -rf", "s", False),
]
MEMORY = [
    ("rss_idle", "daemon RSS right after mount"),
    ("rss_peak", "daemon peak RSS (VmHWM) over the run"),
]
SHORT = {
    "seq_write": "seq write", "seq_read": "seq read",
    "randread_1": "randread x1", "randread_2": "randread x2",
    "randwrite_1": "randwrite x1", "randwrite_2": "randwrite x2",
    "tree_extract": "tar -x", "tree_ls": "ls -lR", "tree_read": "read all",
    "tree_rm": "rm -rf",
}
SUBJECT = "cloakfs"


def load(results_path, meta_path):
    meta = {}
    with open(meta_path) as f:
        for line in f:
            if "=" in line:
                k, v = line.rstrip("\n").split("=", 1)
                meta[k] = v
    raw = {}  # (workload, fs) -> [values or None]
    with open(results_path) as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if len(parts) != 4:
                continue
            _, wl, fs, val = parts
            try:
                num = float(val)
            except ValueError:
                num = None
            raw.setdefault((wl, fs), []).append(num)
    return meta, raw


def median(raw, wl, fs):
    vals = [v for v in raw.get((wl, fs), []) if v is not None]
    return statistics.median(vals) if vals else None


def fmt(v, unit):
    if v is None:
        return "n/a"
    if unit == "s":
        return "%.2f" % v
    if unit == "MiB":
        return "%.1f" % v
    return "%.0f" % v


def speed(raw, wl, fs, higher):
    """A value where more is better (times are inverted)."""
    v = median(raw, wl, fs)
    if v is None or v <= 0:
        return None
    return v if higher else 1.0 / v


def ratio(raw, wl, a, b, higher):
    sa, sb = speed(raw, wl, a, higher), speed(raw, wl, b, higher)
    if sa is None or sb is None:
        return None
    return sa / sb


def label(text, meta):
    return text.format(seq=meta.get("seq_mib", "?"), fio=meta.get("fio_mib", "?"))


def md_table(header, rows):
    out = ["| " + " | ".join(header) + " |",
           "|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|"]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(out)


def tables(meta, raw, fslist):
    peers = [f for f in fslist if f != SUBJECT]
    absolute = []
    for key, text, unit, _ in WORKLOADS:
        absolute.append([label(text, meta), unit] +
                        [fmt(median(raw, key, fs), unit) for fs in fslist])
    for key, text in MEMORY:
        row = [text, "MiB"]
        for fs in fslist:
            v = median(raw, key, fs)
            row.append("—" if fs == "tmpfs" else fmt(None if v is None else v / 1024, "MiB"))
        absolute.append(row)
    rel = []
    for key, text, _, higher in WORKLOADS:
        cells = []
        for p in peers:
            r = ratio(raw, key, SUBJECT, p, higher)
            cells.append("n/a" if r is None else "%.2f" % r)
        rel.append([SHORT[key]] + cells)
    for key, text in MEMORY:
        cells = []
        for p in peers:
            a, b = median(raw, key, SUBJECT), median(raw, key, p)
            cells.append("—" if p == "tmpfs" else
                         ("n/a" if not a or not b else "%.2f" % (a / b)))
        rel.append([key.replace("_", " ") + " (memory)"] + cells)
    return (["workload", "unit"] + fslist, absolute), (["workload"] + ["vs " + p for p in peers], rel)


def meta_fslist(meta):
    return meta.get("fs_list", "tmpfs passthrough gocryptfs securefs cloakfs").split()


def standing(raw, fslist):
    """One line per workload: where cloakfs ranks among the encrypted peers."""
    # cloakfs-wb and cloakfs-uring are cloakfs with an option, not peers to beat.
    enc = [f for f in fslist if f not in ("tmpfs", "passthrough") and
           not f.startswith(SUBJECT + "-")]
    lines, wins, counted = [], 0, 0
    for key, _, _, higher in WORKLOADS:
        s = {f: speed(raw, key, f, higher) for f in enc}
        if s.get(SUBJECT) is None:
            lines.append("- %s: cloakfs n/a" % SHORT[key])
            continue
        others = {f: v for f, v in s.items() if f != SUBJECT and v is not None}
        if not others:
            continue
        counted += 1
        best = max(others, key=others.get)
        r = s[SUBJECT] / others[best]
        if r >= 1:
            wins += 1
        pt = ratio(raw, key, SUBJECT, "passthrough", higher)
        pt_txt = "" if pt is None else "; %.0f%% of passthrough" % (100 * pt)
        lines.append("- %s: %s (%.2fx the best other encrypted peer, %s%s)" %
                     (SHORT[key], "leads" if r >= 1 else "behind", r, best, pt_txt))
    head = "cloakfs leads the encrypted peers on %d of %d workloads." % (wins, counted)
    return head, lines


def raw_table(raw, fslist):
    rows = []
    for key, _, unit, _ in WORKLOADS:
        rows.append([SHORT[key]] + [" / ".join(fmt(v, unit) for v in raw.get((key, fs), []))
                                    for fs in fslist])
    return ["workload"] + fslist, rows


def plot(raw, fslist, png):
    bars = [f for f in fslist if f != "passthrough"]
    with tempfile.NamedTemporaryFile("w", suffix=".dat", delete=False) as dat:
        dat.write("workload " + " ".join(bars) + "\n")
        for key, _, _, higher in WORKLOADS:
            vals = []
            for f in bars:
                r = ratio(raw, key, f, "passthrough", higher)
                vals.append("%.4f" % r if r else "NaN")
            dat.write('"%s" %s\n' % (SHORT[key], " ".join(vals)))
        dat_path = dat.name
    script = """
set terminal pngcairo size 1400,650 font ",11" noenhanced
set output '%s'
set title "Speed relative to FUSE passthrough (passthrough = 1; higher is better; times inverted)"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set logscale y 2
set ytics (0.125, 0.25, 0.5, 1, 2, 4, 8, 16, 32, 64)
set grid ytics
set key top left
set xtics rotate by -25
set arrow from graph 0, first 1 to graph 1, first 1 nohead lw 2 dt 2
plot for [i=2:%d] '%s' using i:xtic(1) title columnheader(i)
""" % (png, len(bars) + 1, dat_path)
    res = subprocess.run(["gnuplot"], input=script, text=True, capture_output=True)
    if res.returncode != 0:
        # Older or smaller builds lack pngcairo.
        script = script.replace("pngcairo", "png")
        res = subprocess.run(["gnuplot"], input=script, text=True, capture_output=True)
    os.unlink(dat_path)
    if res.returncode != 0:
        sys.stderr.write("gnuplot failed: %s\n" % res.stderr.strip())
        return False
    return True


def text_table(header, rows):
    widths = [max(len(str(r[i])) for r in [header] + rows) for i in range(len(header))]
    line = lambda r: "  ".join(str(c).ljust(widths[0]) if i == 0 else str(c).rjust(widths[i])
                               for i, c in enumerate(r))
    return "\n".join([line(header), "  ".join("-" * w for w in widths)] + [line(r) for r in rows])


def markdown(meta, raw, fslist, abs_t, rel_t, stand, png_name):
    m = meta
    quick = m.get("quick") == "1"
    versions = "\n".join("- %s: %s" % (f, m.get("version_" + f, "n/a"))
                         for f in fslist if f != "tmpfs")
    peak_at = ", ".join("%s in the mount from %s (mounted .. unmounted)" % (f, m["peak_at_" + f]) for f in fslist
                        if "peak_at_" + f in m)
    head, lines = stand
    return f"""# cloakfs performance

Generated by `bench/run`{" in QUICK mode (smoke test: small sizes, one repetition)" if quick else ""}
on {m.get("date", "?")}; {m.get("repeat")} repetition(s), medians reported; the run took
{m.get("duration", "?")} s. Do not edit by hand: rerun `sudo bench/run`.

## Machine

- CPUs: {m.get("nproc")} x {m.get("cpu")}
- RAM: {m.get("ram")}; kernel {m.get("kernel")}
- load average at start / end: {m.get("load_start")} / {m.get("load_end")}
  (the machine may be shared: interleaving spreads any noise over all file systems)
- free page reporting: {m.get("page_reporting", "not present or left as it was")}
- FUSE io_uring: {m.get("fuse_io_uring", "left as it was (cloakfs-uring not run)")}

## Versions

{versions}
- fio: {m.get("fio")}; libfuse: {m.get("libfuse")}
- cloakfs commit: {m.get("cloakfs_commit", "n/a")}{"; " + m["cloakfs_build_note"] if "cloakfs_build_note" in m else ""}

## Method

All backing directories, mount points and inputs sit on one private tmpfs, so
no disk is involved: the figures are CPU and FUSE costs. Each workload runs on
every file system in turn ({", ".join(meta_fslist(m))},
then again), {m.get("repeat")} time(s); the figure is the median.

- **tmpfs**: the native file system, no FUSE: the upper bound.
- **passthrough**: libfuse's `passthrough_ll.c` example (default options,
  `-o source=`), no encryption: the FUSE ceiling.
- **gocryptfs** (`-init -scryptn 10`), **securefs** (`create --pbkdf
  pkcs5-pbkdf2-hmac-sha256 --rounds 1`) and **cloakfs** (`init --kdf-memory-mib 8
  --kdf-iterations 1`): default mount options; only the key derivation is made
  cheap, which changes nothing after mount.
- **cloakfs-wb**: the same cloakfs mounted with `-o writeback_cache`, the
  kernel's write-back cache (off by default, see PERFORMANCE-ANALYSIS.md for
  its trade-offs). Shown for what the option buys; the standing above counts
  default cloakfs only.
- **cloakfs-uring**: the same cloakfs serving through the kernel's FUSE
  io_uring queues (the fuse module's `enable_uring`, off by default, is on
  for the run and the other cloakfs columns are mounted `-o no_io_uring`).
  Not counted in the standing either.
- Sequential: {m.get("seq_mib")} MiB of random data, `dd bs=1M conv=fsync` in, then
  unmount + mount (an empty page cache) and `dd bs=1M` out. The first repetition
  also compares the data read back with what was written (`cmp`).
- Random: fio, 4 KiB blocks, `ioengine=psync`, direct={m.get("fio_direct")},
  {m.get("fio_seconds")} s per run on a {m.get("fio_mib")} MiB file, after a remount.
  O_DIRECT bypasses the page cache, so every request reaches the file system
  (buffered random reads would be served from the page cache after a few seconds).
- Small files: a tarball of real trees from /usr ({m.get("tree")});
  `tar -x` into the mount; then after a remount `ls -lR`; after another remount
  `find -type f -exec cat`; then `rm -rf`.
- Memory: the daemon's VmRSS one second after mounting, and its VmHWM read
  before every unmount (peak: {peak_at or "n/a"}).

## Absolute figures (medians)

{md_table(*abs_t)}

## cloakfs relative to each file system

Speed ratio: above 1 means cloakfs is faster (for the timed workloads, the
inverse ratio of times). For memory, cloakfs's RSS over the other's (below 1:
cloakfs uses less).

{md_table(*rel_t)}

{head}

{chr(10).join(lines)}

Where each figure comes from, what bounds it on this kind of machine, and
what was changed to get there: [PERFORMANCE-ANALYSIS.md](PERFORMANCE-ANALYSIS.md).

![Speed relative to FUSE passthrough]({png_name})

## Every repetition

{md_table(*raw_table(raw, fslist))}
"""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--results", required=True)
    ap.add_argument("--meta", required=True)
    ap.add_argument("--markdown", required=True)
    ap.add_argument("--png", required=True)
    a = ap.parse_args()
    meta, raw = load(a.results, a.meta)
    fslist = meta_fslist(meta)
    abs_t, rel_t = tables(meta, raw, fslist)
    stand = standing(raw, fslist)
    print("\nAbsolute figures (medians of %s repetition(s))\n" % meta.get("repeat"))
    print(text_table(*abs_t))
    print("\ncloakfs relative to each (speed ratio, >1 = cloakfs faster; memory: RSS ratio)\n")
    print(text_table(*rel_t))
    print("\n" + stand[0])
    print("\n".join(stand[1]))
    if not plot(raw, fslist, a.png):
        sys.stderr.write("no chart written\n")
    png_name = a.png.rsplit("/", 1)[-1]
    with open(a.markdown, "w") as f:
        f.write(markdown(meta, raw, fslist, abs_t, rel_t, stand, png_name))
    return 0


if __name__ == "__main__":
    sys.exit(main())
