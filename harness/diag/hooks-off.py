#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Patch a kernel tree so that each COW PTE path hook can be switched off
at boot, for showing that the path tests fail without their hook (issue 4).
Diagnosis only: the result is never exported or committed.

usage: hooks-off.py SRC        patch SRC in place
       hooks-off.py --list     print "bit name tests..." for hooks-off.sh
       hooks-off.py --files    print the files that patching SRC changes

Booting the patched kernel with cow_pte_off=MASK makes every hook whose
bit is set in MASK behave as if the table were not shared (or, for a
break, as if the break had succeeded without copying).
"""
import re
import sys

# bit, name, file, the call to wrap, which occurrence of it in the file
# (0-based), and the tests that drive that path: cases of the
# cow_pte_paths_* programs (hooks-off.sh finds which program has each), or
# cow_pte_soundness cases as soundness/NAME.
HOOKS = [
    (0, "gup_slow", "mm/gup.c", "cow_pte_pmd_shared", 0,
     "process_vm_readv ptrace_pokedata gup_pin_read_only gup_pin_read_write "
     "odirect_read_write io_uring_fixed_buffers"),
    (1, "gup_fast", "mm/gup.c", "cow_pte_pmd_shared", 1,
     "vmsplice_then_unmap gup_pin_read_only gup_pin_read_write "
     "io_uring_fixed_buffers odirect_read_write"),
    (2, "hmm_range_fault", "mm/hmm.c", "cow_pte_unshare", 0,
     "device_mirror_write"),
    (3, "khugepaged_scan", "mm/khugepaged.c", "cow_pte_pmd_shared", 0,
     "khugepaged_daemon"),
    (4, "madv_collapse", "mm/khugepaged.c", "cow_pte_unshare_range", 0,
     "madv_collapse"),
    (5, "madv_free", "mm/madvise.c", "cow_pte_unshare_range", 0,
     "madv_free"),
    (6, "migrate_vma", "mm/migrate_device.c", "cow_pte_unshare", 0,
     "device_migrate_after_fork"),
    (7, "numa_hinting", "mm/mprotect.c", "cow_pte_pmd_shared", 0,
     "numa_balancing_scan"),
    (8, "mprotect", "mm/mprotect.c", "cow_pte_unshare_range", 0,
     "mprotect_read_only mprotect_none mprotect_part pkey_mprotect"),
    (9, "mremap", "mm/mremap.c", "cow_pte_unshare_range", 0,
     "mremap_whole_tables mremap_part mremap_grow mremap_shrink "
     "mremap_dontunmap"),
    (10, "rmap_walk", "mm/page_vma_mapped.c", "cow_pte_unshare", 0,
     "memcg_reclaim swap_entries_shared migrate_move_pages_all "
     "migrate_mbind_all "
     "migrate_compaction ksm_merge_unmerge ksm_prctl_memory_merge "
     "memory_failure"),
    (11, "swapoff", "mm/swapfile.c", "cow_pte_unshare_swap", 0,
     "swapoff soundness/swapoff_copies_swapped_only"),
    (12, "uffd_move", "mm/userfaultfd.c", "cow_pte_unshare_range_vma_locked",
     0, "userfaultfd_move"),
    (13, "uffd_register", "mm/userfaultfd.c", "cow_pte_unshare_range", 0,
     "userfaultfd_register_wp_zeropage pagemap_scan_written"),
    (14, "vma_split", "mm/vma.c", "cow_pte_split_vma", 0,
     "vma_split_unmap mprotect_part madv_dontfork madv_wipeonfork_keeponfork "
     "mlock_mincore brk_shrink"),
    (15, "smaps", "fs/proc/task_mmu.c", "cow_pte_other_sharers", 0,
     "smaps_pss"),
    (16, "clear_refs", "fs/proc/task_mmu.c", "cow_pte_pmd_shared", 0,
     "clear_refs_soft_dirty"),
    (17, "pagemap", "fs/proc/task_mmu.c", "cow_pte_other_sharers", 1,
     "pagemap_exclusive"),
    (18, "madv_cold_pageout", "mm/madvise.c", "cow_pte_other_sharers", 0,
     "madv_pageout madv_cold"),
    (19, "move_pages", "mm/migrate.c", "cow_pte_folio_walk_shared", 0,
     "migrate_move_pages"),
    (20, "mbind", "mm/mempolicy.c", "cow_pte_other_sharers", 0,
     "migrate_mbind"),
    (21, "mlock", "mm/mlock.c", "cow_pte_unshare_range", 0,
     "mlock_onfault_unmap"),
    (22, "clear_refs_young", "fs/proc/task_mmu.c", "cow_pte_unshare", 0,
     "clear_refs_referenced"),
    (23, "numa_maps", "fs/proc/task_mmu.c", "cow_pte_other_sharers", 2,
     "numa_maps_mapmax"),
    (24, "merge_boundary", "mm/vma.c", "cow_pte_split_vma", 1,
     "soundness/merge_moves_boundary"),
    (25, "oom_badness", "mm/oom_kill.c", "cow_pte_unowned_pages", 0,
     "soundness/oom_score_counts_unowned"),
    (26, "hwpoison_retry", "mm/memory-failure.c", "cow_pte_unshare_folio", 0,
     "soundness/hwpoison_unmaps_every_sharer"),
    # The PUD-level hooks of shared PMD tables, driven by the cow_pmd_*
    # variants of the same tests.
    (27, "pmd_gup_slow", "mm/gup.c", "cow_pmd_pud_shared", 0,
     "ptrace_pokedata gup_pin_read_only gup_pin_read_write "
     "odirect_read_write io_uring_fixed_buffers"),
    (28, "pmd_gup_fast", "mm/gup.c", "cow_pmd_pud_shared", 1,
     "vmsplice_then_unmap gup_pin_read_only gup_pin_read_write "
     "io_uring_fixed_buffers odirect_read_write"),
    (29, "pmd_numa_hinting", "mm/mprotect.c", "cow_pmd_pud_shared", 0,
     "numa_balancing_scan"),
    (30, "pmd_rmap_walk", "mm/page_vma_mapped.c", "cow_pmd_unshare", 0,
     "memcg_reclaim swap_entries_shared migrate_move_pages_all "
     "migrate_mbind_all migrate_compaction ksm_merge_unmerge "
     "ksm_prctl_memory_merge memory_failure"),
    (31, "pmd_page_walk", "mm/pagewalk.c", "cow_pmd_unshare", 0,
     "madv_pageout madv_cold clear_refs_soft_dirty clear_refs_referenced "
     "migrate_move_pages migrate_mbind pagemap_scan_written mlock_mincore "
     "pagemap_exclusive smaps_pss numa_maps_mapmax device_mirror_write"),
    (32, "pmd_find_pmd", "mm/rmap.c", "cow_pmd_pud_shared", 0,
     "ksm_merge_unmerge khugepaged_daemon"),
    (33, "pmd_swapoff", "mm/swapfile.c", "cow_pmd_unshare", 0, "swapoff"),
    (34, "pmd_unshare_range", "mm/cow_pte.c", "cow_pmd_unshare_range", 0,
     "mprotect_read_only mprotect_none pkey_mprotect mremap_whole_tables "
     "mremap_part mremap_grow mremap_shrink mremap_dontunmap madv_free "
     "madv_collapse userfaultfd_register_wp_zeropage userfaultfd_move "
     "mlock_onfault_unmap"),
    (36, "pmd_rmap_split", "mm/rmap.c", "cow_pmd_unshare_rmap", 0,
     "memory_failure"),
    (35, "pmd_vma_split", "include/linux/cow_pte.h", "cow_pmd_unshare_range",
     1, "vma_split_unmap mprotect_part madv_dontfork "
     "madv_wipeonfork_keeponfork mlock_mincore"),
]


def wrap(text, call, nth, bit):
    """Wrap the nth call of @call (a whole identifier) in a bit test."""
    calls = [m for m in re.finditer(r"\b%s\(" % call, text)]
    if nth >= len(calls):
        sys.exit("hooks-off: call %d of %s not found" % (nth, call))
    start = calls[nth].start()
    depth, i = 0, calls[nth].end() - 1
    while True:
        depth += {"(": 1, ")": -1}.get(text[i], 0)
        if depth == 0:
            break
        i += 1
    return "%s(test_bit(%d, &cow_pte_diag_off) ? 0 : %s)%s" % (
        text[:start], bit, text[start:i + 1], text[i + 1:])


# Where the switch itself lives, besides the files of the hooks.
SWITCH_FILES = ["include/linux/cow_pte.h", "mm/cow_pte.c"]


def patched_files():
    return sorted({h[2] for h in HOOKS} | set(SWITCH_FILES))


def patch(src):
    files = {}
    for bit, _, path, call, nth, _ in HOOKS:
        files.setdefault(path, []).append((call, nth, bit))
    for path, sites in files.items():
        with open("%s/%s" % (src, path)) as f:
            text = f.read()
        # Later occurrences first, so that earlier indices stay valid.
        for call, nth, bit in sorted(sites, key=lambda s: -s[1]):
            text = wrap(text, call, nth, bit)
        with open("%s/%s" % (src, path), "w") as f:
            f.write(text)
    header = "%s/%s" % (src, SWITCH_FILES[0])
    with open(header) as f:
        text = f.read()
    text = text.replace("struct mmu_gather;\n",
                        "struct mmu_gather;\nextern unsigned long cow_pte_diag_off;\n", 1)
    with open(header, "w") as f:
        f.write(text)
    with open("%s/%s" % (src, SWITCH_FILES[1]), "a") as f:
        f.write("\nunsigned long cow_pte_diag_off;\n"
                "core_param(cow_pte_off, cow_pte_diag_off, ulong, 0444);\n")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    if sys.argv[1] == "--list":
        for bit, name, _, _, _, tests in HOOKS:
            print(bit, name, tests)
    elif sys.argv[1] == "--files":
        print(" ".join(patched_files()))
    else:
        patch(sys.argv[1])
