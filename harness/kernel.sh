#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Configure and build one kernel variant with ccache, each in its own output
# folder so switching variants never rebuilds from scratch.
#
# usage: kernel.sh release|debug|stock
set -eo pipefail
. "$(dirname "$0")/common.sh"

variant=$1
frags=("$TOP/kernel/configs/cowpte.config")
case "$variant" in
release) src=$SRC ;;
debug)   src=$SRC; frags+=("$TOP/kernel/configs/cowpte-debug.config") ;;
stock)   src=$STOCK_SRC ;;
*)       die "unknown kernel variant '$variant' (release, debug or stock)" ;;
esac

need_pkgs gcc make flex bison bc libelf-dev libssl-dev ccache cpio kmod xz-utils
out=$BUILD/out/$variant
mkdir -p "$out"
if [ "$variant" = stock ]; then
	"$TOP/harness/tree.sh" stock
else
	"$TOP/harness/tree.sh" --keep-edits
fi

kbuild_env
ccache -M 10G >/dev/null
kmake() {
	make -s -C "$src" O="$out" CC="ccache gcc" -j"$(nproc)" "$@"
}

# Reconfigure only when a fragment changed since the last configuration.
sum=$(cat "${frags[@]}" | sha256sum | cut -d' ' -f1)
if [ ! -f "$out/.config" ] || [ "$(cat "$out/.fragments.sha" 2>/dev/null)" != "$sum" ]; then
	note "configuring $variant: tinyconfig + ${frags[*]##*/}"
	kmake tinyconfig >/dev/null
	KCONFIG_CONFIG="$out/.config" "$src/scripts/kconfig/merge_config.sh" -m -O "$out" \
		"$out/.config" "${frags[@]}" >"$out/merge.log" 2>&1 ||
		die "merge_config failed (see $out/merge.log)"
	kmake olddefconfig >/dev/null
	# Every option a fragment asks for must have survived olddefconfig.
	missing=0
	# A later fragment overrides an earlier one, so check the last word.
	while IFS= read -r line; do
		# The COW PTE option does not exist in the stock tree.
		[ "$variant" = stock ] && [ "${line%%=*}" = CONFIG_COW_PTE ] && continue
		if ! grep -qxF "$line" "$out/.config"; then
			echo "error: '$line' from the config fragments did not take (dependency missing?)" >&2
			missing=1
		fi
	done < <(grep -h '^CONFIG_[A-Z0-9_]*=' "${frags[@]}" | tac | awk -F= '!seen[$1]++' | tac)
	[ $missing = 0 ] || { rm -f "$out/.config"; die "kernel configuration for $variant is incomplete"; }
	echo "$sum" >"$out/.fragments.sha"
fi

note "building $variant kernel in $out"
if ! kmake bzImage >"$out/build.log" 2>&1; then
	grep -iE 'error' "$out/build.log" | head -30 >&2
	die "kernel build failed for $variant (see $out/build.log)"
fi
# KASAN inflates stack frames; only our own files' warnings are news.
grep -E '/mm/(cow_pte|memory|gup)\.[ch]:.*warning' "$out/build.log" >&2 || true
[ -f "$out/arch/x86/boot/bzImage" ] || die "no bzImage for $variant"
note "built $(cat "$out/include/config/kernel.release") ($variant)"
