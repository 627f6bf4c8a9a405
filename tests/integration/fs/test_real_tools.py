#!/usr/bin/python3
"""Ordinary programs on a cloakfs mount: cp -a, rsync -a, diff -r, tar, git,
make + cc, and SQLite transactions with an integrity check."""

import os
import shutil
import sqlite3
import stat
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import FAST_BASE, Skip, Suite, Volume, check, check_eq, log, run  # noqa: E402

suite = Suite("test_real_tools", watchdog=280)
TARGET_FILES = 2000


def include_subset():
    """Top-level entries of /usr/include, in order, until ~2500 files."""
    picked, n = [], 0
    for name in sorted(os.listdir("/usr/include")):
        p = os.path.join("/usr/include", name)
        if os.path.islink(p):
            continue
        if os.path.isdir(p):
            c = sum(len(f) for _, _, f in os.walk(p))
            if c > 1500:
                continue
        else:
            c = 1
        picked.append(name)
        n += c
        if n >= TARGET_FILES:
            break
    return picked, n


def need(tool):
    if shutil.which(tool) is None:
        raise Skip("%s is not installed" % tool)


def diff_r(a, b):
    rc, out, err = run(["diff", "-r", "--no-dereference", a, b], timeout=240)
    check(rc == 0, "diff -r %s %s: %s%s" % (a, b, out[:2000], err[:500]))


@suite.case
def cp_a_rsync_a_diff_r(vol):
    """cp -a and rsync -a of a /usr/include subset, diff -r, no-op second rsync"""
    need("rsync")
    names, n = include_subset()
    log("  %d entries of /usr/include, %d files" % (len(names), n))
    # a local staging copy, so one diff -r compares a whole tree
    stage = os.path.join(vol.root, "stage")
    os.mkdir(stage)
    run(["cp", "-a"] + [os.path.join("/usr/include", x) for x in names] + [stage + "/"],
        timeout=120, check_rc=0)
    cpd = vol.m("cp")
    t = time.time()
    run(["cp", "-a", stage, cpd], timeout=240, check_rc=0)
    log("  cp -a in %.1fs" % (time.time() - t))
    diff_r(stage, cpd)
    # cp -a preserves mode and mtime
    for dirpath, dirnames, filenames in os.walk(stage):
        for x in (dirnames + filenames)[:5]:
            p = os.path.join(dirpath, x)
            a, b = os.lstat(p), os.lstat(os.path.join(cpd, os.path.relpath(p, stage)))
            check_eq((stat.S_IMODE(b.st_mode), b.st_mtime_ns),
                     (stat.S_IMODE(a.st_mode), a.st_mtime_ns),
                     "mode/mtime preserved by cp -a for %s" % p)
    rsd = vol.m("rsync")
    t = time.time()
    run(["rsync", "-a", stage + "/", rsd + "/"], timeout=240, check_rc=0)
    log("  rsync -a in %.1fs" % (time.time() - t))
    diff_r(stage, rsd)
    rc, out, err = run(["rsync", "-ai", stage + "/", rsd + "/"], timeout=240, check_rc=0)
    changed = [ln for ln in out.splitlines() if ln[:1] in (">", "c", "<", ".")]
    check(not changed, "a second rsync -a found differences (times/sizes not stable): %s"
          % changed[:10])
    diff_r(cpd, rsd)


@suite.case
def tar_round_trip(vol):
    """tar cf into the mount, extract into the mount, diff -r"""
    names, _ = include_subset()
    names = names[:8]
    arch = vol.m("inc.tar")
    run(["tar", "-C", "/usr/include", "-cf", arch] + names, timeout=240, check_rc=0)
    out = vol.m("untar")
    os.mkdir(out)
    run(["tar", "-C", out, "-xpf", arch], timeout=240, check_rc=0)
    for x in names:
        diff_r(os.path.join("/usr/include", x), os.path.join(out, x))
    rc, lst, err = run(["tar", "-tf", arch], timeout=60, check_rc=0)
    check(len(lst.splitlines()) > len(names), "tar -t lists too few members")
    # and back out of the mount: archive the extracted tree to a local file
    local = os.path.join(vol.root, "back.tar")
    run(["tar", "-C", out, "-cf", local] + names, timeout=240, check_rc=0)
    back = os.path.join(vol.root, "back")
    os.mkdir(back)
    run(["tar", "-C", back, "-xf", local], timeout=240, check_rc=0)
    for x in names:
        diff_r(os.path.join("/usr/include", x), os.path.join(back, x))


@suite.case
def git_repository(vol):
    """git init, add, commit, log, gc, fsck inside the mount"""
    need("git")
    repo = vol.m("repo")
    os.mkdir(repo)
    env = dict(os.environ, HOME=vol.root, GIT_CONFIG_NOSYSTEM="1",
               GIT_AUTHOR_NAME="T", GIT_AUTHOR_EMAIL="t@example.org",
               GIT_COMMITTER_NAME="T", GIT_COMMITTER_EMAIL="t@example.org")

    def git(*args):
        return run(["git", "-C", repo] + list(args), timeout=120, check_rc=0, env=env)[1]

    git("init", "-q")
    for i in range(30):
        with open(os.path.join(repo, "file%02d.txt" % i), "w") as f:
            f.write("line %d\n" % i * (i + 1))
    os.mkdir(os.path.join(repo, "sub"))
    with open(os.path.join(repo, "sub", "nested.c"), "w") as f:
        f.write("int main(void) { return 0; }\n")
    git("add", "-A")
    git("commit", "-q", "-m", "first commit")
    with open(os.path.join(repo, "file00.txt"), "a") as f:
        f.write("changed\n")
    os.rename(os.path.join(repo, "file01.txt"), os.path.join(repo, "renamed.txt"))
    git("add", "-A")
    git("commit", "-q", "-m", "second commit")
    log_out = git("log", "--oneline")
    check_eq(len(log_out.splitlines()), 2, "commits in git log (%r)" % log_out)
    check("second commit" in log_out and "first commit" in log_out, "git log content")
    git("gc", "-q")
    git("fsck", "--full", "--strict")
    check_eq(git("status", "--porcelain"), "", "git status after commits")
    check_eq(git("show", "HEAD:file00.txt"), "line 0\nchanged\n", "git show of a blob")


@suite.case
def make_and_cc(vol):
    """build a small C program with make + cc in the mount (TMPDIR there too) and run it"""
    need("make")
    need("cc")
    proj = vol.m("proj")
    os.makedirs(os.path.join(proj, "tmp"))
    files = {
        "main.c": '#include <stdio.h>\n#include "util.h"\n'
                  'int main(void) { printf("sum=%d\\n", add(40, 2)); return 0; }\n',
        "util.c": '#include "util.h"\nint add(int a, int b) { return a + b; }\n',
        "util.h": "int add(int a, int b);\n",
        "Makefile": "hello: main.o util.o\n\t$(CC) -o $@ main.o util.o\n"
                    "%.o: %.c util.h\n\t$(CC) -O2 -c -o $@ $<\n"
                    "clean:\n\trm -f hello *.o\n",
    }
    for n, c in files.items():
        with open(os.path.join(proj, n), "w") as f:
            f.write(c)
    env = dict(os.environ, TMPDIR=os.path.join(proj, "tmp"))
    run(["make", "-C", proj], timeout=120, check_rc=0, env=env)
    rc, out, err = run([os.path.join(proj, "hello")], timeout=30, check_rc=0)
    check_eq(out, "sum=42\n", "output of the program built in the mount")
    # an incremental rebuild sees the mtime change
    time.sleep(1.1)
    with open(os.path.join(proj, "util.c"), "w") as f:
        f.write('#include "util.h"\nint add(int a, int b) { return a * b; }\n')
    rc, out, err = run(["make", "-C", proj], timeout=120, check_rc=0, env=env)
    check("util.o" in out and "main.o" not in out.replace("main.o util.o", ""),
          "incremental make rebuilt the wrong things: %s" % out)
    check_eq(run([os.path.join(proj, "hello")], timeout=30, check_rc=0)[1], "sum=80\n",
             "output after the incremental rebuild")
    run(["make", "-C", proj, "clean"], timeout=60, check_rc=0)
    check(not os.path.exists(os.path.join(proj, "hello")), "make clean")


def sqlite_workload(path, journal, n):
    db = sqlite3.connect(path, isolation_level=None)
    try:
        db.execute("PRAGMA journal_mode=%s" % journal)
        db.execute("PRAGMA synchronous=FULL")
        db.execute("CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, k TEXT, v BLOB)")
        db.execute("CREATE INDEX IF NOT EXISTS tk ON t(k)")
        for i in range(n):
            db.execute("BEGIN")
            db.execute("INSERT INTO t (k, v) VALUES (?, ?)", ("key%06d" % i, os.urandom(i % 700)))
            if i % 10 == 9:
                db.execute("UPDATE t SET v = ? WHERE id = ?", (b"u" * 3000, i // 2 + 1))
            if i % 50 == 49:
                db.execute("DELETE FROM t WHERE id = ?", (i - 30,))
            db.execute("COMMIT")
        check_eq(db.execute("PRAGMA integrity_check").fetchone()[0], "ok",
                 "PRAGMA integrity_check (%s)" % journal)
        return db.execute("SELECT count(*) FROM t").fetchone()[0]
    finally:
        db.close()


@suite.case
def sqlite_transactions(vol):
    """SQLite: 1,000 transactions in DELETE, 2,000 in WAL journal mode, integrity_check ok"""
    d = vol.m("sqlite")
    os.mkdir(d)
    t = time.time()
    c1 = sqlite_workload(os.path.join(d, "rollback.db"), "DELETE", 1000)
    log("  DELETE journal: 1000 transactions in %.1fs" % (time.time() - t))
    t = time.time()
    c2 = sqlite_workload(os.path.join(d, "wal.db"), "WAL", 2000)
    log("  WAL journal: 2000 transactions in %.1fs" % (time.time() - t))
    check_eq((c1, c2), (1000 - 20, 2000 - 40), "row counts")
    vol.remount()
    for name, rows in (("rollback.db", 980), ("wal.db", 1960)):
        db = sqlite3.connect(os.path.join(d, name))
        try:
            check_eq(db.execute("PRAGMA integrity_check").fetchone()[0], "ok",
                     "integrity_check of %s after remount" % name)
            check_eq(db.execute("SELECT count(*) FROM t").fetchone()[0], rows,
                     "rows of %s after remount" % name)
        finally:
            db.close()


if __name__ == "__main__":
    suite.main(fixture=lambda: Volume("tools", base=FAST_BASE))
