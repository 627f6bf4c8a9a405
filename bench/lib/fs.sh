# bench/lib/fs.sh: the file systems under test. Each has a setup (create the
# backing directory / volume), a mount and an unmount; all live in the bench
# tmpfs. Sourced by bench/run.
#
#   tmpfs        the bench tmpfs itself, no FUSE: the upper bound
#   passthrough  libfuse's example passthrough_ll, no encryption: the FUSE ceiling
#   gocryptfs    gocryptfs with default options
#   securefs     securefs (format 4 default) with default options
#   cloakfs      this project
#   cloakfs-wb   this project mounted with -o writeback_cache
#   cloakfs-uring  this project serving through FUSE io_uring queues
# shellcheck disable=SC2034 # globals shared with bench/run and workloads.sh

declare -A FS_OK=()    # 1 once setup succeeded
declare -A FS_PID=()   # daemon pid while mounted
declare -A FS_PEAK=()  # max VmHWM (KiB) seen over all mounts
declare -A FS_PEAK_AT=() # the workloads that mount served (VmHWM covers them)
declare -A FS_MOUNT_WL=() # the workload that mounted it
FS_WORKLOAD=setup      # set by bench/run's step()

fs_dir() { echo "$BENCH_TMPFS/mnt/$1"; }
fs_backing() { echo "$BENCH_TMPFS/backing/$1"; }
fs_is_fuse() { [ "$1" != tmpfs ]; }

# Builds passthrough_ll from libfuse's examples (gzipped or not) into $BENCH_WORK.
build_passthrough() {
	local ex=/usr/share/doc/libfuse3-dev/examples dst="$BENCH_WORK/passthrough" f
	mkdir -p "$dst" || return 1
	for f in passthrough_ll.c passthrough_helpers.h; do
		if [ -f "$ex/$f" ]; then
			cp "$ex/$f" "$dst/$f" || return 1
		elif [ -f "$ex/$f.gz" ]; then
			zcat "$ex/$f.gz" >"$dst/$f" || return 1
		elif [ "$f" = passthrough_ll.c ]; then
			log "no $ex/passthrough_ll.c(.gz): is libfuse3-dev installed?"
			return 1
		fi
	done
	# shellcheck disable=SC2046 # pkg-config prints several words on purpose
	cc -O2 -o "$dst/passthrough_ll" "$dst/passthrough_ll.c" \
		$(pkg-config --cflags --libs fuse3) >"$LOGDIR/passthrough-build.log" 2>&1 || {
		log "passthrough_ll does not build (see $LOGDIR/passthrough-build.log)"
		return 1
	}
	PASSTHROUGH_BIN="$dst/passthrough_ll"
}

# Creates the backing directory or volume of one file system; sets FS_OK.
fs_setup() {
	local fs=$1 b m out="$LOGDIR/$1-setup.log"
	b=$(fs_backing "$fs")
	m=$(fs_dir "$fs")
	mkdir -p "$b" "$m" || return 1
	FS_OK[$fs]=0
	case $fs in
	tmpfs) ;;
	passthrough) [ -x "${PASSTHROUGH_BIN:-}" ] || return 1 ;;
	gocryptfs)
		command -v gocryptfs >/dev/null || return 1
		gocryptfs -init -q -scryptn 10 -passfile "$PASSFILE" "$b" >"$out" 2>&1 || return 1
		;;
	securefs)
		command -v securefs >/dev/null || return 1
		# Password on stdin (securefs reads it there when stdin is no tty);
		# PBKDF2 with one round keeps set-up instant, nothing else changes.
		securefs create --pbkdf pkcs5-pbkdf2-hmac-sha256 --rounds 1 "$b" \
			<"$PASSFILE" >"$out" 2>&1 || return 1
		;;
	cloakfs | cloakfs-wb | cloakfs-uring)
		[ -x "${CLOAKFS_BIN:-}" ] || return 1
		[ "$fs" != cloakfs-uring ] || [ "$FUSE_URING_ON" = 1 ] || return 1
		"$CLOAKFS_BIN" init --passfile "$PASSFILE" --kdf-memory-mib 8 \
			--kdf-iterations 1 --kdf-parallelism 1 "$b" >"$out" 2>&1 || return 1
		;;
	*) return 1 ;;
	esac
	FS_OK[$fs]=1
}

# The daemon serving mount point $1: a process whose argv has that exact
# argument and that holds /dev/fuse open.
daemon_pid() {
	local mnt=$1 p fd
	for p in /proc/[0-9]*; do
		# Processes come and go while we look: ignore the vanished ones.
		{ tr '\0' '\n' <"$p/cmdline"; } 2>/dev/null | grep -qxF -- "$mnt" || continue
		for fd in "$p"/fd/*; do
			if [ "$(readlink "$fd" 2>/dev/null)" = /dev/fuse ]; then
				echo "${p#/proc/}"
				return 0
			fi
		done
	done
	return 1
}

status_kib() { # status_kib PID FIELD -> KiB
	awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status" 2>/dev/null
}

fs_mount() {
	local fs=$1 b m i out="$LOGDIR/$1-mount.log"
	[ "${FS_OK[$fs]:-0}" = 1 ] || return 1
	fs_is_fuse "$fs" || return 0
	b=$(fs_backing "$fs")
	m=$(fs_dir "$fs")
	mountpoint -q "$m" && return 0
	MOUNTED_FUSE+=("$m")
	case $fs in
	passthrough) "$PASSTHROUGH_BIN" -o "source=$b" "$m" >>"$out" 2>&1 ;;
	gocryptfs) gocryptfs -q -passfile "$PASSFILE" "$b" "$m" >>"$out" 2>&1 ;;
	securefs) securefs mount -b "$b" "$m" <"$PASSFILE" >>"$out" 2>&1 ;;
	# While io_uring is on for cloakfs-uring, the others stay on /dev/fuse.
	cloakfs) "$CLOAKFS_BIN" mount "${CLOAKFS_DEV_OPTS[@]}" --passfile "$PASSFILE" \
		"$b" "$m" >>"$out" 2>&1 ;;
	cloakfs-wb) "$CLOAKFS_BIN" mount "${CLOAKFS_DEV_OPTS[@]}" -o writeback_cache \
		--passfile "$PASSFILE" "$b" "$m" >>"$out" 2>&1 ;;
	cloakfs-uring) "$CLOAKFS_BIN" mount --passfile "$PASSFILE" "$b" "$m" >>"$out" 2>&1 ;;
	esac || {
		log "$fs: mount failed (see $out)"
		return 1
	}
	for i in $(seq 50); do
		mountpoint -q "$m" && break
		sleep 0.1
	done
	mountpoint -q "$m" || {
		log "$fs: not mounted 5 s after the mount command"
		return 1
	}
	FS_MOUNT_WL[$fs]=$FS_WORKLOAD
	FS_PID[$fs]=$(daemon_pid "$m") || {
		log "$fs: mounted, but its daemon process was not found"
		FS_PID[$fs]=
	}
}

# Records the daemon's peak RSS, unmounts and waits for the daemon to exit.
fs_umount() {
	local fs=$1 m pid hwm i
	fs_is_fuse "$fs" || return 0
	m=$(fs_dir "$fs")
	pid=${FS_PID[$fs]:-}
	if [ -n "$pid" ]; then
		hwm=$(status_kib "$pid" VmHWM)
		if [ -n "$hwm" ] && [ "$hwm" -gt "${FS_PEAK[$fs]:-0}" ]; then
			FS_PEAK[$fs]=$hwm
			FS_PEAK_AT[$fs]="${FS_MOUNT_WL[$fs]:-?} .. $FS_WORKLOAD"
		fi
	fi
	FS_PID[$fs]=
	if mountpoint -q "$m"; then
		for i in 1 2 3 4 5; do
			fusermount3 -u "$m" 2>/dev/null && break
			sleep 1
		done
		if mountpoint -q "$m"; then
			log "$fs: busy, lazy unmount"
			fusermount3 -uz "$m" || return 1
		fi
	fi
	if [ -n "$pid" ]; then
		for _ in $(seq 100); do
			[ -d "/proc/$pid" ] || break
			sleep 0.1
		done
		[ -d "/proc/$pid" ] && log "$fs: daemon $pid still running 10 s after unmount"
	fi
	return 0
}

fs_remount() { fs_umount "$1" && fs_mount "$1"; }

fs_version() {
	case $1 in
	tmpfs) echo "kernel $(uname -r)" ;;
	passthrough) echo "libfuse $(pkg-config --modversion fuse3 2>/dev/null) example passthrough_ll.c" ;;
	gocryptfs) gocryptfs -version 2>/dev/null | head -1 ;;
	# Debian's securefs says "securefs GIT-NOTFOUND": ask the package instead.
	securefs) echo "securefs $(dpkg-query -W -f='${Version}' securefs 2>/dev/null ||
		securefs version 2>/dev/null | head -1)" ;;
	cloakfs) "$CLOAKFS_BIN" --version 2>/dev/null | head -1 ;;
	cloakfs-wb) echo "$("$CLOAKFS_BIN" --version 2>/dev/null | head -1), -o writeback_cache" ;;
	cloakfs-uring) echo "$("$CLOAKFS_BIN" --version 2>/dev/null | head -1), FUSE io_uring" ;;
	esac
}
