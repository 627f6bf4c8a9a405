"""fsck corruption suite: a volume built through a real cloakfs mount (nested
directories, long names, symlinks, hard links, xattrs, sparse and empty
files, sizes around block boundaries); each damage is applied to a fresh
`cp -a` copy of its backing directory, then fsck must report it with the
right plaintext path and kind (exit 4), the mount must answer EIO rather
than wrong data, and --repair / --salvage must do what they promise."""

import errno
import json
import os
import stat
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fscktest import (B, H, SB, Env, check, expect_eio, flip, main, pattern, read)  # noqa: E402

LONG_FILE = "L" * 200 + ".txt"           # > 159 bytes: a long backing name
LONG_DIR = "D" * 180
SIZES = [0, 1, B - 1, B, B + 1, 2 * B - 1, 2 * B, 2 * B + 1, 3 * B + 5, 256 * B + 17]

env = Env()
BASE = env.path("base")
DATA = {}      # plaintext path -> bytes
INO = {}       # plaintext path -> inode (the daemon passes backing inodes through)
REL = {}       # inode -> backing path relative to BASE


def build():
    env.init(BASE)
    with env.mounted(BASE) as m:
        def put(rel, data):
            with open(os.path.join(m, rel), "wb") as f:
                f.write(data)
            DATA["/" + rel] = data
        os.makedirs(os.path.join(m, "docs/deep/er"))
        os.makedirs(os.path.join(m, LONG_DIR, "inner"))
        for i, n in enumerate(SIZES):
            put("docs/size_%d" % n, pattern(i, n))
        put("docs/deep/er/nested", pattern(100, 5000))
        put(LONG_FILE, pattern(101, 10000))
        put(LONG_DIR + "/inner/f", pattern(102, 3 * B))
        put("empty", b"")
        # sparse: holes around a written middle
        with open(os.path.join(m, "sparse"), "wb") as f:
            f.truncate(64 * B)
            f.seek(20 * B + 7)
            f.write(b"middle")
        DATA["/sparse"] = bytes(20 * B + 7) + b"middle" + bytes(64 * B - 20 * B - 13)
        os.symlink("docs/size_1", os.path.join(m, "link"))
        os.symlink("x" * 1000, os.path.join(m, "docs/longlink"))
        os.link(os.path.join(m, "docs/size_1"), os.path.join(m, "hardlink"))
        os.setxattr(os.path.join(m, "docs/size_4096"), "user.colour", b"blue")
        os.setxattr(os.path.join(m, "docs"), "user.dirattr", b"on a directory")
        for dp, dns, fns in os.walk(m):
            for n in dns + fns:
                p = os.path.join(dp, n)
                INO["/" + os.path.relpath(p, m)] = os.lstat(p).st_ino
        for p, d in DATA.items():
            check(read(m + p) == d, "readback of %s through the mount" % p)


def backing(cipher, plain):
    """Backing path of a plaintext path in a copy of BASE (cp -a renumbers
    inodes: the mapping is made once in BASE)."""
    if not REL:
        for dp, dns, fns in os.walk(BASE):
            for n in dns + fns:
                q = os.path.join(dp, n)
                if not n.endswith(".name"):
                    REL.setdefault(os.lstat(q).st_ino, os.path.relpath(q, BASE))
    return os.path.join(cipher, REL[INO[plain]])


def fresh(name):
    return env.copy(BASE, name)


def find(doc, kind, path=None, backing_suffix=None):
    hits = [p for p in doc["problems"] if p["kind"] == kind and
            (path is None or p["path"] == path) and
            (backing_suffix is None or p["backing"].endswith(backing_suffix))]
    check(hits, "no %s problem for %s in %s" % (kind, path or backing_suffix,
                                                 json.dumps(doc["problems"], indent=1)))
    return hits[0]


def expect_only(doc, kinds):
    got = sorted(p["kind"] for p in doc["problems"])
    check(got == sorted(kinds), "problems: got %s, want %s\n%s" % (
        got, sorted(kinds), json.dumps(doc["problems"], indent=1)))


def fsck_text_has(c, *needles, rc_want=4):
    rc, out, err = env.fsck(c)
    check(rc == rc_want, "fsck rc %d (want %d): %s %s" % (rc, rc_want, out, err))
    for n in needles:
        check(n in out, "fsck output lacks %r:\n%s" % (n, out))
    return out


def clean_after(c):
    rc, doc = env.fsck_json(c)
    check(rc == 0 and doc["status"] == "clean", "not clean after repair: %s" % json.dumps(doc))


# ----------------------------------------------------------------- cases


def case_clean():
    c = fresh("clean")
    rc, out, err = env.fsck(c)
    check(rc == 0 and "clean" in out, "clean volume: rc %d %s %s" % (rc, out, err))
    rc, doc = env.fsck_json(c, "--jobs", "1")
    check(rc == 0 and doc["problems"] == [], "json of a clean volume: %s" % doc)
    s = doc["summary"]
    nfiles = len(set(INO[p] for p in DATA))
    check(s["files"] == nfiles, "files %d, want %d" % (s["files"], nfiles))
    check(s["directories"] == 6 and s["symlinks"] == 2, "summary counts %s" % s)
    want_bytes = sum(len(d) for p, d in DATA.items() if p != "/hardlink")
    check(s["bytes_verified"] == want_bytes, "bytes %d want %d" % (s["bytes_verified"], want_bytes))
    for k in ("seconds", "problems_by_kind", "corrected", "uncorrected", "jobs"):
        check(k in s, "summary lacks %s" % k)


def case_flipped_bits():
    c = fresh("flip")
    p = "/docs/size_%d" % (256 * B + 17)
    f = backing(c, p)
    for blk in (1, 2, 100):          # 1 and 2 merge into one range
        flip(f, H + blk * SB + 12 + 100)
    rc, doc = env.fsck_json(c)
    check(rc == 4, "rc %d" % rc)
    pr = find(doc, "block-corrupt", p)
    expect_only(doc, ["block-corrupt"])
    check(pr["ranges"] == [{"offset": B, "length": 2 * B}, {"offset": 100 * B, "length": B}],
          "ranges %s" % pr["ranges"])
    fsck_text_has(c, p + ": block-corrupt", "bytes 4096..12287, 409600..413695")
    with env.mounted(c) as m:
        expect_eio(lambda: read(m + p), "reading the whole damaged file")
        expect_eio(lambda: read(m + p, B + 5, 10), "reading a damaged block")
        check(read(m + p, 0, B) == DATA[p][:B], "block 0 intact")
        check(read(m + p, 3 * B, 97 * B) == DATA[p][3 * B:100 * B], "blocks 3..99 intact")
    sal = env.path("salvage-flip")
    rc, out, err = env.fsck(c, "--salvage", sal)
    check(rc == 4, "salvage rc %d %s" % (rc, err))
    want = bytearray(DATA[p])
    want[B:3 * B] = bytes(2 * B)
    want[100 * B:101 * B] = bytes(B)
    check(read(sal + "/files" + p) == bytes(want), "salvaged copy with zeroed blocks")
    rep = read(sal + "/report.txt").decode()
    check(p + "\t%d\t[4096, 12288) [409600, 413696)" % len(want) in rep, "report: " + rep)
    rc, doc = env.fsck_json(c, "--repair")
    check(rc == 4 and not doc["problems"][0]["repaired"], "content damage is not repairable")


def case_truncated_impossible():
    c = fresh("trunc")
    p = "/docs/size_%d" % (3 * B + 5)
    f = backing(c, p)
    os.truncate(f, H + 2 * SB + 10)   # 10 bytes of a block: no plaintext
    rc, doc = env.fsck_json(c)
    check(rc == 4, "rc %d" % rc)
    pr = find(doc, "size-invalid", p)
    check(pr["ranges"] == [{"offset": 2 * B, "length": None}], "ranges %s" % pr["ranges"])
    with env.mounted(c) as m:
        expect_eio(lambda: read(m + p), "reading a file of impossible size")
    sal = env.path("salvage-trunc")
    env.fsck(c, "--salvage", sal)
    check(read(sal + "/files" + p) == DATA[p][:2 * B], "salvaged whole blocks")


def case_truncated_block_boundary():
    # A cut at a stored-block boundary leaves a valid, shorter file: the format
    # authenticates blocks, not the file length, so fsck cannot see it.
    c = fresh("trunc-boundary")
    p = "/docs/size_%d" % (3 * B + 5)
    os.truncate(backing(c, p), H + 2 * SB)
    rc, out, _ = env.fsck(c)
    check(rc == 0, "a block-boundary cut is a valid file (rc %d): %s" % (rc, out))
    with env.mounted(c) as m:
        check(read(m + p) == DATA[p][:2 * B], "reads as the shorter prefix")


def case_header():
    c = fresh("header")
    p1, p2 = "/docs/size_%d" % (2 * B + 1), "/docs/deep/er/nested"
    flip(backing(c, p1), 0)        # magic: ID and epoch intact -> provably repairable
    flip(backing(c, p2), 15)       # file ID: nothing authenticates
    rc, doc = env.fsck_json(c)
    check(rc == 4, "rc %d" % rc)
    expect_only(doc, ["header-corrupt", "header-corrupt"])
    lost = find(doc, "header-corrupt", p2)
    check(lost["ranges"] == [{"offset": 0, "length": 5000}], "lost range %s" % lost["ranges"])
    with env.mounted(c) as m:
        expect_eio(lambda: read(m + p1), "damaged header")
        expect_eio(lambda: read(m + p2), "damaged header")
    rc, doc = env.fsck_json(c, "--repair")
    check(rc == 5, "one repaired, one not: rc %d" % rc)
    check(find(doc, "header-corrupt", p1)["repaired"], "magic repaired")
    with env.mounted(c) as m:
        check(read(m + p1) == DATA[p1], "content after header repair")


def case_dir_record_missing():
    c = fresh("norecord")
    d = backing(c, "/docs/deep")
    os.unlink(os.path.join(d, ".cloakfs.dir"))
    rc, doc = env.fsck_json(c)
    check(rc == 4, "rc %d" % rc)
    find(doc, "dir-record-missing", "/docs/deep")
    with env.mounted(c) as m:
        expect_eio(lambda: os.listdir(m + "/docs/deep"), "listing a directory without record")
    rc, doc = env.fsck_json(c, "--repair")
    check(rc == 1, "repair rc %d %s" % (rc, doc))
    clean_after(c)
    with env.mounted(c) as m:
        check(os.listdir(m + "/docs/deep") == [], "repaired directory is empty")
        lf = os.listdir(m + "/lost+found")
        check(len(lf) == 1, "lost+found: %s" % lf)
        check(read(m + "/lost+found/" + lf[0] + "/nested") == DATA["/docs/deep/er/nested"],
              "the subdirectory keeps its own names and content")


def case_corrupted_name():
    c = fresh("badname")
    p = "/docs/size_1"
    f = backing(c, "/docs/size_%d" % (B + 1))
    d, n = os.path.split(f)
    bad = n[:20] + ("A" if n[20] != "A" else "B") + n[21:]
    os.rename(f, os.path.join(d, bad))
    rc, doc = env.fsck_json(c)
    check(rc == 4, "rc %d" % rc)
    pr = find(doc, "name-corrupt", None, bad)
    check(pr["path"] is None and "/docs" in pr["detail"], "backing path + parent: %s" % pr)
    with env.mounted(c) as m:
        names = os.listdir(m + "/docs")
        check("size_%d" % (B + 1) not in names and all(x.startswith(("size_", "deep", "long"))
              for x in names), "listing shows no garbage: %s" % names)
        check(read(m + p) == DATA[p], "other entries intact")
    rc, doc = env.fsck_json(c, "--repair")
    check(rc == 1, "repair rc %d" % rc)
    clean_after(c)
    with env.mounted(c) as m:
        check(read(m + "/lost+found/" + bad) == DATA["/docs/size_%d" % (B + 1)],
              "quarantined under its backing name, content intact")


def case_moved_entry():
    c = fresh("moved")
    p = "/docs/size_%d" % B
    f = backing(c, p)
    os.rename(f, os.path.join(c, os.path.basename(f)))
    rc, doc = env.fsck_json(c)
    check(rc == 4, "rc %d" % rc)
    pr = find(doc, "entry-misplaced")
    check("/docs" in pr["detail"] and "size_4096" in pr["detail"], "origin named: %s" % pr)
    rc, doc = env.fsck_json(c, "--repair")
    check(rc == 1, "repair rc %d" % rc)
    with env.mounted(c) as m:
        check(read(m + "/lost+found/size_4096") == DATA[p], "quarantined under its real name")
        check(os.getxattr(m + "/lost+found/size_4096", "user.colour") == b"blue", "xattr kept")


def case_dir_record_recoverable():
    # Only the magic is hit: the ID is intact and the names authenticate under
    # it, which proves it; --repair rewrites the record with it.
    c = fresh("record-magic")
    flip(os.path.join(backing(c, "/docs"), ".cloakfs.dir"), 1)
    rc, doc = env.fsck_json(c)
    check(rc == 4, "rc %d" % rc)
    expect_only(doc, ["dir-record-corrupt"])
    find(doc, "dir-record-corrupt", "/docs")
    # the ID still worked, so everything below was checked by name
    flip(backing(c, "/docs/size_%d" % (2 * B)), H + 20)
    rc, doc = env.fsck_json(c, "--repair")
    check(rc == 5, "record fixed, block not: rc %d" % rc)
    find(doc, "block-corrupt", "/docs/size_%d" % (2 * B))
    with env.mounted(c) as m:
        check(read(m + "/docs/size_1") == DATA["/docs/size_1"], "names readable again")


def case_root_record_missing():
    c = fresh("rootrecord")
    os.unlink(os.path.join(c, ".cloakfs.dir"))
    rc, doc = env.fsck_json(c)
    check(rc == 4, "rc %d" % rc)
    find(doc, "dir-record-missing", "/")
    rc, doc = env.fsck_json(c, "--repair")
    check(rc == 1, "repair rc %d: %s" % (rc, json.dumps(doc["problems"])))
    clean_after(c)
    with env.mounted(c) as m:
        check(os.listdir(m) == ["lost+found"], "root holds only lost+found: %s" % os.listdir(m))
        contents = set()
        for dp, dns, fns in os.walk(m + "/lost+found"):
            contents.update(read(os.path.join(dp, n)) for n in fns
                            if not os.path.islink(os.path.join(dp, n)))
        check(DATA["/docs/deep/er/nested"] in contents and DATA["/" + LONG_FILE] in contents,
              "file contents survive in lost+found")


def case_damage_below_lost_name():
    # A long directory name without its sidecar: the names below it still
    # decrypt (they use the subdirectory's own ID) but its own name is lost,
    # so damage below is reported by backing path.
    c = fresh("below")
    d = backing(c, "/" + LONG_DIR)
    os.unlink(d + ".name")
    flip(backing(c, "/%s/inner/f" % LONG_DIR), H + SB + 50)
    rc, doc = env.fsck_json(c)
    check(rc == 4, "rc %d" % rc)
    pr = find(doc, "block-corrupt")
    check(pr["path"] is None and pr["backing"].startswith(os.path.basename(d) + "/"),
          "backing path of the damaged file: %s" % pr)
    check(pr["ranges"] == [{"offset": B, "length": B}], "range %s" % pr["ranges"])
    sal = env.path("salvage-below")
    env.fsck(c, "--salvage", sal)
    got = read(os.path.join(sal, "files", pr["backing"]))
    want = DATA["/%s/inner/f" % LONG_DIR]
    check(got == want[:B] + bytes(B) + want[2 * B:], "salvaged by backing path")


def long_entry(c):
    f = backing(c, "/" + LONG_FILE)
    check(os.path.basename(f).startswith("cloakfs.long."), "long backing name: %s" % f)
    return f


def case_orphan_sidecar():
    c = fresh("orphan")
    side = os.path.join(c, "cloakfs.long." + "A" * 43 + ".name")
    with open(side, "w") as f:
        f.write("B" * 300)
    rc, doc = env.fsck_json(c)
    check(rc == 4, "rc %d" % rc)
    expect_only(doc, ["sidecar-orphan"])
    rc, doc = env.fsck_json(c, "--repair")
    check(rc == 1 and not os.path.exists(side), "orphan removed (rc %d)" % rc)
    clean_after(c)


def case_missing_sidecar():
    c = fresh("nosidecar")
    f = long_entry(c)
    os.unlink(f + ".name")
    rc, doc = env.fsck_json(c)
    check(rc == 4, "rc %d" % rc)
    expect_only(doc, ["sidecar-missing"])
    with env.mounted(c) as m:
        check(LONG_FILE not in os.listdir(m), "no name without its sidecar")
    rc, doc = env.fsck_json(c, "--repair")
    check(rc == 1, "repair rc %d" % rc)
    clean_after(c)
    with env.mounted(c) as m:
        q = m + "/lost+found/" + os.path.basename(f)
        check(read(q) == DATA["/" + LONG_FILE], "content kept in lost+found")


def case_misnamed_sidecar():
    # The only way to recreate a sidecar: its content (the encoded name) is
    # still somewhere, e.g. under a wrong name; SHA-256 proves it.
    c = fresh("misnamed")
    f = long_entry(c)
    os.rename(f + ".name", os.path.join(c, "cloakfs.long." + "Q" * 43 + ".name"))
    rc, doc = env.fsck_json(c)
    check(rc == 4, "rc %d" % rc)
    expect_only(doc, ["sidecar-missing"])
    rc, doc = env.fsck_json(c, "--repair")
    check(rc == 1, "repair rc %d" % rc)
    clean_after(c)
    with env.mounted(c) as m:
        check(read(m + "/" + LONG_FILE) == DATA["/" + LONG_FILE], "long name back")


def case_symlink():
    c = fresh("symlink")
    f = backing(c, "/link")
    t = os.readlink(f)
    os.unlink(f)
    os.symlink(t[:30] + ("A" if t[30] != "A" else "B") + t[31:], f)
    rc, doc = env.fsck_json(c)
    check(rc == 4, "rc %d" % rc)
    find(doc, "symlink-corrupt", "/link")
    with env.mounted(c) as m:
        expect_eio(lambda: os.readlink(m + "/link"), "readlink of a damaged target")


def case_xattr():
    c = fresh("xattr")
    p = "/docs/size_%d" % B
    f = backing(c, p)
    names = [n for n in os.listxattr(f) if n.startswith("user.")]
    v = bytearray(os.getxattr(f, names[0]))
    v[-1] ^= 1
    os.setxattr(f, names[0], bytes(v))
    rc, doc = env.fsck_json(c)
    check(rc == 4, "rc %d" % rc)
    pr = find(doc, "xattr-value-corrupt", p)
    check("user.colour" in pr["detail"], "names the attribute: %s" % pr)
    with env.mounted(c) as m:
        expect_eio(lambda: os.getxattr(m + p, "user.colour"), "getxattr of a damaged value")
        check(read(m + p) == DATA[p], "content unaffected")


def case_stray_and_temp():
    c = fresh("stray")
    d = backing(c, "/docs")
    with open(os.path.join(d, "notes.txt"), "w") as f:
        f.write("plaintext left here by hand\n")
    os.mkdir(os.path.join(d, ".cloakfs.mkdir.0123456789abcdef"))
    with open(os.path.join(d, ".cloakfs.mkdir.0123456789abcdef", ".cloakfs.dir"), "wb") as f:
        f.write(bytes(32))
    with open(os.path.join(c, "cloakfs.conf.tmp"), "w") as f:
        f.write("{")
    rc, doc = env.fsck_json(c)
    check(rc == 4, "rc %d" % rc)
    expect_only(doc, ["stray-entry", "temp-leftover", "temp-leftover"])
    find(doc, "stray-entry", None, "/notes.txt")
    with env.mounted(c) as m:
        check("notes.txt" not in os.listdir(m + "/docs"), "stray hidden")
    rc, doc = env.fsck_json(c, "--repair")
    check(rc == 5, "temp removed, stray left: rc %d" % rc)
    check(os.path.exists(os.path.join(d, "notes.txt")), "stray plaintext file left alone")
    check(not os.path.exists(os.path.join(c, "cloakfs.conf.tmp")), "conf.tmp removed")
    check(not os.path.exists(os.path.join(d, ".cloakfs.mkdir.0123456789abcdef")), "tmp dir removed")


def case_config():
    c = fresh("config")
    conf = os.path.join(c, "cloakfs.conf")
    doc = json.load(open(conf))
    doc["block_size"] = 8192
    json.dump(doc, open(conf, "w"))
    rc, out, err = env.fsck(c)
    check(rc == 8 and "MAC mismatch" in err, "tampered config: rc %d %s" % (rc, err))
    c = fresh("config2")
    with open(os.path.join(c, "cloakfs.conf"), "a") as f:
        f.write("garbage")
    rc, out, err = env.fsck(c)
    check(rc == 8 and "corrupt" in err, "corrupt config: rc %d %s" % (rc, err))
    rc, out, err = env.fsck(c, "--passfile", "/nonexistent")
    check(rc == 8, "unreadable passfile: rc %d" % rc)


def case_wrong_passphrase_mounted_usage():
    c = fresh("pw")
    wrong = env.path("wrong")
    open(wrong, "w").write("nope\n")
    from fscktest import run
    rc, out, err = run(["fsck", "--passfile", wrong, c])
    check(rc == 8 and "wrong passphrase" in err, "wrong passphrase: %d %s" % (rc, err))
    rc, out, err = run(["fsck", "--bogus", c])
    check(rc == 16, "usage error: %d" % rc)
    rc, out, err = run(["fsck", "--jobs", "0", c])
    check(rc == 16, "bad --jobs: %d" % rc)
    with env.mounted(c):
        rc, out, err = env.fsck(c)
        check(rc == 8 and "mounted" in err, "mounted volume refused: %d %s" % (rc, err))


def case_read_only_without_repair():
    c = fresh("ro")
    flip(backing(c, "/docs/size_1"), H + 12)
    os.unlink(long_entry(c) + ".name")
    before = snapshot(c)
    env.fsck(c)
    env.fsck(c, "--json")
    check(snapshot(c) == before, "fsck without --repair changed the backing directory")


def snapshot(c):
    s = {}
    for dp, dns, fns in os.walk(c):
        for n in dns + fns:
            p = os.path.join(dp, n)
            st = os.lstat(p)
            s[p] = (st.st_mode, st.st_size, st.st_mtime_ns,
                    read(p) if stat.S_ISREG(st.st_mode) else None)
    return s


if __name__ == "__main__":
    try:
        build()
        main([(n, f) for n, f in sorted(globals().items()) if n.startswith("case_")])
    finally:
        env.cleanup()
