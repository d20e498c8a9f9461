// SPDX-License-Identifier: GPL-2.0
/*
 * Copy-on-write PTE tables for fork().
 *
 * A process that opts in (prctl PR_SET_COW_PTE) does not have its PTE
 * tables copied at fork. Each table that one eligible VMA covers whole is
 * shared instead: parent and child point their PMD entries at the same
 * table and both entries are made read-only, so the hardware faults on any
 * write through it. The per-page work of fork (refcounts, mapcounts, swap
 * counts, write-protecting every PTE) is deferred to the moment a sharer
 * needs to change the table, when it gets a private copy ("break"), or is
 * skipped altogether when the table is dropped unchanged (exit, munmap) or
 * when the last sharer is left holding it ("reuse").
 *
 * State of a shared table, in its struct ptdesc, changed only under the
 * table's own split PTE lock (which every sharer sees, as the lock lives
 * with the table):
 *  - pt_cow_share: how many PMD entries point at the table. Only meaningful
 *    while those entries are read-only; a table nobody shares never reads it.
 *  - pt_cow_owner: the mm whose RSS counters and pgtables_bytes still
 *    account for this table, or NULL. At fork that is the parent, which
 *    counted the pages before they were shared; the child counts nothing
 *    for a table it only shares. Whoever breaks away counts its private
 *    copy; the last sharer takes the accounting over when it reuses the
 *    table. Each page is thus counted by at most one mm: by none while
 *    its owner is gone and others still share the table. Then the field
 *    holds what the owner stopped counting (pages, swap entries and the
 *    table itself) for the OOM killer, shifted left by two with
 *    TABLE_UNOWNED set, which no mm pointer has: see cow_table_disown().
 *    TABLE_COPIED, in either form, says that a sharer copied the table,
 *    which left every page in it as fork would have: see table_reuse().
 *
 * Invariant: a page mapped through a shared table has one mapcount and one
 * reference for the table, however many mms share it. That is what makes a
 * copy at break time exactly the copy fork would have made.
 */
#include <linux/cow_pte.h>
#include <linux/highmem.h>
#include <linux/hugetlb.h>
#include <linux/memcontrol.h>
#include <linux/mm.h>
#include <linux/pagewalk.h>
#include <linux/pgalloc.h>
#include <linux/prctl.h>
#include <linux/rmap.h>
#include <linux/sched/coredump.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/swap.h>
#include <linux/swapops.h>
#include <linux/task_work.h>
#include <linux/userfaultfd_k.h>
#include <linux/vmstat.h>
#include <asm/tlbflush.h>
#include <asm/tlb.h>

#include "internal.h"
#include "cow_pte_internal.h"

#define CREATE_TRACE_POINTS
#include <trace/events/cow_pte.h>

/*
 * The TLB rule: once this mm's PMD entry no longer points at a shared
 * table, the table may be written or freed by another sharer as soon as
 * this mm gives up its share. So no CPU may still reach the table through
 * this mm before that: translations and paging-structure caches are
 * dropped first, on every CPU that may hold them, lazy-TLB CPUs included,
 * as when page tables are freed (freed_tables), since a lazy CPU can
 * still walk the table speculatively. Call it after the PMD entry changed
 * and before the share count drops, with the table's lock held.
 */
static void cow_pte_flush_table(struct mm_struct *mm, unsigned long start)
{
	flush_tlb_mm_range(mm, start, start + PMD_SIZE, PAGE_SHIFT, true);
}

/*
 * Only private anonymous memory is shared. Its pages are reached through
 * the anon_vma, which already links the child's VMA at fork, and fork's
 * copy of such a table has no side effects beyond refcounts, mapcounts,
 * swap counts and write protection, all of which can be done later.
 * Excluded: shared mappings (fork shares those pages, not copies them),
 * hugetlb (its own page tables), PFN/mixed/IO maps (no struct page rules),
 * VMAs registered with userfaultfd, whose PTE markers and write-protect
 * bits belong to the registering mm only, and locked VMAs: a page stays
 * mlocked while a VM_LOCKED mapping maps it, and dropping a shared table
 * does no per-page munlock, so the tables of a locked VMA are never shared
 * (mlock_fixup() copies those it would lock).
 */
enum vm_event_item vma_cow_pte_unfit(struct vm_area_struct *vma)
{
	if (!vma_is_anonymous(vma) || !vma->anon_vma ||
	    (vma->vm_flags & (VM_SHARED | VM_MAYSHARE | VM_HUGETLB |
			      VM_PFNMAP | VM_MIXEDMAP | VM_IO)))
		return COW_PTE_SKIP_VMA;
	if (vma->vm_flags & VM_LOCKED_MASK)
		return COW_PTE_SKIP_MLOCK;
	if (userfaultfd_armed(vma))
		return COW_PTE_SKIP_UFFD;
	return NR_VM_EVENT_ITEMS;
}

/* swapoff finds swap entries through the mms on init_mm's list. */
void cow_track_swap(struct mm_struct *mm)
{
	if (!list_empty(&mm->mmlist))
		return;
	spin_lock(&mmlist_lock);
	if (list_empty(&mm->mmlist))
		list_add(&mm->mmlist, &init_mm.mmlist);
	spin_unlock(&mmlist_lock);
}

/**
 * __cow_pte_fork - share a PTE table with the child instead of copying it
 * @dst_vma: the child's VMA
 * @src_vma: the parent's VMA
 * @dst_pmd: the child's PMD entry, empty
 * @src_pmd: the parent's PMD entry, pointing at a PTE table
 * @addr: start of the range covered by the table
 * @end: end of that range
 *
 * Called by fork for each PTE table, with both mmap locks held for writing.
 * Returns true when the table is now shared, false when the caller must copy
 * it the stock way.
 */
bool __cow_pte_fork(struct vm_area_struct *dst_vma,
		    struct vm_area_struct *src_vma, pmd_t *dst_pmd,
		    pmd_t *src_pmd, unsigned long addr, unsigned long end)
{
	struct mm_struct *src_mm = src_vma->vm_mm;
	enum vm_event_item unfit;
	struct ptdesc *table;
	spinlock_t *pml, *ptl;
	int sharers;
	pmd_t pmd;

	/*
	 * The tables fork copies are counted by the reason, for a user who
	 * wonders why less was shared than they hoped. A table the VMA does
	 * not cover whole also maps another VMA.
	 */
	if ((addr & ~PMD_MASK) || end - addr != PMD_SIZE) {
		count_vm_event(COW_PTE_SKIP_PARTIAL);
		return false;
	}
	/*
	 * Fork must copy a page that may be pinned for DMA right away, so
	 * that the pin stays with the parent; finding such pages means
	 * walking the table, which is what sharing avoids. After the table
	 * is shared, GUP breaks it before pinning anything in it.
	 */
	if (test_bit(MMF_HAS_PINNED, &src_mm->flags)) {
		count_vm_event(COW_PTE_SKIP_PINNED);
		return false;
	}
	unfit = vma_cow_pte_unfit(src_vma);
	if (unfit != NR_VM_EVENT_ITEMS) {
		count_vm_event(unfit);
		return false;
	}

	pml = pmd_lock(src_mm, src_pmd);
	pmd = pmdp_get(src_pmd);
	if (!pmd_present(pmd) || pmd_leaf(pmd)) {
		spin_unlock(pml);
		return false;
	}
	table = pmd_table(pmd);
	ptl = ptlock_ptr(table);
	spin_lock_nested(ptl, SINGLE_DEPTH_NESTING);
	if (!cow_pte_pmd_shared(pmd)) {
		atomic_set(&table->pt_cow_share, 1);
		table->pt_cow_owner = src_mm;
		pmd = pmd_clear_flags(pmd, _PAGE_RW);
		/* dup_mmap() flushes the parent's TLB before it returns. */
		set_pmd(src_pmd, pmd);
	}
	sharers = atomic_inc_return(&table->pt_cow_share);
	set_pmd(dst_pmd, pmd);
	spin_unlock(ptl);
	spin_unlock(pml);
	set_bit(MMF_COW_PTE_TABLES, &src_mm->flags);
	set_bit(MMF_COW_PTE_TABLES, &dst_vma->vm_mm->flags);
	/* The table may hold swap entries, which swapoff finds by mm. */
	if (!list_empty(&src_mm->mmlist))
		cow_track_swap(dst_vma->vm_mm);
	count_vm_event(COW_PTE_SHARE);
	trace_mm_cow_pte_share(src_mm, addr, sharers);
	return true;
}

/* What the entries of a table add to an mm's RSS counters. */
void cow_table_rss(struct vm_area_struct *vma, pte_t *ptep,
		   unsigned long addr, int *rss)
{
	int i;

	for (i = 0; i < PTRS_PER_PTE; i++, ptep++, addr += PAGE_SIZE) {
		pte_t pte = ptep_get(ptep);
		swp_entry_t entry;
		struct page *page;

		if (pte_none(pte))
			continue;
		if (pte_present(pte)) {
			page = vm_normal_page(vma, addr, pte);
			if (page)
				rss[mm_counter(page_folio(page))]++;
			continue;
		}
		entry = pte_to_swp_entry(pte);
		if (!non_swap_entry(entry))
			rss[MM_SWAPENTS]++;
		else if (is_pfn_swap_entry(entry) && !is_hwpoison_entry(entry))
			rss[mm_counter(pfn_swap_entry_folio(entry))]++;
	}
}

/*
 * The owner leaves a table others still share: record what it stops
 * counting, @rss and the table itself, in place of the owner.
 */
void cow_table_disown(struct ptdesc *table, int *rss)
{
	unsigned long copied = (unsigned long)table->pt_cow_owner & TABLE_COPIED;
	unsigned long pages = 1;
	int i;

	for (i = 0; i < NR_MM_COUNTERS; i++)
		pages += rss[i];
	table->pt_cow_owner = (struct mm_struct *)
		(pages << 2 | TABLE_UNOWNED | copied);
}

void cow_add_rss(struct mm_struct *mm, int *rss, int sign)
{
	int i;

	for (i = 0; i < NR_MM_COUNTERS; i++)
		if (rss[i])
			add_mm_counter(mm, i, sign * rss[i]);
}

/*
 * Fork takes the exclusive mark off every anonymous page it shares, so that
 * a reference taken before the fork (vmsplice, a plain GUP) keeps the data
 * of that moment: the next write to the page, by either side, copies it.
 * Sharing the table deferred that, and when the last sharer takes the table
 * over the pages would still carry the marks the parent set. A write by a
 * child would then land in a page the parent's pipe still reads.
 *
 * So the marks go where someone may hold the page outside its mappings,
 * and those entries lose write permission, for do_wp_page() to decide
 * again. A page nobody else holds stays exclusive and writable, which keeps
 * reuse cheap; nothing can take a new reference while the table is shared,
 * as GUP breaks shared tables first. Exclusive swap entries always lose the
 * mark: do_swap_page() then reuses the page only if nobody else holds it.
 * The PMD entry is still read-only, so no TLB holds a writable entry.
 */
static void table_unexclusive(struct vm_area_struct *vma, pte_t *ptep,
			      unsigned long addr)
{
	struct mm_struct *mm = vma->vm_mm;
	int i;

	for (i = 0; i < PTRS_PER_PTE; i++, ptep++, addr += PAGE_SIZE) {
		pte_t pte = ptep_get(ptep);
		struct page *page;

		if (pte_none(pte))
			continue;
		if (!pte_present(pte)) {
			swp_entry_t entry = pte_to_swp_entry(pte);

			if (pte_swp_exclusive(pte) && !non_swap_entry(entry))
				set_pte_at(mm, addr, ptep,
					   pte_swp_clear_exclusive(pte));
			/* The page's references are unknown while it moves. */
			if (is_migration_entry(entry) &&
			    !is_readable_migration_entry(entry)) {
				pgoff_t off = swp_offset(entry);
				pte_t ro;

				entry = make_readable_migration_entry(off);
				ro = swp_entry_to_pte(entry);
				if (pte_swp_soft_dirty(pte))
					ro = pte_swp_mksoft_dirty(ro);
				set_pte_at(mm, addr, ptep, ro);
			}
			continue;
		}
		page = vm_normal_page(vma, addr, pte);
		if (!page || !PageAnon(page) || !PageAnonExclusive(page))
			continue;
		if (!cow_folio_held_elsewhere(page_folio(page)))
			continue;
		ClearPageAnonExclusive(page);
		ptep_set_wrprotect(mm, addr, ptep);
	}
}

/*
 * The last sharer keeps the table: no copy, just make it writable again and
 * take over its accounting. Called with the PMD lock and the table lock.
 *
 * A copy of the table (copy_entry()) took the exclusive marks off its pages
 * and entries in the table itself, as fork does, or left a page that may be
 * pinned with this table, as fork leaves it with the parent. Once a sharer
 * copied the table, there is nothing left for table_unexclusive() to do:
 * that keeps the parent's first write after a snapshot fork (the child
 * copied every table) as cheap as after a stock fork.
 */
static void table_reuse(struct vm_area_struct *vma, pmd_t *pmd, pmd_t orig,
			struct ptdesc *table, unsigned long start,
			enum cow_pte_reason why)
{
	bool copied = (unsigned long)table->pt_cow_owner & TABLE_COPIED;
	struct mm_struct *mm = vma->vm_mm;

	if (table_owner(table) != mm) {
		int rss[NR_MM_COUNTERS] = { 0 };

		cow_table_rss(vma, ptdesc_address(table), start, rss);
		cow_add_rss(mm, rss, 1);
		mm_inc_nr_ptes(mm);
		if (rss[MM_SWAPENTS])
			cow_track_swap(mm);
	}
	table->pt_cow_owner = NULL;
	if (!copied)
		table_unexclusive(vma, ptdesc_address(table), start);
	/* Upgrading the permission needs no TLB flush. */
	set_pmd(pmd, pmd_set_flags(orig, _PAGE_RW));
	count_vm_event(COW_PTE_REUSE);
	trace_mm_cow_pte_reuse(mm, start, 1, why);
}

/*
 * Pages for the break's copies of pages that may be pinned, allocated with
 * no lock held, as fork's copy_pte_range() does: @list holds them, @need
 * counts what one pass of the copy found missing.
 */
struct break_pages {
	struct list_head list;
	int need;
	int used;
};

static void break_pages_free(struct break_pages *pages)
{
	struct folio *folio, *next;

	list_for_each_entry_safe(folio, next, &pages->list, lru) {
		list_del(&folio->lru);
		folio_put(folio);
	}
}

static int break_pages_alloc(struct vm_area_struct *vma, unsigned long addr,
			     struct break_pages *pages, gfp_t gfp)
{
	gfp_t fgfp = gfpflags_allow_blocking(gfp) ? GFP_HIGHUSER_MOVABLE :
		     GFP_NOWAIT | __GFP_HIGHMEM | __GFP_MOVABLE | __GFP_NOWARN;
	struct folio *folio;

	fgfp |= gfp & __GFP_NOFAIL;
	for (; pages->need; pages->need--) {
		folio = vma_alloc_folio(fgfp, 0, vma, addr, false);
		if (!folio)
			return -ENOMEM;
		if (mem_cgroup_charge(folio, vma->vm_mm, fgfp)) {
			folio_put(folio);
			return -ENOMEM;
		}
		list_add(&folio->lru, &pages->list);
	}
	return 0;
}

/*
 * Fork copies an exclusive page that may be pinned for DMA at once, for
 * the child, so that the pin stays with what the parent maps. A break can
 * find such a page too: a reference count that looks like a pin (about
 * 1,000 vmsplice() references will do) once this mm pinned anything after
 * the fork. The breaking mm gets the copy, and the shared table, which
 * every other sharer sees, keeps the page. Returns false when @pages is
 * empty; the pass then fails and is redone with more pages.
 */
static bool copy_pinned_page(struct vm_area_struct *vma, unsigned long addr,
			     struct page *page, pte_t *dst, int *rss,
			     struct break_pages *pages)
{
	struct folio *new;
	pte_t pte;

	new = list_first_entry_or_null(&pages->list, struct folio, lru);
	if (!new) {
		pages->need++;
		return false;
	}
	list_del(&new->lru);
	pages->used++;
	copy_user_highpage(&new->page, page, addr, vma);
	__folio_mark_uptodate(new);
	folio_add_new_anon_rmap(new, vma, addr, RMAP_EXCLUSIVE);
	folio_add_lru_vma(new, vma);
	rss[MM_ANONPAGES]++;
	pte = mk_pte(&new->page, vma->vm_page_prot);
	pte = maybe_mkwrite(pte_mkdirty(pte), vma);
	set_pte_at(vma->vm_mm, addr, dst, pte);
	return true;
}

/*
 * Copy one entry of the shared table into the private copy, with the
 * accounting fork would have done for it: the copy is a new mapping of the
 * same page, so both must be write-protected for COW. The shared table may
 * be changed here only in ways that do not alter what any sharer sees
 * (clearing write and exclusive bits, mapping a device exclusive page
 * again), as it is read-only to all of them. Returns 0, -EAGAIN when the
 * swap count of *@cont needs a continuation, or -EBUSY when a page lock
 * was held. A page that may be pinned is copied from @pages, or counted
 * in it as missing.
 */
static int copy_entry(struct vm_area_struct *vma, unsigned long addr,
		      pte_t *src, pte_t *dst, int *rss, swp_entry_t *cont,
		      struct break_pages *pages)
{
	struct mm_struct *mm = vma->vm_mm;
	struct folio *folio;
	struct page *page;
	swp_entry_t entry;
	pte_t pte;

	/*
	 * The copy is not zeroed when allocated: every entry is written
	 * here, none ones included, in the one pass over the table.
	 */
	pte_clear(mm, addr, dst);
again:
	pte = ptep_get(src);
	if (pte_none(pte))
		return 0;
	if (pte_present(pte)) {
		page = vm_normal_page(vma, addr, pte);
		if (page) {
			folio = page_folio(page);
			folio_get(folio);
			/* Only fails for a page that may be pinned: see fork. */
			if (unlikely(folio_try_dup_anon_rmap_pte(folio, page,
								 vma))) {
				folio_put(folio);
				copy_pinned_page(vma, addr, page, dst, rss,
						 pages);
				return 0;
			}
			rss[mm_counter(folio)]++;
		}
		if (pte_write(pte)) {
			ptep_set_wrprotect(mm, addr, src);
			pte = pte_wrprotect(pte);
		}
		pte = pte_clear_uffd_wp(pte_mkold(pte));
		set_pte_at(mm, addr, dst, pte);
		return 0;
	}

	entry = pte_to_swp_entry(pte);
	if (!non_swap_entry(entry)) {
		if (swap_duplicate(entry) < 0) {
			*cont = entry;
			return -EAGAIN;
		}
		if (pte_swp_exclusive(pte)) {
			pte = pte_swp_clear_exclusive(pte);
			set_pte_at(mm, addr, src, pte);
		}
		rss[MM_SWAPENTS]++;
	} else if (is_migration_entry(entry)) {
		rss[mm_counter(pfn_swap_entry_folio(entry))]++;
		/*
		 * As fork: an exclusive entry (writable, or read-only after
		 * mprotect()) would restore an exclusive mapping in both
		 * copies once the page has moved, and one side's writes would
		 * reach the other. Both get a plain readable entry.
		 */
		if (!is_readable_migration_entry(entry)) {
			pte_t orig = pte;

			entry = make_readable_migration_entry(swp_offset(entry));
			pte = swp_entry_to_pte(entry);
			if (pte_swp_soft_dirty(orig))
				pte = pte_swp_mksoft_dirty(pte);
			set_pte_at(mm, addr, src, pte);
		}
	} else if (is_device_private_entry(entry)) {
		page = pfn_swap_entry_to_page(entry);
		folio = page_folio(page);
		folio_get(folio);
		rss[mm_counter(folio)]++;
		/* Cannot fail: device private pages cannot be pinned. */
		folio_try_dup_anon_rmap_pte(folio, page, vma);
		if (is_writable_device_private_entry(entry)) {
			pgoff_t off = swp_offset(entry);

			entry = make_readable_device_private_entry(off);
			pte = swp_entry_to_pte(entry);
			set_pte_at(mm, addr, src, pte);
		}
	} else if (is_device_exclusive_entry(entry)) {
		/*
		 * Such an entry cannot have a second mapping. The device lost
		 * its access at fork, whose MMU notifier call covered the
		 * table, so map the page again, as fork would have, and copy
		 * that. Only the page lock can stand in the way.
		 */
		if (try_restore_exclusive_pte(src, vma, addr))
			return -EBUSY;
		goto again;
	} else if (is_pte_marker_entry(entry)) {
		/* No uffd-wp here (see vma_cow_pte_eligible); keep poison. */
		if (!(pte_marker_get(entry) & PTE_MARKER_POISONED))
			return 0;
	}
	set_pte_at(mm, addr, dst, pte_swp_clear_uffd_wp(pte));
	return 0;
}

/* Take back what copy_entry() did to the private copy. */
static void undo_entry(struct vm_area_struct *vma, unsigned long addr,
		       pte_t *dst)
{
	pte_t pte = ptep_get_and_clear(vma->vm_mm, addr, dst);
	struct page *page = NULL;
	swp_entry_t entry;

	if (pte_none(pte))
		return;
	if (pte_present(pte)) {
		page = vm_normal_page(vma, addr, pte);
	} else {
		entry = pte_to_swp_entry(pte);
		if (!non_swap_entry(entry))
			swap_free(entry);
		else if (is_device_private_entry(entry))
			page = pfn_swap_entry_to_page(entry);
	}
	if (page) {
		folio_remove_rmap_pte(page_folio(page), page, vma);
		folio_put(page_folio(page));
	}
}

/*
 * Give @vma's mm a private copy of the shared table @pmd points at, or the
 * table itself when no other mm shares it any more. Returns 0, -ENOMEM, or
 * -EAGAIN when @gfp cannot block and a page lock was held; the table is then
 * still shared. With __GFP_NOFAIL in @gfp it returns 0.
 */
static int cow_pte_break(struct vm_area_struct *vma, pmd_t *pmd,
			 unsigned long addr, gfp_t gfp, enum cow_pte_reason why)
{
	struct mm_struct *mm = vma->vm_mm;
	unsigned long start = addr & PMD_MASK;
	int rss[NR_MM_COUNTERS];
	struct break_pages pages = { .list = LIST_HEAD_INIT(pages.list) };
	struct ptdesc *table;
	spinlock_t *pml, *ptl;
	pte_t *src, *dst;
	swp_entry_t cont;
	pgtable_t new;
	int i, sharers, ret = 0;
	bool last;
	pmd_t orig;

	/*
	 * The last sharer takes the table over and needs no copy. It stays
	 * the last: only this mm, whose mmap lock the caller holds, could
	 * share the table again. The PMD lock keeps this mm's share, and so
	 * the table, while we look.
	 */
	new = NULL;
	pml = pmd_lock(mm, pmd);
	orig = pmdp_get(pmd);
	last = cow_pte_pmd_shared(orig) &&
	       atomic_read(&pmd_table(orig)->pt_cow_share) == 1;
	spin_unlock(pml);
	if (last)
		goto lock;
again:
	/*
	 * The copy is a page table of @mm like any other, charged to the
	 * memory cgroup as one, whichever path (and gfp) asked for it. It
	 * needs no zeroing: copy_entry() writes every entry, and a failed
	 * pass frees it unseen.
	 */
	new = __pte_alloc_one(mm, (gfp & ~__GFP_ZERO) | __GFP_ACCOUNT);
	if (!new) {
		/*
		 * __GFP_NOFAIL covers the table page but not its split page
		 * table lock (a slab object, as with lockdep), which can fail
		 * for an OOM victim or under fault injection: keep trying.
		 */
		if (gfp & __GFP_NOFAIL) {
			memalloc_retry_wait(gfp);
			goto again;
		}
		ret = -ENOMEM;
		goto out;
	}

lock:
	spin_lock(&mm->page_table_lock);
	pml = pmd_lock(mm, pmd);
	orig = pmdp_get(pmd);
	if (!cow_pte_pmd_shared(orig)) {
		/* Another thread of this mm got there first. */
		spin_unlock(pml);
		spin_unlock(&mm->page_table_lock);
		if (new)
			pte_free(mm, new);
		goto out;
	}
	table = pmd_table(orig);
	ptl = ptlock_ptr(table);
	spin_lock_nested(ptl, SINGLE_DEPTH_NESTING);
	if (atomic_read(&table->pt_cow_share) == 1) {
		table_reuse(vma, pmd, orig, table, start, why);
		spin_unlock(ptl);
		spin_unlock(pml);
		spin_unlock(&mm->page_table_lock);
		if (new)
			pte_free(mm, new);
		goto out;
	}
	if (WARN_ON_ONCE(!new)) {
		/* Shared again after all: copy as usual. */
		spin_unlock(ptl);
		spin_unlock(pml);
		spin_unlock(&mm->page_table_lock);
		goto again;
	}

	memset(rss, 0, sizeof(rss));
	pages.need = 0;
	pages.used = 0;
	src = ptdesc_address(table);
	dst = page_address(new);
	/*
	 * Duplicating anon rmaps follows fork's protocol against GUP-fast
	 * pinning (see folio_needs_cow_for_dma()). Fork holds the mmap lock
	 * for writing; breaks only read it, so page_table_lock serialises
	 * the writers of the sequence count.
	 */
	raw_write_seqcount_begin(&mm->write_protect_seq);
	for (i = 0; i < PTRS_PER_PTE; i++) {
		ret = copy_entry(vma, start + i * PAGE_SIZE, src + i, dst + i,
				 rss, &cont, &pages);
		if (ret)
			break;
	}
	/* Pages that may be pinned, more than @pages held: get them all. */
	if (!ret && pages.need)
		ret = -ENOSPC;
	if (ret) {
		while (i--)
			undo_entry(vma, start + i * PAGE_SIZE, dst + i);
		raw_write_seqcount_end(&mm->write_protect_seq);
		spin_unlock(ptl);
		spin_unlock(pml);
		spin_unlock(&mm->page_table_lock);
		pte_free(mm, new);
		/*
		 * Out of swap count room: make some without locks held. A
		 * zap's break may not fail (see __cow_pte_zap()), and neither
		 * may this allocation then.
		 */
		if (ret == -EAGAIN) {
			gfp_t cont_gfp = gfpflags_allow_blocking(gfp) ?
					 GFP_KERNEL | (gfp & __GFP_NOFAIL) :
					 GFP_ATOMIC;

			if (add_swap_count_continuation(cont, cont_gfp)) {
				ret = -ENOMEM;
				goto out;
			}
			goto again;
		}
		/*
		 * The copies made in this pass went with the undo: allocate
		 * for all of them, and for those that were missing.
		 */
		if (ret == -ENOSPC) {
			pages.need = pages.used + pages.need;
			pages.used = 0;
			ret = break_pages_alloc(vma, start, &pages, gfp);
			if (ret)
				goto out;
			goto again;
		}
		/*
		 * Someone holds a page lock for a moment: see copy_entry().
		 * Fork fails with -ENOMEM here; a zap's break may not fail,
		 * and the holder lets go soon.
		 */
		if (ret == -EBUSY) {
			if (!gfpflags_allow_blocking(gfp)) {
				ret = -EAGAIN;
				goto out;
			}
			cond_resched();
			goto again;
		}
		goto out;
	}

	/* The owner counted these pages already; anyone else counts now. */
	if (table_owner(table) == mm) {
		cow_table_disown(table, rss);
	} else {
		cow_add_rss(mm, rss, 1);
		mm_inc_nr_ptes(mm);
	}
	table_set_copied(table);
	if (rss[MM_SWAPENTS])
		cow_track_swap(mm);
	raw_write_seqcount_end(&mm->write_protect_seq);
	/* The copy must be complete before the hardware can walk it. */
	smp_wmb();
	pmd_populate(mm, pmd, new);
	cow_pte_flush_table(mm, start);
	sharers = atomic_dec_return(&table->pt_cow_share);
	spin_unlock(ptl);
	spin_unlock(pml);
	spin_unlock(&mm->page_table_lock);
	count_vm_event(COW_PTE_COPY);
	trace_mm_cow_pte_break(mm, start, sharers, why);
out:
	break_pages_free(&pages);
	return ret;
}

/**
 * __cow_pte_fault - make the PTE table of a faulting address private
 * @vma: the faulting VMA
 * @pmd: its PMD entry for @addr
 * @addr: the faulting address
 * @flags: the fault's FAULT_FLAG_*
 *
 * Every fault that reaches a shared table is about to change it (fill a
 * none entry, COW or reuse a page, swap in, restore a NUMA hint or migration
 * entry), so it first gets the table for its mm alone.
 *
 * A break writes write_protect_seq, as fork does. Under the per-VMA lock
 * fork may be copying another VMA of this mm at the same time, so take
 * the mmap lock as __vmf_anon_prepare() does, or retry the fault under it.
 */
vm_fault_t __cow_pte_fault(struct vm_area_struct *vma, pmd_t *pmd,
			   unsigned long addr, unsigned int flags)
{
	vm_fault_t ret = 0;

	if (flags & FAULT_FLAG_VMA_LOCK) {
		if (!mmap_read_trylock(vma->vm_mm)) {
			vma_end_read(vma);
			return VM_FAULT_RETRY;
		}
	}
	if (cow_pte_break(vma, pmd, addr, GFP_PGTABLE_USER,
			  flags & FAULT_FLAG_USER ? COW_PTE_FAULT : COW_PTE_KERNEL))
		ret = VM_FAULT_OOM;
	if (flags & FAULT_FLAG_VMA_LOCK)
		mmap_read_unlock(vma->vm_mm);
	return ret;
}

/**
 * __cow_pte_unshare - make a shared PTE table private before changing it
 * @vma: the VMA mapping @addr
 * @pmd: its PMD entry for @addr
 * @addr: an address the table maps
 * @gfp: how to allocate the copy
 * @why: the path that calls, for the tracepoints
 *
 * For paths that change PTEs in place (swapoff, rmap walks that unmap or
 * migrate pages, KSM). A change made to a shared table would reach every
 * sharer, while the TLB flush and the RSS accounting that go with it would
 * cover only @vma's mm.
 *
 * Callers that may sleep hold the mmap lock, which keeps fork out; faults
 * and UFFDIO_MOVE under the per-VMA lock take it for the break. rmap walks
 * (@gfp that cannot block) hold neither, so the mmap lock is tried here:
 * fork writes write_protect_seq without the page_table_lock that serialises
 * breaks, and must not run concurrently.
 *
 * Returns 0, -ENOMEM, or -EAGAIN when the mmap lock or a page lock was
 * contended.
 */
int __cow_pte_unshare(struct vm_area_struct *vma, pmd_t *pmd,
		      unsigned long addr, gfp_t gfp, enum cow_pte_reason why)
{
	struct mm_struct *mm = vma->vm_mm;
	int ret;

	if (gfpflags_allow_blocking(gfp))
		return cow_pte_break(vma, pmd, addr, gfp, why);
	if (!mmap_read_trylock(mm))
		return -EAGAIN;
	ret = cow_pte_break(vma, pmd, addr, gfp | __GFP_NOWARN, why);
	mmap_read_unlock(mm);
	return ret;
}

/**
 * __cow_pte_unshare_range - make private every shared table in a range
 * @vma: the VMA containing the range
 * @start: start of the range
 * @end: its end
 * @why: the path that calls, for the tracepoints
 *
 * For syscalls that change the protection, location or state of PTEs
 * over a range (mprotect, mremap, MADV_FREE, userfaultfd registration).
 * The caller holds the mmap lock or @vma's lock, so no table in the range
 * can become shared again before it is done. Returns 0 or -ENOMEM.
 */
int __cow_pte_unshare_range(struct vm_area_struct *vma, unsigned long start,
			    unsigned long end, enum cow_pte_reason why)
{
	unsigned long addr = start, next;
	pmd_t *pmd;

	/* The PMD tables first: the PTE tables' entries are in them. */
	if (cow_pmd_unshare_range(vma, start, end, why))
		return -ENOMEM;
	while (addr < end) {
		pmd = mm_find_pmd(vma->vm_mm, addr);
		if (!pmd) {
			addr = pud_addr_end(addr, end);
			continue;
		}
		next = pmd_addr_end(addr, end);
		if (cow_pte_unshare(vma, pmd, addr, GFP_PGTABLE_USER, why))
			return -ENOMEM;
		addr = next;
		cond_resched();
	}
	return 0;
}

/**
 * __cow_pte_unshare_range_vma_locked - the same under the per-VMA lock only
 * @vma: the VMA containing the range, read-locked
 * @start: start of the range
 * @end: its end
 *
 * A break writes write_protect_seq, as fork does, and fork takes the VMA
 * locks of the mm one by one: it may be copying another VMA of this mm
 * right now. Take the mmap lock for the break, as faults do; when it is
 * contended, the caller fails with -EAGAIN, which UFFDIO_MOVE documents as
 * "try again". Without per-VMA locks the caller holds the mmap lock.
 *
 * Returns 0, -ENOMEM or -EAGAIN.
 */
int __cow_pte_unshare_range_vma_locked(struct vm_area_struct *vma,
				       unsigned long start, unsigned long end)
{
	struct mm_struct *mm = vma->vm_mm;
	int ret;

	if (!IS_ENABLED(CONFIG_PER_VMA_LOCK))
		return __cow_pte_unshare_range(vma, start, end, COW_PTE_UFFD);
	if (!mmap_read_trylock(mm))
		return -EAGAIN;
	ret = __cow_pte_unshare_range(vma, start, end, COW_PTE_UFFD);
	mmap_read_unlock(mm);
	return ret;
}

/**
 * __cow_pte_unshare_swap - make a shared table private for swapoff
 * @vma: the VMA mapping @addr
 * @pmd: its PMD entry for @addr, pointing at a shared table
 * @addr: an address the table maps
 * @type: the swap area being switched off
 *
 * swapoff visits every table of every mm that ever had swap entries. A
 * fork server with many children would copy each table once per child,
 * needing memory while memory is short, though most tables hold no entry
 * of @type. Only those that do are copied: a shared table cannot gain
 * swap entries (swapping a page out unmaps it first, which copies the
 * table), and swapoff changes nothing in a table without them.
 *
 * Returns 0 or -ENOMEM. The caller holds the mmap lock.
 */
int __cow_pte_unshare_swap(struct vm_area_struct *vma, pmd_t *pmd,
			   unsigned long addr, unsigned int type)
{
	spinlock_t *pml, *ptl;
	bool found = false;
	pmd_t pmdval;
	pte_t *ptep;
	int i;

	/* As in a break: the PMD lock keeps this mm's share of the table. */
	pml = pmd_lock(vma->vm_mm, pmd);
	pmdval = pmdp_get(pmd);
	if (cow_pte_pmd_shared(pmdval)) {
		ptl = ptlock_ptr(pmd_table(pmdval));
		spin_lock_nested(ptl, SINGLE_DEPTH_NESTING);
		ptep = ptdesc_address(pmd_table(pmdval));
		for (i = 0; i < PTRS_PER_PTE && !found; i++) {
			pte_t pte = ptep_get(ptep + i);
			swp_entry_t entry;

			if (!is_swap_pte(pte))
				continue;
			entry = pte_to_swp_entry(pte);
			found = !non_swap_entry(entry) &&
				swp_type(entry) == type;
		}
		spin_unlock(ptl);
	}
	spin_unlock(pml);
	if (!found)
		return 0;
	return cow_pte_break(vma, pmd, addr, GFP_KERNEL, COW_PTE_SWAPOFF);
}

/*
 * Shared tables an rmap walk found mapping a folio, to copy after it, a
 * batch per walk, for at most UNSHARE_FOLIO_WALKS walks: a page mapped by
 * more processes than that stays mapped, as a busy page would.
 */
#define UNSHARE_FOLIO_BATCH	8
#define UNSHARE_FOLIO_WALKS	128

struct unshare_folio {
	unsigned int nr;
	struct {
		struct mm_struct *mm;
		unsigned long addr;
	} at[UNSHARE_FOLIO_BATCH];
};

static bool note_shared_tables(struct folio *folio, struct vm_area_struct *vma,
			       unsigned long addr, void *arg)
{
	unsigned long end = min(addr + folio_size(folio), vma->vm_end);
	struct unshare_folio *u = arg;
	pmd_t *pmd;

	for (; addr < end; addr = pmd_addr_end(addr, end)) {
		/* The rmap lock keeps the tables of @vma. */
		pmd = mm_find_pmd(vma->vm_mm, addr);
		if ((!pmd || !cow_pte_pmd_shared(pmdp_get_lockless(pmd))) &&
		    !cow_pmd_shared_at(vma->vm_mm, addr))
			continue;
		mmgrab(vma->vm_mm);
		u->at[u->nr].mm = vma->vm_mm;
		u->at[u->nr].addr = addr;
		if (++u->nr == UNSHARE_FOLIO_BATCH)
			return false;
	}
	return true;
}

/*
 * The folio lock ranks below the mmap lock, so take the latter only by
 * trying, for a while: the holder of a write lock does not wait for us.
 */
static void unshare_for_folio(struct mm_struct *mm, unsigned long addr)
{
	struct vm_area_struct *vma;
	int tries = 0;
	pmd_t *pmd;

	while (!mmap_read_trylock(mm)) {
		if (++tries > HZ)
			return;
		schedule_timeout_uninterruptible(1);
	}
	vma = vma_lookup(mm, addr);
	/* The PMD table first, which mm_find_pmd() does not look into. */
	if (vma && cow_pmd_unshare_range(vma, addr, addr + 1, COW_PTE_RMAP))
		vma = NULL;
	pmd = vma ? mm_find_pmd(mm, addr) : NULL;
	if (pmd)
		cow_pte_unshare(vma, pmd, addr, GFP_KERNEL, COW_PTE_RMAP);
	mmap_read_unlock(mm);
}

/**
 * cow_pte_unshare_folio - copy the shared tables that map @folio
 * @folio: a locked folio that try_to_unmap() or try_to_migrate() left mapped
 *
 * An rmap walk must not sleep, so the break it makes of a shared table can
 * fail (GFP_NOWAIT, or a contended mmap lock), and the page then stays
 * mapped there. Reclaim, compaction, KSM and migrate_pages() come back
 * later; memory_failure() and device-private eviction unmap once. They
 * call this, which makes the copies where it may sleep, and try again.
 *
 * Returns whether any shared table mapped @folio. The caller holds a
 * reference on @folio and may sleep.
 */
bool cow_pte_unshare_folio(struct folio *folio)
{
	struct unshare_folio u;
	struct rmap_walk_control rwc = {
		.rmap_one = note_shared_tables,
		.arg = &u,
	};
	unsigned int i, walks = 0;
	bool found = false;

	might_sleep();
	VM_WARN_ON_ONCE_FOLIO(!folio_test_locked(folio), folio);
	do {
		u.nr = 0;
		rmap_walk(folio, &rwc);
		found |= u.nr;
		for (i = 0; i < u.nr; i++) {
			/* An mm on its way out unmaps the page itself. */
			if (mmget_not_zero(u.at[i].mm)) {
				unshare_for_folio(u.at[i].mm, u.at[i].addr);
				mmput_async(u.at[i].mm);
			}
			mmdrop(u.at[i].mm);
		}
	} while (u.nr == UNSHARE_FOLIO_BATCH && ++walks < UNSHARE_FOLIO_WALKS);
	return found;
}

/**
 * __cow_pte_unowned_pages - what the shared tables of @mm hold uncounted
 * @mm: the mm, with a reference, under its task's lock (oom_badness())
 *
 * Once the owner of a shared table copied or dropped it, no mm counts its
 * pages until another sharer copies the table or takes it over. After a
 * snapshot fork whose parent then writes everywhere, the child holds all
 * the old pages with a VmRSS near zero. The OOM killer (and memcg OOM)
 * must still see that memory: for them every sharer of such a table maps
 * all of it, as every process maps the COW pages a stock fork left. RSS
 * counters stay as they are (VmRSS is what the process counts), so this
 * is found by a walk of @mm's PMD entries, only when asked. Returns 0
 * when the mmap lock is taken, as the caller cannot sleep.
 */
unsigned long __cow_pte_unowned_pages(struct mm_struct *mm)
{
	VMA_ITERATOR(vmi, mm, 0);
	struct vm_area_struct *vma;
	unsigned long pages = 0, addr;
	spinlock_t *pml, *ptl;
	pmd_t *pmd, pmdval;

	if (!mmap_read_trylock(mm))
		return 0;
	for_each_vma(vmi, vma) {
		if (!vma_is_anonymous(vma))
			continue;
		for (addr = ALIGN(vma->vm_start, PMD_SIZE);
		     addr + PMD_SIZE <= vma->vm_end; addr += PMD_SIZE) {
			pmd = mm_find_pmd(mm, addr);
			if (!pmd || !cow_pte_pmd_shared(pmdp_get_lockless(pmd)))
				continue;
			/* As in a break: the PMD lock keeps the table. */
			pml = pmd_lock(mm, pmd);
			pmdval = pmdp_get(pmd);
			if (cow_pte_pmd_shared(pmdval)) {
				ptl = ptlock_ptr(pmd_table(pmdval));
				spin_lock_nested(ptl, SINGLE_DEPTH_NESTING);
				pages += table_unowned(pmd_table(pmdval));
				spin_unlock(ptl);
			}
			spin_unlock(pml);
		}
	}
	mmap_read_unlock(mm);
	return pages;
}

/**
 * cow_pte_other_sharers - how many other mms map the table @pmd points at
 * @pmd: a PMD entry, with the lock of the table it points at held
 *
 * A page mapped once through a table shared by N mms is mapped N times as
 * far as each process is concerned, although its mapcount says once. The
 * /proc reports (smaps, pagemap) add this to the mapcount; MADV_COLD,
 * MADV_PAGEOUT and mbind() leave such pages alone, as any page mapped twice.
 */
unsigned int cow_pte_other_sharers(pmd_t *pmd)
{
	pmd_t pmdval = pmdp_get(pmd);

	if (!cow_pte_pmd_shared(pmdval))
		return 0;
	return atomic_read(&pmd_table(pmdval)->pt_cow_share) - 1;
}

/**
 * __cow_pte_folio_walk_shared - whether other mms map the page @fw found
 * @fw: a folio_walk_start() still holding its lock
 * @vma: the VMA it was started in
 * @addr: the address it was started at
 *
 * For code that asks a folio whether it is mapped by more than one
 * process, as move_pages() does: the answer is yes for any page of a table
 * other mms share, whatever its mapcount says.
 */
bool __cow_pte_folio_walk_shared(const struct folio_walk *fw,
				 struct vm_area_struct *vma, unsigned long addr)
{
	if (cow_pmd_shared_at(vma->vm_mm, addr))
		return true;
	if (fw->level != FW_LEVEL_PTE)
		return false;
	return cow_pte_other_sharers(pmd_off(vma->vm_mm, addr));
}

/**
 * __cow_pte_zap - unmap a shared PTE table without touching its pages
 * @tlb: the zap's mmu_gather
 * @vma: the VMA being zapped
 * @pmd: the PMD entry for @addr
 * @addr: start of the zapped range within this table
 * @end: its end
 *
 * Returns true when this mm's reference to a shared table covering the
 * whole range was dropped, and the caller must skip the range. Returns false
 * when the caller should zap as usual: the table was never shared, or it is
 * now private to this mm (the range covered only part of it, so it was
 * broken first, or no other mm shares it any more).
 */
bool __cow_pte_zap(struct mmu_gather *tlb, struct vm_area_struct *vma,
		   pmd_t *pmd, unsigned long addr, unsigned long end)
{
	struct mm_struct *mm = vma->vm_mm;
	struct ptdesc *table;
	spinlock_t *pml, *ptl;
	int sharers;
	pmd_t orig;

	if ((addr & ~PMD_MASK) || end - addr != PMD_SIZE) {
		/*
		 * Zapping cannot fail, and with __GFP_NOFAIL neither can the
		 * break: the caller would zap a table others still map.
		 */
		WARN_ON_ONCE(cow_pte_break(vma, pmd, addr,
					   GFP_PGTABLE_USER | __GFP_NOFAIL,
					   COW_PTE_ZAP));
		return false;
	}

	pml = pmd_lock(mm, pmd);
	orig = pmdp_get(pmd);
	if (!cow_pte_pmd_shared(orig)) {
		spin_unlock(pml);
		return false;
	}
	table = pmd_table(orig);
	ptl = ptlock_ptr(table);
	spin_lock_nested(ptl, SINGLE_DEPTH_NESTING);
	if (atomic_read(&table->pt_cow_share) == 1) {
		table_reuse(vma, pmd, orig, table, addr, COW_PTE_ZAP);
		spin_unlock(ptl);
		spin_unlock(pml);
		return false;
	}
	pmd_clear(pmd);
	/*
	 * Once the count drops, the last sharer may reuse the table and write
	 * to it, or free it: see cow_pte_flush_table(). An exiting mm never
	 * runs user code again, but CPUs may still have it loaded lazily (the
	 * exiting one, for a start) and walk its tables speculatively. One
	 * flush with freed_tables switches each of them to init_mm, which
	 * takes it out of mm_cpumask() for good, as no task is left to load
	 * a dying mm again: later drops of the same exit need no flush.
	 */
	if (!tlb->fullmm)
		cow_pte_flush_table(mm, addr);
	else if (!cpumask_empty(mm_cpumask(mm)))
		flush_tlb_mm(mm);
	if (table_owner(table) == mm) {
		int rss[NR_MM_COUNTERS] = { 0 };

		cow_table_rss(vma, ptdesc_address(table), addr, rss);
		cow_add_rss(mm, rss, -1);
		mm_dec_nr_ptes(mm);
		cow_table_disown(table, rss);
	}
	sharers = atomic_dec_return(&table->pt_cow_share);
	spin_unlock(ptl);
	spin_unlock(pml);
	count_vm_event(COW_PTE_DROP);
	trace_mm_cow_pte_drop(mm, addr, sharers);
	return true;
}

/*
 * "cow_pte=force" on the command line: every program starts with the mode
 * on, as if it had opted in. A testing aid, so that test suites written
 * without COW PTE in mind (the upstream mm selftests) exercise it on every
 * fork; not meant for production. A process can still switch it off.
 */
static bool cow_pte_forced __ro_after_init;

static int __init cow_pte_setup(char *str)
{
	if (!str || strcmp(str, "force")) {
		pr_warn("cow_pte: unknown option '%s', expected 'force'\n",
			str ? str : "");
		return -EINVAL;
	}
	cow_pte_forced = true;
	pr_info("cow_pte: forced on for every process (testing aid)\n");
	return 0;
}
early_param("cow_pte", cow_pte_setup);

/* Over execve the mode survives only if the process asked for it to. */
void cow_pte_exec_mm(struct mm_struct *mm)
{
	if (cow_pte_forced) {
		set_bit(MMF_COW_PTE, &mm->flags);
	} else if (!test_bit(MMF_COW_PTE_EXEC, &mm->flags)) {
		clear_bit(MMF_COW_PTE, &mm->flags);
		clear_bit(MMF_COW_PTE_SNAPSHOT, &mm->flags);
	}
}

/*
 * Snapshot mode: the child of a fork copies every table it shares before
 * it first returns to user space. Its parent, left the last sharer of each
 * table, then takes the tables back one by one at its first write to
 * each, with no copy and no walk (see table_reuse()): after the fork it
 * pays what it pays after a stock fork, while the fork itself stayed as
 * short as a COW PTE fork. A table the parent writes before the child got
 * to it is copied by the parent, as without the mode.
 *
 * The copies run in the child (task work), so their cost is the child's
 * and stays in its memory cgroup and CPU time. A child killed before it
 * ran copies nothing; one that runs out of memory stops and shares the
 * rest.
 */
static void cow_pte_snapshot(struct callback_head *work)
{
	struct mm_struct *mm = current->mm;
	struct vm_area_struct *vma;
	unsigned long addr = 0;

	kfree(work);
	/* Run by exit_task_work() for a child killed before it ran. */
	if (!mm || (current->flags & PF_EXITING))
		return;
	if (mmap_read_lock_killable(mm))
		return;
	for (;;) {
		vma = find_vma(mm, addr);
		if (!vma || fatal_signal_pending(current))
			break;
		addr = vma->vm_end;
		if (vma_cow_pte_eligible(vma) &&
		    __cow_pte_unshare_range(vma, vma->vm_start, vma->vm_end,
					    COW_PTE_SNAPSHOT))
			break;
	}
	mmap_read_unlock(mm);
}

/**
 * __cow_pte_fork_task - set a snapshot fork's child to copy its tables
 * @p: the new task, not yet running
 * @mm: its new mm, whose MMF_COW_PTE_SNAPSHOT is set
 *
 * Called by kernel_clone() once the child can no longer fail to start.
 */
void __cow_pte_fork_task(struct task_struct *p, struct mm_struct *mm)
{
	struct callback_head *work;

	if (!test_bit(MMF_COW_PTE_TABLES, &mm->flags))
		return;
	/* Without it the child just shares on: slower for the parent only. */
	work = kmalloc(sizeof(*work), GFP_KERNEL);
	if (!work)
		return;
	init_task_work(work, cow_pte_snapshot);
	if (task_work_add(p, work, TWA_RESUME))
		kfree(work);
}

int cow_pte_prctl(int option, unsigned long arg2, unsigned long arg3,
		  unsigned long arg4, unsigned long arg5)
{
	unsigned long *flags = &current->mm->flags;
	bool snapshot = arg2 & PR_COW_PTE_SNAPSHOT;
	int mode;

	if (arg3 || arg4 || arg5)
		return -EINVAL;
	if (option == PR_GET_COW_PTE) {
		if (arg2)
			return -EINVAL;
		if (!test_bit(MMF_COW_PTE, flags))
			return PR_COW_PTE_OFF;
		mode = test_bit(MMF_COW_PTE_EXEC, flags) ?
		       PR_COW_PTE_ON_EXEC : PR_COW_PTE_ON;
		if (test_bit(MMF_COW_PTE_SNAPSHOT, flags))
			mode |= PR_COW_PTE_SNAPSHOT;
		return mode;
	}
	/* PR_COW_PTE_SNAPSHOT qualifies a mode that is on. */
	switch (arg2 & ~PR_COW_PTE_SNAPSHOT) {
	case PR_COW_PTE_OFF:
		if (snapshot)
			return -EINVAL;
		clear_bit(MMF_COW_PTE, flags);
		clear_bit(MMF_COW_PTE_EXEC, flags);
		clear_bit(MMF_COW_PTE_SNAPSHOT, flags);
		return 0;
	case PR_COW_PTE_ON:
		clear_bit(MMF_COW_PTE_EXEC, flags);
		break;
	case PR_COW_PTE_ON_EXEC:
		set_bit(MMF_COW_PTE_EXEC, flags);
		break;
	default:
		return -EINVAL;
	}
	if (snapshot)
		set_bit(MMF_COW_PTE_SNAPSHOT, flags);
	else
		clear_bit(MMF_COW_PTE_SNAPSHOT, flags);
	set_bit(MMF_COW_PTE, flags);
	return 0;
}
