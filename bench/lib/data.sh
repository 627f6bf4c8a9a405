# bench/lib/data.sh: the inputs, made once per run inside the bench tmpfs:
# incompressible data for the sequential and fio runs, and a tarball of a real
# source/doc tree for the small-file runs. Sourced by bench/run.
# shellcheck disable=SC2034 # globals shared with bench/run and the other libs

make_seq_source() {
	SEQ_SRC="$BENCH_TMPFS/data/seq.src"
	SEQ_BYTES=$((SEQ_MIB * 1024 * 1024))
	log "generating $SEQ_MIB MiB of random data"
	dd if=/dev/urandom of="$SEQ_SRC" bs=1M count="$SEQ_MIB" status=none ||
		die "cannot write $SEQ_SRC"
}

# Up to TREE_MAX entries (files, directories, symlinks) of real trees, taken in
# this order; each parent directory comes before its entries in find's order.
# The cap keeps passthrough_ll, which holds one fd per inode, under
# RLIMIT_NOFILE.
make_tree_tarball() {
	local list="$BENCH_WORK/tree.list" scratch="$BENCH_TMPFS/data/tree-check" d dirs=()
	TREE_TAR="$BENCH_TMPFS/data/tree.tar"
	for d in /usr/include /usr/share/doc /usr/lib/python3.[0-9]* /usr/lib/python3 \
		/usr/share/perl /usr/share/locale /usr/share/man; do
		d=${d#/}
		[ -d "/$d" ] && dirs+=("$d")
	done
	[ ${#dirs[@]} -gt 0 ] || die "no source tree found under /usr"
	(cd / && find "${dirs[@]}" \( -type f -o -type d -o -type l \) -print) 2>/dev/null |
		head -n "$TREE_MAX" >"$list"
	[ -s "$list" ] || die "empty tree list"
	log "building the small-file tarball from ${dirs[*]} (at most $TREE_MAX entries)"
	tar -C / -cf "$TREE_TAR" --no-recursion -T "$list" 2>"$LOGDIR/tree-tar.log" ||
		die "cannot build $TREE_TAR (see $LOGDIR/tree-tar.log)"
	# Count what an extraction really makes (tar adds the implied parents).
	mkdir -p "$scratch" || die "mkdir $scratch"
	tar -xf "$TREE_TAR" -C "$scratch" || die "cannot extract $TREE_TAR"
	TREE_COUNT=$(find "$scratch" -mindepth 1 | wc -l)
	TREE_FILES=$(find "$scratch" -type f | wc -l)
	TREE_MB=$(du -s --apparent-size -B1 "$scratch" | awk '{ printf "%.0f", $1 / 1e6 }')
	rm -rf "$scratch"
	log "tree: $TREE_COUNT entries, $TREE_FILES files, $TREE_MB MB"
}
