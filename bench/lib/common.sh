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
	restore_page_reporting
	restore_fuse_uring
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

# In a VM with free page reporting (virtio-balloon), memory the guest frees is
# handed back to the host, and the next touch of each page costs a host fault.
# Seen here: with reporting on, a 1 GiB write through passthrough or cloakfs
# ran at 150-250 MB/s or at 1.5 GB/s depending on which pages the kernel
# happened to hand out, so the figures measured the host, not the file
# systems. The benchmark turns reporting off for its run (an order one above
# the largest in /proc/buddyinfo reports nothing) and restores it on exit.
PAGE_REPORTING_ORDER_FILE=/sys/module/page_reporting/parameters/page_reporting_order
PAGE_REPORTING_SAVED=
pause_page_reporting() {
	[ "${BENCH_KEEP_PAGE_REPORTING:-0}" = 1 ] && return 0
	[ -w "$PAGE_REPORTING_ORDER_FILE" ] || return 0
	local off
	off=$(awk '{ n = NF - 4 } END { print n + 0 }' /proc/buddyinfo) # columns: orders 0..max
	[ "$off" -gt 0 ] || return 0
	PAGE_REPORTING_SAVED=$(cat "$PAGE_REPORTING_ORDER_FILE") || return 0
	if echo "$off" >"$PAGE_REPORTING_ORDER_FILE" 2>/dev/null; then
		log "free page reporting paused (page_reporting_order $PAGE_REPORTING_SAVED -> $off)"
		echo "page_reporting=paused (order $PAGE_REPORTING_SAVED restored after the run)" >>"$META"
	else
		PAGE_REPORTING_SAVED=
	fi
}
restore_page_reporting() {
	[ -n "$PAGE_REPORTING_SAVED" ] || return 0
	echo "$PAGE_REPORTING_SAVED" >"$PAGE_REPORTING_ORDER_FILE" 2>/dev/null ||
		log "could not restore $PAGE_REPORTING_ORDER_FILE to $PAGE_REPORTING_SAVED"
	PAGE_REPORTING_SAVED=
}

# FUSE over io_uring (Linux 6.14+) is off until root turns on the fuse
# module's enable_uring. The cloakfs-uring column needs it; no peer here
# speaks it (libfuse 3.14 and go-fuse do not), and the cloakfs column is
# mounted with -o no_io_uring meanwhile, so both transports are measured.
FUSE_URING_FILE=/sys/module/fuse/parameters/enable_uring
FUSE_URING_SAVED=
FUSE_URING_ON=0
CLOAKFS_DEV_OPTS=() # mount options of the /dev/fuse cloakfs columns
enable_fuse_uring() {
	[ -w "$FUSE_URING_FILE" ] || {
		log "this kernel has no FUSE io_uring ($FUSE_URING_FILE): cloakfs-uring is n/a"
		return 1
	}
	FUSE_URING_SAVED=$(cat "$FUSE_URING_FILE") || return 1
	echo Y >"$FUSE_URING_FILE" 2>/dev/null || {
		FUSE_URING_SAVED=
		return 1
	}
	FUSE_URING_ON=1
	CLOAKFS_DEV_OPTS=(-o no_io_uring)
	log "FUSE io_uring on for the run (enable_uring $FUSE_URING_SAVED -> Y)"
	echo "fuse_io_uring=on for the run (enable_uring was $FUSE_URING_SAVED, restored after)" >>"$META"
}
restore_fuse_uring() {
	[ -n "$FUSE_URING_SAVED" ] || return 0
	echo "$FUSE_URING_SAVED" >"$FUSE_URING_FILE" 2>/dev/null ||
		log "could not restore $FUSE_URING_FILE to $FUSE_URING_SAVED"
	FUSE_URING_SAVED=
}

# The first touch of a guest page costs a host fault too. Write, once, as
# much memory as the run will hold at its peak: the tmpfs and, as much again,
# the page caches of the FUSE mounts (each keeps its copy of the files it
# wrote). Too little, and the last file system measured ran on fresh pages: a
# 1 GiB write at 290 MB/s instead of 1 GB/s. It goes in a tmpfs of its own,
# unmounted at once; dd, as fallocate would not do: tmpfs clears fallocated
# pages only when they are first used.
warm_memory() {
	local want=$((2 * TMPFS_MIB)) avail dir="$BENCH_WORK/warm"
	avail=$(awk '/^MemAvailable:/ { print int($2 / 1024) }' /proc/meminfo)
	[ "$want" -le $((avail - 1024)) ] || want=$((avail - 1024))
	[ "$want" -gt 0 ] || return 0
	log "touching ${want} MiB of memory once"
	mkdir -p "$dir" && mount -t tmpfs -o "size=${want}m,mode=0700" bench-warm "$dir" || {
		log "memory warm-up failed; going on"
		return 0
	}
	dd if=/dev/zero of="$dir/warm" bs=1M count="$((want - 16))" status=none ||
		log "memory warm-up stopped early; going on"
	umount "$dir" || umount -l "$dir"
	rmdir "$dir" 2>/dev/null
}
