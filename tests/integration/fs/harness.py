"""Shared harness of the cloakfs FUSE integration tests: temporary volumes that
are created with `cloakfs init`, mounted with `cloakfs mount` and ALWAYS
unmounted and removed again, plus small checking helpers and a case runner.

Python 3 standard library only. Every test file builds a Suite, registers
cases and calls suite.main(); the process exits non-zero on any failure."""

import contextlib
import ctypes
import ctypes.util
import errno
import json
import os
import random
import re
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
HEADER_LEN = 32
BLOCK_OVERHEAD = 28
PASSPHRASE = "correct horse battery staple 42"
KDF_ARGS = ["--kdf-memory-mib", "1", "--kdf-iterations", "1", "--kdf-parallelism", "1"]
TMP_BASE = os.environ.get("CLOAKFS_TEST_TMP", "/tmp")
# Heavy tests keep CIPHERDIR in tmpfs: they exercise the daemon, and the disk
# here (ext4 with discard) spends milliseconds per fsync/truncate.
FAST_BASE = os.environ.get("CLOAKFS_TEST_FAST_TMP",
                           "/dev/shm" if os.path.isdir("/dev/shm") else TMP_BASE)

libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)

# The transport under test: "dev" (requests read from /dev/fuse, the default)
# or "io_uring" (CLOAKFS_TEST_TRANSPORT=io_uring): the fuse module's
# enable_uring is switched on for the run and restored after, and every
# mount must then serve through io_uring queues.
TRANSPORT = os.environ.get("CLOAKFS_TEST_TRANSPORT", "dev")
URING_PARAM = "/sys/module/fuse/parameters/enable_uring"


class TestFailure(AssertionError):
    pass


class Skip(Exception):
    """A case that cannot run here (missing tool); reported, not a failure."""


def log(msg):
    print(msg, flush=True)


def check(cond, msg):
    if not cond:
        raise TestFailure(msg)


def check_eq(got, want, what):
    if got != want:
        g, w = got, want
        if isinstance(g, (bytes, bytearray)) and isinstance(w, (bytes, bytearray)):
            raise TestFailure("%s: differs (got %d bytes, want %d bytes, first difference at %s)"
                              % (what, len(g), len(w), first_diff(g, w)))
        raise TestFailure("%s: got %r, want %r" % (what, g, w))


def first_diff(a, b):
    n = min(len(a), len(b))
    for i in range(n):
        if a[i] != b[i]:
            return "offset %d (got 0x%02x, want 0x%02x)" % (i, a[i], b[i])
    return "offset %d (length)" % n


def _short(args):
    r = repr(args)
    return r if len(r) <= 160 else r[:150] + "...(%d chars)" % len(r)


def expect_errno(want, fn, *args, **kw):
    """Calls fn and asserts it raises OSError with an errno in want (int or set)."""
    wants = {want} if isinstance(want, int) else set(want)
    try:
        r = fn(*args, **kw)
    except OSError as e:
        if e.errno not in wants:
            raise TestFailure("%s%s: expected %s, got %s (%s)" % (
                getattr(fn, "__name__", fn), _short(args), "/".join(errno.errorcode[w] for w in wants),
                errno.errorcode.get(e.errno, e.errno), e))
        return e
    raise TestFailure("%s%s: expected %s, but it succeeded (returned %s)" % (
        getattr(fn, "__name__", fn), _short(args), "/".join(errno.errorcode[w] for w in wants),
        _short(r)))


def pattern(seed, n):
    """Deterministic pseudo-random bytes for a seed."""
    return random.Random(seed).randbytes(n)


def backing_size(n, block_size):
    """Backing file size of a file with n plaintext bytes (docs/FORMAT.md §2.3)."""
    if n == 0:
        return None  # 0 or HEADER_LEN: both valid
    nblocks = (n + block_size - 1) // block_size
    return HEADER_LEN + nblocks * BLOCK_OVERHEAD + n


def read_file(path):
    with open(path, "rb") as f:
        return f.read()


def write_file(path, data, mode="wb"):
    with open(path, mode) as f:
        f.write(data)


# ---------------------------------------------------------------- processes


def cloakfs_bin():
    b = os.environ.get("CLOAKFS_BIN") or os.path.join(REPO, "build-it", "tools", "cloakfs")
    if not os.access(b, os.X_OK):
        raise TestFailure("cloakfs binary not found at %s (set CLOAKFS_BIN)" % b)
    return os.path.abspath(b)


def run(argv, timeout=60, check_rc=None, env=None, stdin=subprocess.DEVNULL, cwd=None):
    """Runs a command with stdout/stderr to temp files (a daemonizing child
    that keeps inherited pipes open can't hang us). Returns (rc, out, err)."""
    with tempfile.TemporaryFile() as fo, tempfile.TemporaryFile() as fe:
        try:
            p = subprocess.run(argv, stdout=fo, stderr=fe, stdin=stdin, timeout=timeout, env=env,
                               cwd=cwd)
            rc = p.returncode
        except subprocess.TimeoutExpired:
            rc = None
        fo.seek(0)
        fe.seek(0)
        out = fo.read().decode("utf-8", "replace")
        err = fe.read().decode("utf-8", "replace")
    if rc is None:
        raise TestFailure("command timed out after %ss: %s\nstdout: %s\nstderr: %s"
                          % (timeout, " ".join(argv), out[-2000:], err[-2000:]))
    if check_rc is not None and rc != check_rc:
        raise TestFailure("command %s exited %s (want %s)\nstdout: %s\nstderr: %s"
                          % (" ".join(argv), rc, check_rc, out[-3000:], err[-3000:]))
    return rc, out, err


def _unescape_mountinfo(s):
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), s)


def mount_entry(mnt):
    """(fstype, source, options) of the mount at mnt, or None."""
    mnt = os.path.abspath(mnt)
    try:
        with open("/proc/self/mountinfo") as f:
            lines = f.read().splitlines()
    except OSError:
        return None
    found = None
    for line in lines:
        parts = line.split(" ")
        if len(parts) < 10:
            continue
        sep = parts.index("-")
        if _unescape_mountinfo(parts[4]) == mnt:
            found = (parts[sep + 1], _unescape_mountinfo(parts[sep + 2]), parts[5])
    return found


def is_mounted(mnt):
    e = mount_entry(mnt)
    return e is not None and e[0].startswith("fuse")


def proc_argv(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return [a.decode("utf-8", "replace") for a in f.read().split(b"\0") if a]
    except OSError:
        return None


def pid_alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            st = f.read().rsplit(")", 1)[1].split()[0]
        return st not in ("Z", "X")
    except OSError:
        return False


def find_daemon_pids(mnt):
    """PIDs of cloakfs processes whose command line names mnt."""
    exe = cloakfs_bin()
    want = {mnt, os.path.realpath(mnt)}
    pids = []
    for d in os.listdir("/proc"):
        if not d.isdigit() or int(d) == os.getpid():
            continue
        pid = int(d)
        argv = proc_argv(pid)
        if not argv:
            continue
        try:
            pexe = os.path.realpath(os.readlink("/proc/%d/exe" % pid))
        except OSError:
            pexe = ""
        if pexe != exe and os.path.basename(argv[0]) != "cloakfs":
            continue
        if any(a in want or a.rstrip("/") in want for a in argv[1:]):
            if pid_alive(pid):
                pids.append(pid)
    return pids


def fd_count(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return -1


def io_uring_fds(pid):
    """Number of io_uring instances the process holds."""
    n = 0
    try:
        for fd in os.listdir("/proc/%d/fd" % pid):
            try:
                if "io_uring" in os.readlink("/proc/%d/fd/%s" % (pid, fd)):
                    n += 1
            except OSError:
                pass
    except OSError:
        pass
    return n


def possible_cpus():
    with open("/sys/devices/system/cpu/possible") as f:
        return int(re.split(r"[-,]", f.read().strip())[-1]) + 1


def transport_setup():
    """Switches the kernel to offer io_uring for CLOAKFS_TEST_TRANSPORT=io_uring;
    returns a function that puts the old setting back."""
    if TRANSPORT == "dev":
        return lambda: None
    check(TRANSPORT == "io_uring", "CLOAKFS_TEST_TRANSPORT=%s: want dev or io_uring" % TRANSPORT)
    if not os.path.exists(URING_PARAM):
        raise Skip("this kernel has no FUSE io_uring (%s missing)" % URING_PARAM)
    with open(URING_PARAM) as f:
        old = f.read().strip()
    with open(URING_PARAM, "w") as f:
        f.write("Y")
    log("(transport: io_uring; %s was %s)" % (URING_PARAM, old))

    def restore():
        with open(URING_PARAM, "w") as f:
            f.write(old)
    return restore


def check_transport(pid):
    """Under CLOAKFS_TEST_TRANSPORT=io_uring, the daemon holds at least one
    ring per possible CPU (one per kernel queue it serves) once INIT is done."""
    if TRANSPORT != "io_uring" or pid is None:
        return
    want = possible_cpus()
    deadline = time.time() + 5
    while io_uring_fds(pid) < want and time.time() < deadline:
        time.sleep(0.02)
    got = io_uring_fds(pid)
    check(got >= want, "daemon %d holds %d io_uring rings, fewer than the %d kernel queues"
          % (pid, got, want))


def drop_caches():
    """Makes the kernel forget cached dentries/inodes (FUSE FORGETs) and pages."""
    try:
        os.sync()
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("3\n")
        return True
    except OSError:
        return False


# ------------------------------------------------------------------ volumes

_live_volumes = []


class Volume:
    """A temporary cloakfs volume: root/{cipher,mnt,passfile}. Use as a context
    manager: init (+ mount unless mount=False) on enter, unmount + rmtree on exit."""

    def __init__(self, name="vol", block_size=None, mount=True, mount_args=(), foreground=False,
                 base=None):
        self.name = name
        self.base = base or TMP_BASE
        self.block_size_opt = block_size
        self.do_mount = mount
        self.mount_args = list(mount_args)
        self.foreground = foreground
        self.root = None
        self.fg_proc = None
        self.fg_log = None
        self.pid = None

    # -- setup
    def __enter__(self):
        self.root = tempfile.mkdtemp(prefix="ckit-%s-" % self.name, dir=self.base)
        self.cipher = os.path.join(self.root, "cipher")
        self.mnt = os.path.join(self.root, "mnt")
        self.passfile = os.path.join(self.root, "passfile")
        os.mkdir(self.cipher, 0o700)
        os.mkdir(self.mnt, 0o755)
        with open(self.passfile, "w") as f:
            f.write(PASSPHRASE + "\n")
        os.chmod(self.passfile, 0o600)
        _live_volumes.append(self)
        try:
            self.init()
            if self.do_mount:
                self.mount(*self.mount_args, foreground=self.foreground)
        except BaseException:
            self.cleanup()
            raise
        return self

    def __exit__(self, *exc):
        self.cleanup()
        return False

    def init(self):
        argv = [cloakfs_bin(), "init", "--passfile", self.passfile] + KDF_ARGS
        if self.block_size_opt:
            argv += ["--block-size", str(self.block_size_opt)]
        run(argv + [self.cipher], timeout=60, check_rc=0)
        conf = os.path.join(self.cipher, "cloakfs.conf")
        check(os.path.isfile(conf), "cloakfs init created no cloakfs.conf")
        with open(conf) as f:
            self.config = json.load(f)
        self.block_size = int(self.config.get("block_size", 4096))

    def mount(self, *extra, foreground=False, passfile=None, timeout=30):
        """Mounts (daemon mode unless foreground) and waits until live."""
        check(not is_mounted(self.mnt), "mount(): %s is already mounted" % self.mnt)
        pf = passfile or self.passfile
        argv = [cloakfs_bin(), "mount", "--passfile", pf]
        if foreground:
            argv.append("-f")
        argv += list(extra) + [self.cipher, self.mnt]
        if foreground:
            self.fg_log = os.path.join(self.root, "daemon-%d.log" % int(time.time() * 1000))
            logf = open(self.fg_log, "wb")
            self.fg_proc = subprocess.Popen(argv, stdout=logf, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL)
            logf.close()
            deadline = time.time() + timeout
            while not is_mounted(self.mnt):
                if self.fg_proc.poll() is not None:
                    raise TestFailure("foreground mount exited %s before the mount was live: %s"
                                      % (self.fg_proc.returncode, self.log_text()[-2000:]))
                if time.time() > deadline:
                    raise TestFailure("foreground mount not live after %ss" % timeout)
                time.sleep(0.05)
            self.pid = self.fg_proc.pid
        else:
            rc, out, err = run(argv, timeout=timeout)
            if rc != 0:
                raise TestFailure("cloakfs mount exited %d: %s %s" % (rc, out, err))
            check(is_mounted(self.mnt),
                  "cloakfs mount returned 0 but %s is not a FUSE mount" % self.mnt)
            self.pid = None
            for _ in range(40):
                pids = find_daemon_pids(self.mnt)
                if len(pids) == 1:
                    self.pid = pids[0]
                    break
                time.sleep(0.05)
        # the mount is usable
        os.statvfs(self.mnt)
        check_transport(self.pid)
        return self

    def log_text(self):
        if not self.fg_log or not os.path.exists(self.fg_log):
            return ""
        with open(self.fg_log, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def daemon_pid(self):
        if self.pid is not None and pid_alive(self.pid):
            return self.pid
        pids = find_daemon_pids(self.mnt)
        check(len(pids) == 1, "cannot identify the daemon of %s (candidates %r)" % (self.mnt, pids))
        self.pid = pids[0]
        return self.pid

    def alive(self):
        """True when the mount answers (the daemon did not die)."""
        if not is_mounted(self.mnt):
            return False
        try:
            os.statvfs(self.mnt)
            return True
        except OSError:
            return False

    def unmount(self, timeout=20):
        """fusermount3 -u (retried while busy), then -uz; then waits for the
        daemon to exit, killing it if it lingers. Never raises."""
        pid = self.pid if (self.pid and pid_alive(self.pid)) else None
        if pid is None and is_mounted(self.mnt):
            pids = find_daemon_pids(self.mnt)
            pid = pids[0] if len(pids) == 1 else None
        if is_mounted(self.mnt):
            deadline = time.time() + 5
            while is_mounted(self.mnt) and time.time() < deadline:
                try:
                    run(["fusermount3", "-u", self.mnt], timeout=10)
                except TestFailure:
                    pass
                if is_mounted(self.mnt):
                    time.sleep(0.2)
            if is_mounted(self.mnt):
                log("  (harness: %s busy, lazy unmount)" % self.mnt)
                try:
                    run(["fusermount3", "-uz", self.mnt], timeout=10)
                except TestFailure:
                    pass
            if is_mounted(self.mnt):
                try:
                    run(["umount", "-l", self.mnt], timeout=10)
                except TestFailure:
                    pass
        if self.fg_proc is not None:
            try:
                self.fg_proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                log("  (harness: foreground daemon did not exit after unmount; killing)")
                self.fg_proc.kill()
                self.fg_proc.wait()
            self.fg_proc = None
        else:
            # The daemon holds CIPHERDIR's lock until it exits: a remount
            # must wait for it. Its pid may be unknown (a loaded machine: the
            # mount command was still exiting when mount() looked), so look
            # again by command line.
            pids = [pid] if pid is not None else find_daemon_pids(self.mnt)
            deadline = time.time() + timeout
            while any(pid_alive(p) for p in pids) and time.time() < deadline:
                time.sleep(0.05)
            for p in pids:
                if pid_alive(p):
                    log("  (harness: daemon %d did not exit after unmount; killing)" % p)
                    try:
                        os.kill(p, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
        self.pid = None

    def remount(self, *extra, foreground=False):
        self.unmount()
        return self.mount(*extra, foreground=foreground)

    def kill_daemon(self, sig=signal.SIGKILL):
        pid = self.daemon_pid()
        os.kill(pid, sig)
        return pid

    def cleanup(self):
        try:
            self.unmount()
        finally:
            if self in _live_volumes:
                _live_volumes.remove(self)
            if self.root and os.path.isdir(self.root):
                if is_mounted(self.mnt):
                    log("  (harness: %s still mounted; leaving %s)" % (self.mnt, self.root))
                else:
                    shutil.rmtree(self.root, ignore_errors=True)

    # -- backing view
    def m(self, *parts):
        return os.path.join(self.mnt, *parts)

    def backing_index(self):
        """Maps backing st_ino -> list of backing paths (st_ino passes through)."""
        idx = {}
        for dirpath, dirnames, filenames in os.walk(self.cipher):
            for n in dirnames + filenames:
                p = os.path.join(dirpath, n)
                try:
                    st = os.lstat(p)
                except OSError:
                    continue
                idx.setdefault(st.st_ino, []).append(p)
        idx.setdefault(os.lstat(self.cipher).st_ino, []).append(self.cipher)
        return idx

    def backing_of(self, plain_path, index=None):
        """Backing path of a plaintext path, via the passed-through inode number."""
        ino = os.lstat(plain_path).st_ino
        idx = index if index is not None else self.backing_index()
        paths = [p for p in idx.get(ino, []) if not os.path.basename(p).startswith(".cloakfs")]
        check(paths, "no backing object has st_ino %d of %s (inode numbers must pass through)"
              % (ino, plain_path))
        return paths[0]

    def check_backing_size(self, plain_path, index=None):
        n = os.lstat(plain_path).st_size
        b = os.lstat(self.backing_of(plain_path, index)).st_size
        want = backing_size(n, self.block_size)
        if want is None:
            check(b in (0, HEADER_LEN), "%s: empty file has backing size %d (want 0 or %d)"
                  % (plain_path, b, HEADER_LEN))
        else:
            check(b == want, "%s: plaintext size %d, backing size %d, want %d"
                  % (plain_path, n, b, want))


# ---------------------------------------------------------- marker scanning


def scan_backing_for(root, markers):
    """Every place under root where a marker appears: names, file contents,
    symlink targets, xattr names and values. Returns a list of findings."""
    found = []
    bm = [m.encode() if isinstance(m, str) else m for m in markers]
    low = [m.lower() for m in bm]

    def look(where, data):
        dl = data.lower()
        for m, ml in zip(bm, low):
            if ml in dl:
                found.append("%s contains %r" % (where, m))

    for dirpath, dirnames, filenames in os.walk(root):
        for n in dirnames + filenames + [""]:
            p = os.path.join(dirpath, n) if n else dirpath
            look("name " + p, os.fsencode(n) if n else b"")
            try:
                st = os.lstat(p)
            except OSError:
                continue
            if stat.S_ISLNK(st.st_mode):
                look("symlink target of " + p, os.fsencode(os.readlink(p)))
            elif stat.S_ISREG(st.st_mode):
                with open(p, "rb") as f:
                    tail = b""
                    while True:
                        chunk = f.read(1 << 20)
                        if not chunk:
                            break
                        look("content of " + p, tail + chunk)
                        tail = chunk[-64:]
            try:
                names = os.listxattr(p, follow_symlinks=False)
            except OSError:
                names = []
            for x in names:
                look("xattr name %s of %s" % (x, p), os.fsencode(x))
                try:
                    look("xattr value %s of %s" % (x, p),
                         os.getxattr(p, x, follow_symlinks=False))
                except OSError:
                    pass
    return sorted(set(found))


# --------------------------------------------------------------- watchdog


_watchdog_fired = False


def _abort_all_mounts():
    for v in list(_live_volumes):
        try:
            pid = v.pid or (find_daemon_pids(v.mnt) or [None])[0]
            if pid:
                os.kill(pid, signal.SIGKILL)
        except Exception:
            pass
        subprocess.run(["fusermount3", "-uz", v.mnt], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)


def start_watchdog(seconds):
    """After `seconds`, kill every daemon of this test: a hung FUSE request
    then fails (ENOTCONN/ECONNABORTED), the runner sees the flag, stops and
    cleans up. Hard exit if the main thread is still stuck 30 s later."""
    def fire():
        global _watchdog_fired
        _watchdog_fired = True
        log("WATCHDOG: test exceeded %ds; killing its daemons" % seconds)
        _abort_all_mounts()
        time.sleep(30)
        log("WATCHDOG: the test did not finish after its mounts were aborted; hard exit")
        os._exit(3)

    t = threading.Timer(seconds, fire)
    t.daemon = True
    t.start()
    return t


def _on_signal(signum, frame):
    raise KeyboardInterrupt("signal %d" % signum)


# ------------------------------------------------------------------- runner


class Suite:
    """Named cases run in order; a failure in one does not stop the others.
    Exit status 0 only if every case passed. A skipped case (a missing tool)
    fails the run too, unless CLOAKFS_ALLOW_SKIP=1: scripts/install-deps
    installs every tool, so a skip in CI would hide an untested feature."""

    def __init__(self, name, watchdog=300):
        self.name = name
        self.cases = []
        self.watchdog = watchdog

    def case(self, fn):
        self.cases.append(fn)
        return fn

    def main(self, fixture=None):
        """fixture: optional callable returning a context manager whose value
        is passed to each case (a shared mount); it is re-created when a case
        leaves it dead (daemon crash), so later cases still run."""
        signal.signal(signal.SIGTERM, _on_signal)
        start_watchdog(self.watchdog)
        try:
            restore_transport = transport_setup()
        except Skip as e:
            log("### %s: SKIP: %s" % (self.name, e))
            sys.exit(77 if os.environ.get("CLOAKFS_ALLOW_SKIP") == "1" else 1)
        only = set(sys.argv[1:])
        results = []
        t0 = time.time()
        log("### %s (cloakfs: %s)" % (self.name, cloakfs_bin()))
        stack = contextlib.ExitStack()
        ctx = None
        try:
            for fn in self.cases:
                if only and fn.__name__ not in only:
                    continue
                doc = (fn.__doc__ or "").strip().splitlines()
                log("\n=== %s%s" % (fn.__name__, (": " + doc[0]) if doc else ""))
                t1 = time.time()
                try:
                    if fixture is not None:
                        if ctx is None or not ctx.alive():
                            if ctx is not None:
                                log("  (previous mount is dead: new volume)")
                                stack.close()
                                stack = contextlib.ExitStack()
                            ctx = stack.enter_context(fixture())
                        fn(ctx)
                    else:
                        fn()
                    results.append((fn.__name__, "PASS", ""))
                    log("--- PASS %s (%.1fs)" % (fn.__name__, time.time() - t1))
                except Skip as e:
                    results.append((fn.__name__, "SKIP", str(e)))
                    log("--- SKIP %s: %s" % (fn.__name__, e))
                except (Exception, KeyboardInterrupt) as e:
                    tb = traceback.format_exc()
                    msg = str(e).splitlines()[0] if str(e) else type(e).__name__
                    results.append((fn.__name__, "FAIL", msg))
                    log(tb.rstrip())
                    log("--- FAIL %s (%.1fs): %s" % (fn.__name__, time.time() - t1, e))
                    if _watchdog_fired:
                        log("--- %s was stopped by the watchdog (time limit)" % fn.__name__)
                    if isinstance(e, KeyboardInterrupt) or _watchdog_fired:
                        break
                    if ctx is not None and not ctx.alive():
                        log("  !!! the daemon died or the mount stopped answering after %s"
                            % fn.__name__)
        finally:
            stack.close()
            restore_transport()
        allow_skip = os.environ.get("CLOAKFS_ALLOW_SKIP") == "1"
        nfail = sum(1 for r in results if r[1] == "FAIL" or (r[1] == "SKIP" and not allow_skip))
        log("\n### %s summary (%.1fs)" % (self.name, time.time() - t0))
        for n, st, msg in results:
            log("  %-4s %s%s" % (st, n, (": " + msg) if msg else ""))
        ran = {r[0] for r in results}
        for fn in self.cases:
            if fn.__name__ not in ran and (not only or fn.__name__ in only):
                log("  NOT RUN %s" % fn.__name__)
                nfail += 1
        log("### %s: %d failed" % (self.name, nfail))
        sys.exit(1 if nfail else 0)


# ------------------------------------------------------- raw syscalls (ctypes)

AT_FDCWD = -100
RENAME_NOREPLACE = 1
RENAME_EXCHANGE = 2
FALLOC_FL_KEEP_SIZE = 1
FALLOC_FL_PUNCH_HOLE = 2
UTIME_NOW = (1 << 30) - 1
UTIME_OMIT = (1 << 30) - 2


def _raise_errno(what, *args):
    e = ctypes.get_errno()
    raise OSError(e, "%s: %s" % (what, os.strerror(e)), *args)


def renameat2(old, new, flags):
    libc.renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p,
                               ctypes.c_uint]
    if libc.renameat2(AT_FDCWD, os.fsencode(old), AT_FDCWD, os.fsencode(new), flags) != 0:
        _raise_errno("renameat2")


def fallocate(fd, mode, off, length):
    """fallocate(2) itself: no glibc fallback that writes zeros."""
    libc.fallocate.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int64, ctypes.c_int64]
    if libc.fallocate(fd, mode, off, length) != 0:
        _raise_errno("fallocate")


class _Timespec(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]


def utimensat(path, atime, mtime, nofollow=False):
    """atime/mtime: (sec, nsec), UTIME_NOW or UTIME_OMIT."""
    def ts(t):
        if t in (UTIME_NOW, UTIME_OMIT):
            return _Timespec(0, t)
        return _Timespec(t[0], t[1])
    arr = (_Timespec * 2)(ts(atime), ts(mtime))
    libc.utimensat.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_void_p, ctypes.c_int]
    if libc.utimensat(AT_FDCWD, os.fsencode(path), ctypes.byref(arr),
                      0x100 if nofollow else 0) != 0:
        _raise_errno("utimensat")


def getxattr_size(path, name):
    libc.getxattr.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_void_p, ctypes.c_size_t]
    libc.getxattr.restype = ctypes.c_ssize_t
    r = libc.getxattr(os.fsencode(path), os.fsencode(name), None, 0)
    if r < 0:
        _raise_errno("getxattr")
    return r


def listxattr_size(path):
    libc.listxattr.argtypes = [ctypes.c_char_p, ctypes.c_void_p, ctypes.c_size_t]
    libc.listxattr.restype = ctypes.c_ssize_t
    r = libc.listxattr(os.fsencode(path), None, 0)
    if r < 0:
        _raise_errno("listxattr")
    return r


class Sampler:
    """Samples a daemon's open fd count and RSS in the background."""

    def __init__(self, pid, interval=0.2):
        self.pid = pid
        self.interval = interval
        self.max_fds = 0
        self.max_rss = 0
        self.samples = 0
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._loop, daemon=True)

    def _loop(self):
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.interval)

    def sample(self):
        try:
            n, r = fd_count(self.pid), rss_kib(self.pid)
        except OSError:
            return None
        self.max_fds = max(self.max_fds, n)
        self.max_rss = max(self.max_rss, r)
        self.samples += 1
        return n, r

    def __enter__(self):
        self._t.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._t.join()
        return False
