# bench/lib/common.sh: logging, timing, packages, the private tmpfs and the
# clean-up that unmounts everything on exit. Sourced by bench/run.
# shellcheck disable=SC2034 # globals shared with bench/run and the other libs

log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() {
	log "FATAL: $*"
	exit 1
}

# Runs "$@" and sets ELAPSED to its wall time in seconds; returns its status.
ELAPSED=
timed() {
	local t0 t1 rc
	t0=$EPOCHREALTIME
	"$@"
	rc=$?
	t1=$EPOCHREALTIME
	ELAPSED=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.6f", b - a }')
	return $rc
}

# A guard against a hung file system: no single step may run for ever.
guard() { timeout -k 10 "$BENCH_STEP_TIMEOUT" "$@"; }

# apt-get install of the packages whose command is missing; one apt-get update.
ensure_packages() {
	local want=() pair cmd pkg
	for pair in "$@"; do
		cmd=${pair%%:*}
		pkg=${pair#*:}
		if [[ $cmd == /* ]]; then
			[ -e "$cmd" ] || want+=("$pkg")
		else
			command -v "$cmd" >/dev/null 2>&1 || want+=("$pkg")
		fi
	done
	[ ${#want[@]} -eq 0 ] && return 0
	log "installing ${want[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q >/dev/null 2>&1 || log "apt-get update failed; trying the install anyway"
	apt-get install -y -q "${want[@]}" >"$LOGDIR/apt.log" 2>&1 ||
		log "apt-get install ${want[*]} failed (see $LOGDIR/apt.log); missing peers will be n/a"
	return 0
}

# Mount points of FUSE file systems we mounted, unmounted by cleanup.
declare -a MOUNTED_FUSE=()
TMPFS_MOUNTED=0

cleanup() {
	local rc=$? m
	trap - EXIT INT TERM
	for m in "${MOUNTED_FUSE[@]}"; do
		if mountpoint -q "$m" 2>/dev/null; then
			fusermount3 -u "$m" 2>/dev/null || fusermount3 -uz "$m" 2>/dev/null ||
				umount -l "$m" 2>/dev/null
		fi
	done
	if [ "$TMPFS_MOUNTED" = 1 ]; then
		sleep 0.3
		umount "$BENCH_TMPFS" 2>/dev/null || umount -l "$BENCH_TMPFS" 2>/dev/null ||
			log "could not unmount $BENCH_TMPFS"
	fi
	if [ -n "${BENCH_WORK:-}" ] && [ -d "$BENCH_WORK" ]; then
		if [ "${BENCH_KEEP_WORK:-0}" = 1 ]; then
			log "kept $BENCH_WORK (logs in $LOGDIR)"
		else
			rm -rf --one-file-system "$BENCH_WORK"
		fi
	fi
	exit $rc
}

# A tmpfs of size_mib under the work directory holds every backing directory,
# mount point and data file, so the disk never enters the figures.
mount_bench_tmpfs() {
	local size_mib=$1 avail_mib
	avail_mib=$(awk '/^MemAvailable:/ { print int($2 / 1024) }' /proc/meminfo)
	if [ "$avail_mib" -lt $((size_mib + 1024)) ]; then
		die "the tmpfs needs ${size_mib} MiB plus 1 GiB of headroom, only ${avail_mib} MiB available; lower BENCH_SIZE_MIB"
	fi
	mkdir -p "$BENCH_TMPFS" || die "mkdir $BENCH_TMPFS"
	mount -t tmpfs -o "size=${size_mib}m,mode=0755" bench-tmpfs "$BENCH_TMPFS" ||
		die "cannot mount a tmpfs on $BENCH_TMPFS"
	TMPFS_MOUNTED=1
}

# In a VM the first touch of a guest page costs a host fault (seen here: tmpfs
# writes at 150 MB/s instead of 1 GB/s). Touch the tmpfs's whole size once so
# the first file system measured does not pay for it and the others not.
warm_memory() {
	log "touching ${TMPFS_MIB} MiB of memory once"
	fallocate -l "$((TMPFS_MIB - 64))M" "$BENCH_TMPFS/warm" || log "memory warm-up failed; going on"
	rm -f "$BENCH_TMPFS/warm"
}
