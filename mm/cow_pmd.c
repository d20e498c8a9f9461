// SPDX-License-Identifier: GPL-2.0
/*
 * Copy-on-write PMD tables for fork(): COW PTE one level up.
 *
 * Sharing PTE tables makes fork cost a few hundred instructions per 2 MiB
 * instead of per page, but that still grows with memory, and memory that
 * THP maps has no PTE tables to share. So fork also shares each PMD table
 * that one eligible VMA covers whole (1 GiB, aligned): parent and child
 * point their PUD entries at the same PMD table, and both entries are made
 * read-only. x86-64 honours RW in a non-leaf entry, so every write through
 * it faults, and a walker tells a shared PMD table from the PUD entry
 * alone (cow_pmd_pud_shared()). Nothing below the PMD table is touched.
 *
 * The invariant is the PTE level's, one level up: a PMD table shared by N
 * mms is one mapping of everything below it. A PTE table it points at has
 * one share for that entry, however many mms reach it; a THP it maps has
 * one mapcount and one reference for it.
 *
 * Breaking a shared PMD table gives the mm a copy in which every entry is
 * what fork would have made of it at the PTE level: a PTE table becomes a
 * shared PTE table (its entry read-only in both tables, one more share), a
 * huge entry is copied as copy_huge_pmd() copies it, none stays none. The
 * per-page work stays deferred to the PTE tables' own breaks, so the copy
 * costs 512 entries, not 512 x 512. The last sharer takes the table over.
 *
 * Share state lives in the PMD table's struct ptdesc, in the fields the
 * PTE level uses (pt_cow_share, pt_cow_owner), under the table's own split
 * lock, which every sharer's pmd_lock() takes. pt_cow_share is also
 * hugetlb's pt_share_count: it is set back to 0 when a table stops being
 * shared. The owner counts, as at fork, all that is below the table: PTE
 * tables and their pages, THPs and the tables deposited for them, and the
 * PMD table itself. A sharer that breaks away counts its copy; the owner
 * that drops the table (exit, munmap) walks it once to stop counting.
 *
 * Every path that would descend from a shared PUD entry into the PMD table
 * to change it breaks the table first (faults, page walks, the syscalls
 * that call cow_pte_unshare_range(), rmap walks that unmap, swapoff), skips
 * it (NUMA hinting, khugepaged), or refuses to walk it locklessly (GUP).
 * See Documentation/admin-guide/mm/cow_pte.rst.
 */
#include <linux/mm.h>
#include <linux/cow_pte.h>
#include <linux/huge_mm.h>
#include <linux/pgalloc.h>
#include <linux/rmap.h>
#include <linux/sched/coredump.h>
#include <linux/sched/mm.h>
#include <linux/swap.h>
#include <linux/swapops.h>
#include <linux/sysctl.h>
#include <asm/tlbflush.h>
#include <asm/tlb.h>

#include "internal.h"
#include "cow_pte_internal.h"

#include <trace/events/cow_pte.h>

/*
 * vm.cow_pte_pmd: whether fork shares PMD tables too. Off by default while
 * the PMD level is new; see the documentation.
 */
static int sysctl_cow_pte_pmd __read_mostly;

static struct ctl_table cow_pmd_sysctls[] = {
	{
		.procname	= "cow_pte_pmd",
		.data		= &sysctl_cow_pte_pmd,
		.maxlen		= sizeof(int),
		.mode		= 0644,
		.proc_handler	= proc_dointvec_minmax,
		.extra1		= SYSCTL_ZERO,
		.extra2		= SYSCTL_ONE,
	},
};

static int __init cow_pmd_sysctl_init(void)
{
	register_sysctl_init("vm", cow_pmd_sysctls);
	return 0;
}
subsys_initcall(cow_pmd_sysctl_init);

/* The PMD table a present, non-leaf PUD entry points at. */
static inline struct ptdesc *pud_table(pud_t pud)
{
	return page_ptdesc(pud_page(pud));
}

/*
 * The TLB rule of cow_pte_flush_table(), for 1 GiB: before this mm's share
 * of a PMD table drops, no CPU may still reach the table through it.
 */
static void cow_pmd_flush_table(struct mm_struct *mm, unsigned long start)
{
	flush_tlb_mm_range(mm, start, start + PUD_SIZE, PAGE_SHIFT, true);
}

/**
 * __cow_pmd_fork - share a PMD table with the child instead of copying it
 * @dst_vma: the child's VMA
 * @src_vma: the parent's VMA
 * @dst_pud: the child's PUD entry, empty
 * @src_pud: the parent's PUD entry, pointing at a PMD table
 * @addr: start of the range covered by the table
 * @end: end of that range
 *
 * Called by fork of a process in the mode for each PMD table, with both
 * mmap locks held for writing. Returns true when the table is now shared,
 * false when the caller must copy it (which may share its PTE tables one
 * by one). Copying a shared PMD table, as fork with the mode off does,
 * changes its entries only as a break would (write protection, one more
 * mapping for the child's copy), which every sharer may see.
 */
bool __cow_pmd_fork(struct vm_area_struct *dst_vma,
		    struct vm_area_struct *src_vma, pud_t *dst_pud,
		    pud_t *src_pud, unsigned long addr, unsigned long end)
{
	struct mm_struct *src_mm = src_vma->vm_mm;
	struct mm_struct *dst_mm = dst_vma->vm_mm;
	struct ptdesc *table;
	spinlock_t *ptl;		/* the PMD table's */
	int sharers;
	pud_t pud;

	pud = pudp_get(src_pud);
	/*
	 * A table this mm shares already is shared again: vm.cow_pte_pmd
	 * and the checks below are for new shares, and still hold.
	 */
	if (!cow_pmd_pud_shared(pud)) {
		if (!READ_ONCE(sysctl_cow_pte_pmd) ||
		    (addr & ~PUD_MASK) || end - addr != PUD_SIZE)
			return false;
		/* As at the PTE level: see __cow_pte_fork(). */
		if (test_bit(MMF_HAS_PINNED, &src_mm->flags) ||
		    !vma_cow_pte_eligible(src_vma))
			return false;
	}

	spin_lock(&src_mm->page_table_lock);
	pud = pudp_get(src_pud);
	if (!pud_present(pud) || pud_leaf(pud)) {
		spin_unlock(&src_mm->page_table_lock);
		return false;
	}
	table = pud_table(pud);
	ptl = ptlock_ptr(table);
	spin_lock(ptl);
	if (!cow_pmd_pud_shared(pud)) {
		atomic_set(&table->pt_cow_share, 1);
		table->pt_cow_owner = src_mm;
		pud = pud_clear_flags(pud, _PAGE_RW);
		/* dup_mmap() flushes the parent's TLB before it returns. */
		set_pud(src_pud, pud);
	}
	sharers = atomic_inc_return(&table->pt_cow_share);
	set_pud(dst_pud, pud);
	spin_unlock(ptl);
	spin_unlock(&src_mm->page_table_lock);

	set_bit(MMF_COW_PTE_TABLES, &src_mm->flags);
	set_bit(MMF_COW_PTE_TABLES, &dst_mm->flags);
	if (!list_empty(&src_mm->mmlist))
		cow_track_swap(dst_mm);
	/*
	 * The child now maps the huge zero page wherever the parent does; it
	 * needs its own reference, or the page may go when the parent does.
	 * The parent holds one, so this does not allocate.
	 */
	if (IS_ENABLED(CONFIG_TRANSPARENT_HUGEPAGE) &&
	    test_bit(MMF_HUGE_ZERO_PAGE, &src_mm->flags))
		mm_get_huge_zero_folio(dst_mm);
	count_vm_event(COW_PMD_SHARE);
	trace_mm_cow_pmd_share(src_mm, addr, sharers);
	return true;
}

/*
 * Make the PTE table a shared PMD table's entry @src points at shared at
 * the PTE level too, for a copy of the PMD table at @dst: both entries
 * read-only, one more share, counted as a share by fork is, since a copy
 * or a drop will end it. @owner is who counts its pages: the owner of the
 * PMD table, for a PTE table only that table reached.
 */
static void share_pte_table(pmd_t *src, pmd_t *dst, struct mm_struct *owner)
{
	pmd_t pmd = pmdp_get(src);
	struct ptdesc *pte_table = pmd_table(pmd);
	spinlock_t *ptl = ptlock_ptr(pte_table);

	spin_lock_nested(ptl, SINGLE_DEPTH_NESTING + 1);
	if (!cow_pte_pmd_shared(pmd)) {
		atomic_set(&pte_table->pt_cow_share, 1);
		/* Nobody counts it while the PMD table's owner is gone. */
		pte_table->pt_cow_owner = owner ? owner :
			(struct mm_struct *)TABLE_UNOWNED;
		pmd = pmd_clear_flags(pmd, _PAGE_RW);
		set_pmd(src, pmd);
	}
	if (dst) {
		atomic_inc(&pte_table->pt_cow_share);
		set_pmd(dst, pmd);
		count_vm_event(COW_PTE_SHARE);
	}
	spin_unlock(ptl);
}

/* A huge entry: a THP, the huge zero page, or a THP being migrated. */
static bool pmd_is_huge_entry(pmd_t pmd)
{
	return pmd_trans_huge(pmd) || is_pmd_migration_entry(pmd);
}

/*
 * What a huge entry adds to its mm's counters: RSS for the THP, and the
 * table deposited with it (@ptes).
 */
static void huge_entry_rss(pmd_t pmd, int *rss, int *ptes)
{
	(*ptes)++;
	if (pmd_trans_huge(pmd) && is_huge_zero_pmd(pmd))
		return;
	rss[MM_ANONPAGES] += HPAGE_PMD_NR;
}

/*
 * Copy the huge entry @src of a shared PMD table into the copy at @dst, as
 * fork's copy_huge_pmd() would have at fork time: a THP gets one more
 * mapping and loses its exclusive mark, both entries write-protected; a
 * writable migration entry becomes readable. Called with both tables'
 * locks and write_protect_seq held; @pgtable is the table to deposit.
 *
 * Fork copies a THP that may be pinned for the child, so that the pin
 * stays with the parent's mapping. A break cannot tell which sharer
 * pinned, nor allocate 2 MiB under these locks, but it need not: fork
 * does not share the tables of an mm that ever pinned, GUP breaks a shared
 * table before it pins anything below it, and a THP's pin count is exact.
 * Were such a THP here all the same, it is mapped by both tables as fork
 * mapped pinned pages before it knew about pins: a write after the break
 * may leave the pin behind, but no sharer loses its data, which failing
 * the break of a zap would cost.
 */
static void copy_huge_entry(struct vm_area_struct *vma, unsigned long addr,
			    pmd_t *src, pmd_t *dst, pgtable_t pgtable)
{
	struct mm_struct *mm = vma->vm_mm;
	pmd_t pmd = pmdp_get(src);

	if (is_pmd_migration_entry(pmd)) {
		swp_entry_t entry = pmd_to_swp_entry(pmd);

		if (!is_readable_migration_entry(entry)) {
			entry = make_readable_migration_entry(swp_offset(entry));
			pmd = swp_entry_to_pmd(entry);
			if (pmd_swp_soft_dirty(pmdp_get(src)))
				pmd = pmd_swp_mksoft_dirty(pmd);
			set_pmd(src, pmd);
		}
		pmd = pmd_swp_clear_uffd_wp(pmd);
	} else if (!is_huge_zero_pmd(pmd)) {
		struct page *page = pmd_page(pmd);
		struct folio *folio = page_folio(page);

		if (WARN_ON_ONCE(PageAnonExclusive(page) &&
				 folio_maybe_dma_pinned(folio)))
			ClearPageAnonExclusive(page);
		folio_get(folio);
		/* Cannot fail now: the page is not exclusive, or not pinned. */
		WARN_ON_ONCE(folio_try_dup_anon_rmap_pmd(folio, page, vma));
		pmdp_set_wrprotect(mm, addr, src);
		pmd = pmd_clear_uffd_wp(pmd_mkold(pmd_wrprotect(pmd)));
	}
	pgtable_trans_huge_deposit(mm, dst, pgtable);
	set_pmd_at(mm, addr, dst, pmd);
}

static int count_huge_entries(pmd_t *pmdp)
{
	int i, n = 0;

	for (i = 0; i < PTRS_PER_PMD; i++)
		n += pmd_is_huge_entry(pmdp_get(pmdp + i));
	return n;
}

/*
 * As table_unexclusive() at the PTE level, for a THP the last sharer takes
 * over: a reference taken before the fork keeps the data of that moment.
 */
static void thp_unexclusive(struct vm_area_struct *vma, unsigned long addr,
			    pmd_t *pmdp)
{
	pmd_t pmd = pmdp_get(pmdp);
	struct page *page;

	if (!pmd_trans_huge(pmd) || is_huge_zero_pmd(pmd))
		return;
	page = pmd_page(pmd);
	if (!PageAnonExclusive(page) ||
	    !cow_folio_held_elsewhere(page_folio(page)))
		return;
	ClearPageAnonExclusive(page);
	pmdp_set_wrprotect(vma->vm_mm, addr, pmdp);
}

/*
 * The last sharer keeps the PMD table: make it writable again and take its
 * accounting over. Called with page_table_lock and the table's lock.
 *
 * Unless a sharer copied the table (which made every entry what fork would
 * have made), the entries are still as the parent left them at fork: the
 * PTE tables that only this table reached become shared PTE tables with
 * one sharer, so that the PTE level takes each of them over on its first
 * change (table_reuse(): exclusive marks, accounting); THPs are checked
 * here. 512 entries, no page.
 */
static void cow_pmd_reuse(struct vm_area_struct *vma, pud_t *pudp, pud_t pud,
			  struct ptdesc *table, unsigned long start,
			  enum cow_pte_reason why)
{
	bool copied = (unsigned long)table->pt_cow_owner & TABLE_COPIED;
	struct mm_struct *owner = table_owner(table);
	struct mm_struct *mm = vma->vm_mm;
	int rss[NR_MM_COUNTERS] = { 0 };
	pmd_t *pmdp = ptdesc_address(table);
	int i, ptes = 0;

	for (i = 0; i < PTRS_PER_PMD; i++) {
		unsigned long addr = start + i * PMD_SIZE;
		pmd_t pmd = pmdp_get(pmdp + i);

		if (pmd_none(pmd))
			continue;
		if (pmd_is_huge_entry(pmd)) {
			if (owner != mm)
				huge_entry_rss(pmd, rss, &ptes);
			if (!copied)
				thp_unexclusive(vma, addr, pmdp + i);
			continue;
		}
		if (!copied && pmd_present(pmd) && !cow_pte_pmd_shared(pmd))
			share_pte_table(pmdp + i, NULL, owner == mm ? mm : NULL);
	}
	if (owner != mm) {
		cow_add_rss(mm, rss, 1);
		mm_inc_nr_pmds(mm);
		while (ptes--)
			mm_inc_nr_ptes(mm);
	}
	atomic_set(&table->pt_cow_share, 0);
	table->pt_cow_owner = NULL;
	set_bit(MMF_COW_PTE_TABLES, &mm->flags);
	/* Upgrading the permission needs no TLB flush. */
	set_pud(pudp, pud_set_flags(pud, _PAGE_RW));
	count_vm_event(COW_PMD_REUSE);
	trace_mm_cow_pmd_reuse(mm, start, 1, why);
}

/*
 * The owner drops a PMD table others still share: stop counting what is
 * below it, and record that in the table for the OOM killer. A walk of
 * every PTE table the owner counts, as cheap as a zap without the pages.
 */
static void cow_pmd_disown(struct vm_area_struct *vma, struct ptdesc *table,
			   unsigned long start)
{
	struct mm_struct *mm = vma->vm_mm;
	int rss[NR_MM_COUNTERS] = { 0 };
	pmd_t *pmdp = ptdesc_address(table);
	int i, ptes = 0;

	for (i = 0; i < PTRS_PER_PMD; i++) {
		unsigned long addr = start + i * PMD_SIZE;
		pmd_t pmd = pmdp_get(pmdp + i);
		struct ptdesc *pte_table;
		spinlock_t *ptl;	/* the PTE table's */

		if (pmd_none(pmd))
			continue;
		if (pmd_is_huge_entry(pmd)) {
			huge_entry_rss(pmd, rss, &ptes);
			continue;
		}
		pte_table = pmd_table(pmd);
		if (!cow_pte_pmd_shared(pmd)) {
			cow_table_rss(vma, ptdesc_address(pte_table), addr, rss);
			ptes++;
			continue;
		}
		ptl = ptlock_ptr(pte_table);
		spin_lock_nested(ptl, SINGLE_DEPTH_NESTING + 1);
		if (table_owner(pte_table) == mm) {
			int own[NR_MM_COUNTERS] = { 0 };
			int k;

			cow_table_rss(vma, ptdesc_address(pte_table), addr, own);
			for (k = 0; k < NR_MM_COUNTERS; k++)
				rss[k] += own[k];
			ptes++;
			cow_table_disown(pte_table, own);
		}
		spin_unlock(ptl);
	}
	cow_add_rss(mm, rss, -1);
	mm_dec_nr_pmds(mm);
	while (ptes--)
		mm_dec_nr_ptes(mm);
	cow_table_disown(table, rss);
}

static pmd_t *cow_pmd_alloc_table(struct mm_struct *mm, gfp_t gfp)
{
	struct ptdesc *ptdesc;

	ptdesc = pagetable_alloc(gfp | __GFP_ZERO | __GFP_ACCOUNT, 0);
	if (!ptdesc)
		return NULL;
	if (!pagetable_pmd_ctor(ptdesc)) {
		pagetable_free(ptdesc);
		return NULL;
	}
	return ptdesc_address(ptdesc);
}

/*
 * Tables to deposit under the copy's huge entries, allocated unlocked. A
 * split fills a deposited table as if it were empty, so it must be zeroed
 * whatever @gfp the path gave (page walks pass GFP_KERNEL).
 */
struct deposits {
	struct list_head list;
	int nr;
};

static int deposits_fill(struct mm_struct *mm, struct deposits *d, int need,
			 gfp_t gfp)
{
	while (d->nr < need) {
		pgtable_t pgtable = __pte_alloc_one(mm, gfp | __GFP_ZERO |
						    __GFP_ACCOUNT);

		if (!pgtable)
			return -ENOMEM;
		list_add(&pgtable->lru, &d->list);
		d->nr++;
	}
	return 0;
}

static pgtable_t deposits_take(struct deposits *d)
{
	pgtable_t pgtable = list_first_entry(&d->list, struct page, lru);

	list_del(&pgtable->lru);
	d->nr--;
	return pgtable;
}

static void deposits_free(struct mm_struct *mm, struct deposits *d)
{
	while (d->nr)
		pte_free(mm, deposits_take(d));
}

static void unlock_shared_table(struct mm_struct *mm, struct ptdesc *table)
{
	spin_unlock(ptlock_ptr(table));
	spin_unlock(&mm->page_table_lock);
}

/*
 * Lock the PMD table @pudp points at for a break or a drop of this mm's
 * share: page_table_lock, then the table's own lock. Returns the table,
 * still shared with another mm; or NULL, with nothing locked, when it is
 * this mm's alone now: another thread of the mm got there first, or this
 * mm was the last sharer and has just taken the table over.
 */
static struct ptdesc *lock_shared_table(struct vm_area_struct *vma,
					pud_t *pudp, unsigned long start,
					enum cow_pte_reason why)
{
	struct mm_struct *mm = vma->vm_mm;
	struct ptdesc *table;
	pud_t pud;

	spin_lock(&mm->page_table_lock);
	pud = pudp_get(pudp);
	if (!cow_pmd_pud_shared(pud)) {
		spin_unlock(&mm->page_table_lock);
		return NULL;
	}
	table = pud_table(pud);
	spin_lock(ptlock_ptr(table));
	/*
	 * The last sharer stays the last: only this mm, whose mmap lock the
	 * caller holds, could share the table again.
	 */
	if (atomic_read(&table->pt_cow_share) == 1) {
		cow_pmd_reuse(vma, pudp, pud, table, start, why);
		unlock_shared_table(mm, table);
		return NULL;
	}
	return table;
}

/*
 * Give @vma's mm a private copy of the shared PMD table @pudp points at, or
 * the table itself when no other mm shares it any more. Returns 0 or
 * -ENOMEM (the table is then still shared); with __GFP_NOFAIL in @gfp, 0.
 */
static int cow_pmd_break(struct vm_area_struct *vma, pud_t *pudp,
			 unsigned long addr, gfp_t gfp, enum cow_pte_reason why)
{
	struct deposits deposits = { .list = LIST_HEAD_INIT(deposits.list) };
	struct mm_struct *mm = vma->vm_mm;
	unsigned long start = addr & PUD_MASK;
	int rss[NR_MM_COUNTERS] = { 0 };
	struct ptdesc *table;
	spinlock_t *new_ptl;		/* the copy's */
	int i, need = 0, ptes = 0, sharers, ret = 0;
	pmd_t *src, *new = NULL;
	struct mm_struct *owner;

again:
	table = lock_shared_table(vma, pudp, start, why);
	if (!table)
		goto out;
	src = ptdesc_address(table);
	/* Entries of a shared table do not change: the count holds. */
	need = count_huge_entries(src);
	if (!new || deposits.nr < need) {
		unlock_shared_table(mm, table);
		while (!new) {
			new = cow_pmd_alloc_table(mm, gfp);
			if (!new && !(gfp & __GFP_NOFAIL)) {
				ret = -ENOMEM;
				goto out;
			}
			/*
			 * __GFP_NOFAIL covers the page but not its split
			 * lock, a slab object under lockdep.
			 */
			if (!new)
				memalloc_retry_wait(gfp);
		}
		while (deposits_fill(mm, &deposits, need, gfp)) {
			if (!(gfp & __GFP_NOFAIL)) {
				ret = -ENOMEM;
				goto out;
			}
			memalloc_retry_wait(gfp);
		}
		goto again;
	}

	new_ptl = ptlock_ptr(virt_to_ptdesc(new));
	spin_lock_nested(new_ptl, SINGLE_DEPTH_NESTING);
	owner = table_owner(table);
	/*
	 * Duplicating anon rmaps follows fork's protocol against GUP-fast
	 * pinning; page_table_lock serialises the writers, as in
	 * cow_pte_break().
	 */
	raw_write_seqcount_begin(&mm->write_protect_seq);
	for (i = 0; i < PTRS_PER_PMD; i++) {
		unsigned long a = start + i * PMD_SIZE;
		pmd_t pmd = pmdp_get(src + i);

		if (pmd_none(pmd))
			continue;
		if (!pmd_is_huge_entry(pmd)) {
			share_pte_table(src + i, new + i, owner);
			continue;
		}
		copy_huge_entry(vma, a, src + i, new + i,
				deposits_take(&deposits));
		huge_entry_rss(pmd, rss, &ptes);
	}
	/* The owner counted all of this already; anyone else counts now. */
	if (owner == mm) {
		cow_table_disown(table, rss);
	} else {
		cow_add_rss(mm, rss, 1);
		mm_inc_nr_pmds(mm);
		while (ptes--)
			mm_inc_nr_ptes(mm);
	}
	table_set_copied(table);
	raw_write_seqcount_end(&mm->write_protect_seq);
	spin_unlock(new_ptl);
	/* The copy must be complete before the hardware can walk it. */
	smp_wmb();
	pud_populate(mm, pudp, new);
	new = NULL;
	cow_pmd_flush_table(mm, start);
	sharers = atomic_dec_return(&table->pt_cow_share);
	set_bit(MMF_COW_PTE_TABLES, &mm->flags);
	count_vm_event(COW_PMD_COPY);
	trace_mm_cow_pmd_break(mm, start, sharers, why);
	unlock_shared_table(mm, table);
out:
	if (new)
		pmd_free(mm, new);
	deposits_free(mm, &deposits);
	return ret;
}

/**
 * __cow_pmd_fault - make the PMD table of a faulting address private
 * @vma: the faulting VMA
 * @pudp: its PUD entry for @addr, pointing at a shared PMD table
 * @addr: the faulting address
 * @flags: the fault's FAULT_FLAG_*
 *
 * Every fault below a shared PMD table is about to change something below
 * it, as at the PTE level (__cow_pte_fault()), and takes the mmap lock for
 * the break in the same way.
 */
vm_fault_t __cow_pmd_fault(struct vm_area_struct *vma, pud_t *pudp,
			   unsigned long addr, unsigned int flags)
{
	vm_fault_t ret = 0;
	int err;

	if (flags & FAULT_FLAG_VMA_LOCK) {
		if (!mmap_read_trylock(vma->vm_mm)) {
			vma_end_read(vma);
			return VM_FAULT_RETRY;
		}
	}
	err = cow_pmd_break(vma, pudp, addr, GFP_PGTABLE_USER,
			    flags & FAULT_FLAG_USER ? COW_PTE_FAULT : COW_PTE_KERNEL);
	if (err)
		ret = VM_FAULT_OOM;
	if (flags & FAULT_FLAG_VMA_LOCK)
		mmap_read_unlock(vma->vm_mm);
	return ret;
}

/**
 * __cow_pmd_unshare - make a shared PMD table private before changing it
 * @vma: the VMA mapping @addr
 * @pudp: its PUD entry for @addr
 * @addr: an address the table maps
 * @gfp: how to allocate the copy
 * @why: the path that calls, for the tracepoints
 *
 * For paths that descend into the PMD table to change it. Callers that may
 * sleep hold the mmap lock; rmap walks (@gfp that cannot block) hold
 * neither, so the mmap lock is tried, as in __cow_pte_unshare(). Returns
 * 0, -ENOMEM, or -EAGAIN when the mmap lock was contended.
 */
int __cow_pmd_unshare(struct vm_area_struct *vma, pud_t *pudp,
		      unsigned long addr, gfp_t gfp, enum cow_pte_reason why)
{
	struct mm_struct *mm = vma->vm_mm;
	int ret;

	if (gfpflags_allow_blocking(gfp))
		return cow_pmd_break(vma, pudp, addr, gfp, why);
	if (!mmap_read_trylock(mm))
		return -EAGAIN;
	ret = cow_pmd_break(vma, pudp, addr, gfp | __GFP_NOWARN, why);
	mmap_read_unlock(mm);
	return ret;
}

/* The PUD entry of @mm for @addr, or NULL when there is no PUD table. */
static pud_t *cow_pmd_find_pud(struct mm_struct *mm, unsigned long addr)
{
	pgd_t *pgd = pgd_offset(mm, addr);
	p4d_t *p4d;

	if (!pgd_present(pgdp_get(pgd)))
		return NULL;
	p4d = p4d_offset(pgd, addr);
	if (!p4d_present(p4dp_get(p4d)))
		return NULL;
	return pud_offset(p4d, addr);
}

/**
 * __cow_pmd_unshare_rmap - copy a shared PMD table before a THP in it is split
 * @vma: a VMA an rmap walk visits
 * @addr: where it maps the folio
 *
 * try_to_migrate() splits a PMD-mapped THP before it walks the folio's
 * mappings (split_huge_pmd_address()), and the walk then expects PTEs only.
 * mm_find_pmd() does not find a shared PMD table, since a split there would
 * change every sharer's mapping, and the walk copies the table and finds
 * the THP still mapped whole. So copy the table first and split in this
 * mm's own copy. Called with rmap locks held: the mmap lock is only tried.
 * Returns 0, or -EAGAIN or -ENOMEM when the table is still shared, and the
 * caller must then leave the folio mapped here.
 */
int __cow_pmd_unshare_rmap(struct vm_area_struct *vma, unsigned long addr)
{
	pud_t *pudp = cow_pmd_find_pud(vma->vm_mm, addr);

	return pudp ? cow_pmd_unshare(vma, pudp, addr, GFP_NOWAIT,
				      COW_PTE_RMAP) : 0;
}

/* Whether @mm maps @addr through a shared PMD table. */
bool cow_pmd_shared_at(struct mm_struct *mm, unsigned long addr)
{
	pud_t *pudp = cow_pmd_find_pud(mm, addr);

	return pudp && cow_pmd_pud_shared(pudp_get(pudp));
}

/**
 * cow_pmd_unshare_range - make private every shared PMD table in a range
 * @vma: the VMA containing the range
 * @start: start of the range
 * @end: its end
 * @why: the path that calls, for the tracepoints
 *
 * The first half of __cow_pte_unshare_range(), which then does the same
 * for the PTE tables. Returns 0 or -ENOMEM.
 */
int cow_pmd_unshare_range(struct vm_area_struct *vma, unsigned long start,
			  unsigned long end, enum cow_pte_reason why)
{
	unsigned long addr;
	pud_t *pudp;
	int ret;

	for (addr = start; addr < end; addr = pud_addr_end(addr, end)) {
		pudp = cow_pmd_find_pud(vma->vm_mm, addr);
		if (!pudp || !cow_pmd_pud_shared(pudp_get(pudp)))
			continue;
		ret = cow_pmd_break(vma, pudp, addr, GFP_PGTABLE_USER, why);
		if (ret)
			return ret;
	}
	return 0;
}

/**
 * __cow_pmd_zap - unmap a shared PMD table without touching what is below
 * @tlb: the zap's mmu_gather
 * @vma: the VMA being zapped
 * @pudp: the PUD entry for @addr
 * @addr: start of the zapped range within this table
 * @end: its end
 *
 * Returns true when this mm's share of a table covering the whole range was
 * dropped, and the caller must skip the range; false when the caller should
 * zap as usual (the table is private to this mm now, broken first if the
 * range covers only part of it).
 */
bool __cow_pmd_zap(struct mmu_gather *tlb, struct vm_area_struct *vma,
		   pud_t *pudp, unsigned long addr, unsigned long end)
{
	struct mm_struct *mm = vma->vm_mm;
	struct ptdesc *table;
	int sharers;

	if ((addr & ~PUD_MASK) || end - addr != PUD_SIZE) {
		/* Zapping cannot fail, nor can a break with __GFP_NOFAIL. */
		WARN_ON_ONCE(cow_pmd_break(vma, pudp, addr,
					   GFP_PGTABLE_USER | __GFP_NOFAIL,
					   COW_PTE_ZAP));
		return false;
	}

	table = lock_shared_table(vma, pudp, addr, COW_PTE_ZAP);
	if (!table)
		return false;
	pud_clear(pudp);
	/* As in __cow_pte_zap(). */
	if (!tlb->fullmm)
		cow_pmd_flush_table(mm, addr);
	else if (!cpumask_empty(mm_cpumask(mm)))
		flush_tlb_mm(mm);
	if (table_owner(table) == mm)
		cow_pmd_disown(vma, table, addr);
	sharers = atomic_dec_return(&table->pt_cow_share);
	unlock_shared_table(mm, table);
	count_vm_event(COW_PMD_DROP);
	trace_mm_cow_pmd_drop(mm, addr, sharers);
	return true;
}
