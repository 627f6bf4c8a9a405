# bench/lib/workloads.sh: one function per measurement. Each takes the file
# system name, sets RESULT (a number) and returns 0, or returns 1 (the run goes
# on and reports n/a). No subshells around them: they mount and unmount, and
# the bookkeeping in fs.sh must survive. Sourced by bench/run.
# shellcheck disable=SC2034 # globals shared with bench/run and the other libs

RESULT=

mbps() { awk -v b="$1" -v s="$2" 'BEGIN { printf "%.1f", b / s / 1e6 }'; }

# Idle daemon memory: VmRSS one second after a fresh mount.
wl_rss_idle() {
	local fs=$1 kib
	fs_is_fuse "$fs" || return 1
	fs_umount "$fs" && fs_mount "$fs" || return 1
	sleep 1
	[ -n "${FS_PID[$fs]}" ] || return 1
	kib=$(status_kib "${FS_PID[$fs]}" VmRSS)
	[ -n "$kib" ] || return 1
	RESULT=$kib
}

wl_seq_write() {
	local fs=$1 m
	m=$(fs_dir "$fs")
	fs_mount "$fs" || return 1
	rm -f "$m/seq.bin" || return 1
	timed guard dd if="$SEQ_SRC" of="$m/seq.bin" bs=1M conv=fsync status=none || return 1
	RESULT=$(mbps "$SEQ_BYTES" "$ELAPSED")
}

# Read after a remount, so nothing comes from the mount's page cache (for
# native tmpfs the page cache is the file system: it is just read).
wl_seq_read() {
	local fs=$1 m size
	m=$(fs_dir "$fs")
	fs_remount "$fs" || return 1
	size=$(stat -c %s "$m/seq.bin") || return 1
	if [ "$size" != "$SEQ_BYTES" ]; then
		log "$fs: seq.bin has $size bytes, expected $SEQ_BYTES"
		return 1
	fi
	timed guard dd if="$m/seq.bin" of=/dev/null bs=1M status=none || return 1
	RESULT=$(mbps "$SEQ_BYTES" "$ELAPSED")
}

# Once, untimed: a fast file system must also be a correct one.
check_seq_content() {
	local fs=$1
	guard cmp -s "$SEQ_SRC" "$(fs_dir "$fs")/seq.bin" && return 0
	log "$fs: seq.bin read back differs from what was written: its figures are n/a"
	return 1
}

clean_seq() { rm -f "$(fs_dir "$1")/seq.bin"; }

prepare_fio() {
	local fs=$1
	fs_mount "$fs" || return 1
	guard dd if="$SEQ_SRC" of="$(fs_dir "$fs")/fio.bin" bs=1M count="$FIO_MIB" \
		conv=fsync status=none
}

clean_fio() { rm -f "$(fs_dir "$1")/fio.bin"; }

# wl_fio RW JOBS FS: 4 KiB psync random I/O for BENCH_FIO_SECONDS; IOPS.
wl_fio() {
	local rw=$1 jobs=$2 fs=$3 out
	out="$LOGDIR/fio-$fs-$rw-$jobs-$REP.json"
	fs_remount "$fs" || return 1
	guard fio --name="$rw" --filename="$(fs_dir "$fs")/fio.bin" --size="${FIO_MIB}M" \
		--rw="$rw" --bs=4k --ioengine=psync --direct="$FIO_DIRECT" --numjobs="$jobs" \
		--group_reporting --time_based --runtime="$FIO_SECONDS" --invalidate=1 \
		--output-format=json --output="$out" >>"$LOGDIR/fio.log" 2>&1 || {
		log "$fs: fio $rw x$jobs failed (see $LOGDIR/fio.log)"
		return 1
	}
	RESULT=$(python3 -c '
import json, sys
j = json.load(open(sys.argv[1]))["jobs"][0]
err = j.get("error", 0)
iops = j["read"]["iops"] + j["write"]["iops"]
if err or iops <= 0:
    sys.exit(1)
print("%.0f" % iops)' "$out") || return 1
}

wl_tree_extract() {
	local fs=$1 m
	m=$(fs_dir "$fs")
	fs_mount "$fs" || return 1
	rm -rf "$m/tree" && mkdir "$m/tree" || return 1
	timed guard tar -xf "$TREE_TAR" -C "$m/tree" || return 1
	RESULT=$ELAPSED
}

# ls and read start from a fresh mount: cold kernel dentry and attribute caches.
wl_tree_ls() {
	local fs=$1 m n
	m=$(fs_dir "$fs")
	fs_remount "$fs" || return 1
	timed guard ls -lR "$m/tree" >"$BENCH_WORK/ls.out" || return 1
	n=$(grep -c '^[-dl]' "$BENCH_WORK/ls.out")
	if [ "$n" -ne "$TREE_COUNT" ]; then
		log "$fs: ls -lR lists $n entries, the tree has $TREE_COUNT"
		return 1
	fi
	RESULT=$ELAPSED
}

wl_tree_read() {
	local fs=$1 m
	m=$(fs_dir "$fs")
	fs_remount "$fs" || return 1
	# cat, not tar -c >/dev/null: GNU tar skips reading when it sees /dev/null.
	timed guard find "$m/tree" -type f -exec cat {} + >/dev/null || return 1
	RESULT=$ELAPSED
}

wl_tree_rm() {
	local fs=$1 m
	m=$(fs_dir "$fs")
	fs_mount "$fs" || return 1
	timed guard rm -rf "$m/tree" || return 1
	[ -e "$m/tree" ] && return 1
	RESULT=$ELAPSED
}
