/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What mm/cow_pte.c (PTE tables) and mm/cow_pmd.c (PMD tables) share: the
 * share state kept in a table's struct ptdesc, and the accounting of the
 * pages below a table. Not for use outside those two files.
 */
#ifndef __MM_COW_PTE_INTERNAL_H
#define __MM_COW_PTE_INTERNAL_H

#include <linux/cow_pte.h>
#include <linux/mm.h>
#include <linux/vm_event_item.h>

/* The table a present, non-leaf PMD entry points at. */
static inline struct ptdesc *pmd_table(pmd_t pmd)
{
	return page_ptdesc(pmd_page(pmd));
}

/* Low bits of pt_cow_owner, which an mm pointer never has. */
#define TABLE_UNOWNED	1UL
#define TABLE_COPIED	2UL

/* The mm that counts the table's pages, or NULL. */
static inline struct mm_struct *table_owner(struct ptdesc *table)
{
	unsigned long v = (unsigned long)table->pt_cow_owner;

	return v & TABLE_UNOWNED ? NULL :
	       (struct mm_struct *)(v & ~TABLE_COPIED);
}

static inline void table_set_copied(struct ptdesc *table)
{
	table->pt_cow_owner = (struct mm_struct *)
		((unsigned long)table->pt_cow_owner | TABLE_COPIED);
}

/* What nobody counts of a shared table whose owner left, or 0. */
static inline unsigned long table_unowned(struct ptdesc *table)
{
	unsigned long v = (unsigned long)table->pt_cow_owner;

	return v & TABLE_UNOWNED ? v >> 2 : 0;
}

/*
 * Why a VMA's tables may not be shared, as the vm event that counts it;
 * NR_VM_EVENT_ITEMS when they may.
 */
enum vm_event_item vma_cow_pte_unfit(struct vm_area_struct *vma);

static inline bool vma_cow_pte_eligible(struct vm_area_struct *vma)
{
	return vma_cow_pte_unfit(vma) == NR_VM_EVENT_ITEMS;
}

/*
 * Whether an exclusive anon folio has references besides its mappings and
 * the swap cache: a GUP reference taken before the fork, say. The last
 * sharer of a table must then take the exclusive mark off it, so that its
 * next write copies and the holder keeps the data of that moment.
 */
static inline bool cow_folio_held_elsewhere(struct folio *folio)
{
	long held = folio_mapcount(folio);

	if (folio_test_swapcache(folio))
		held += folio_nr_pages(folio);
	return folio_ref_count(folio) > held;
}

void cow_track_swap(struct mm_struct *mm);
void cow_table_rss(struct vm_area_struct *vma, pte_t *ptep,
		   unsigned long addr, int *rss);
void cow_table_disown(struct ptdesc *table, int *rss);
void cow_add_rss(struct mm_struct *mm, int *rss, int sign);

#endif /* __MM_COW_PTE_INTERNAL_H */
