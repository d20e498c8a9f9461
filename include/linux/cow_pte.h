/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Copy-on-write PTE tables for fork(): see mm/cow_pte.c and
 * Documentation/admin-guide/mm/cow_pte.rst.
 */
#ifndef _LINUX_COW_PTE_H
#define _LINUX_COW_PTE_H

#include <linux/mm_types.h>
#include <linux/pgtable.h>
#include <linux/sched/coredump.h>
#include <uapi/linux/sched.h>

struct folio_walk;
struct mmu_gather;
struct task_struct;

/*
 * Why a shared PTE table was made private ("broken") or taken back by its
 * last sharer: the path that had to change it. Reported by the
 * mm_cow_pte_break and mm_cow_pte_reuse tracepoints.
 */
enum cow_pte_reason {
	COW_PTE_FAULT,		/* a fault from user mode */
	COW_PTE_KERNEL,		/* a fault taken for the kernel: GUP, uaccess */
	COW_PTE_MPROTECT,
	COW_PTE_MREMAP,
	COW_PTE_MADVISE,	/* MADV_FREE and the like */
	COW_PTE_MLOCK,
	COW_PTE_UFFD,		/* userfaultfd registration, UFFDIO_MOVE */
	COW_PTE_COLLAPSE,	/* MADV_COLLAPSE */
	COW_PTE_CLEAR_REFS,	/* /proc/PID/clear_refs */
	COW_PTE_DEVICE,		/* HMM mirroring, device migration */
	COW_PTE_RMAP,		/* reclaim, migration, KSM, memory failure */
	COW_PTE_SWAPOFF,
	COW_PTE_SPLIT,		/* a VMA split inside the table */
	COW_PTE_ZAP,		/* munmap or MADV_DONTNEED of part of it */
	COW_PTE_SNAPSHOT,	/* a snapshot fork's child copying */
	COW_PTE_WALK,		/* a page table walk: /proc, madvise, mbind */
	NR_COW_PTE_REASONS
};

#ifdef CONFIG_COW_PTE

/*
 * A PTE table shared between mms is mapped read-only at the PMD level in
 * every one of them. The hardware then faults every write through it, and
 * a walker can tell a shared table from the PMD entry alone, without
 * touching the table.
 *
 * That is pmd_present() && !pmd_leaf() && !pmd_write(), tested on the raw
 * value at once: the present, protnone, PSE and RW bits all sit below the
 * PFN, so pmd_flags() would not change them. Every fault and zap runs
 * this, and in kernels built for size those helpers are calls.
 */
static __always_inline bool cow_pte_pmd_shared(pmd_t pmd)
{
	pmdval_t v = native_pmd_val(pmd);

	return (v & (_PAGE_PRESENT | _PAGE_PROTNONE)) &&
	       !(v & (_PAGE_PSE | _PAGE_RW));
}

/*
 * A PMD table shared between mms is mapped read-only at the PUD level in
 * every one of them, in the same way (see mm/cow_pmd.c): present, not a
 * leaf, not writable.
 */
static __always_inline bool cow_pmd_pud_shared(pud_t pud)
{
	pudval_t v = native_pud_val(pud);

	return (v & _PAGE_PRESENT) && !(v & (_PAGE_PSE | _PAGE_RW));
}

bool __cow_pmd_fork(struct vm_area_struct *dst_vma,
		    struct vm_area_struct *src_vma, pud_t *dst_pud,
		    pud_t *src_pud, unsigned long addr, unsigned long end);
vm_fault_t __cow_pmd_fault(struct vm_area_struct *vma, pud_t *pudp,
			   unsigned long addr, unsigned int flags);
bool __cow_pmd_zap(struct mmu_gather *tlb, struct vm_area_struct *vma,
		   pud_t *pudp, unsigned long addr, unsigned long end);
int __cow_pmd_unshare(struct vm_area_struct *vma, pud_t *pudp,
		      unsigned long addr, gfp_t gfp, enum cow_pte_reason why);
int cow_pmd_unshare_range(struct vm_area_struct *vma, unsigned long start,
			  unsigned long end, enum cow_pte_reason why);
bool cow_pmd_shared_at(struct mm_struct *mm, unsigned long addr);
int __cow_pmd_unshare_rmap(struct vm_area_struct *vma, unsigned long addr);

static __always_inline bool cow_pmd_fork(struct vm_area_struct *dst_vma,
					 struct vm_area_struct *src_vma,
					 pud_t *dst_pud, pud_t *src_pud,
					 unsigned long addr, unsigned long end)
{
	if (likely(!test_bit(MMF_COW_PTE, &src_vma->vm_mm->flags)))
		return false;
	return __cow_pmd_fork(dst_vma, src_vma, dst_pud, src_pud, addr, end);
}

static __always_inline vm_fault_t cow_pmd_fault(struct vm_area_struct *vma,
						pud_t *pudp, unsigned long addr,
						unsigned int flags)
{
	if (likely(!cow_pmd_pud_shared(READ_ONCE(*pudp))))
		return 0;
	return __cow_pmd_fault(vma, pudp, addr, flags);
}

static __always_inline bool cow_pmd_zap(struct mmu_gather *tlb,
					struct vm_area_struct *vma, pud_t *pudp,
					unsigned long addr, unsigned long end)
{
	if (likely(!cow_pmd_pud_shared(pudp_get(pudp))))
		return false;
	return __cow_pmd_zap(tlb, vma, pudp, addr, end);
}

/*
 * Paths that descend into a PMD table to change it make it private first.
 * Returns 0, -ENOMEM, or -EAGAIN when @gfp cannot block and the mmap lock
 * was contended; the table is then still shared.
 */
static inline int cow_pmd_unshare(struct vm_area_struct *vma, pud_t *pudp,
				  unsigned long addr, gfp_t gfp,
				  enum cow_pte_reason why)
{
	if (likely(!cow_pmd_pud_shared(pudp_get(pudp))))
		return 0;
	return __cow_pmd_unshare(vma, pudp, addr, gfp, why);
}

/*
 * For rmap walks that split a THP before they walk (try_to_migrate()):
 * 0 when @addr is not behind a shared PMD table any more.
 */
static inline int cow_pmd_unshare_rmap(struct vm_area_struct *vma,
				       unsigned long addr)
{
	if (!test_bit(MMF_COW_PTE_TABLES, &vma->vm_mm->flags))
		return 0;
	return __cow_pmd_unshare_rmap(vma, addr);
}

bool __cow_pte_fork(struct vm_area_struct *dst_vma,
		    struct vm_area_struct *src_vma, pmd_t *dst_pmd,
		    pmd_t *src_pmd, unsigned long addr, unsigned long end);
vm_fault_t __cow_pte_fault(struct vm_area_struct *vma, pmd_t *pmd,
			   unsigned long addr, unsigned int flags);
bool __cow_pte_zap(struct mmu_gather *tlb, struct vm_area_struct *vma,
		   pmd_t *pmd, unsigned long addr, unsigned long end);

/*
 * The checks below run on every fork of a table, fault and zap, so they are
 * inline: processes that never opt in pay a flag or bit test, not a call.
 */
static __always_inline bool cow_pte_fork(struct vm_area_struct *dst_vma,
					 struct vm_area_struct *src_vma,
					 pmd_t *dst_pmd, pmd_t *src_pmd,
					 unsigned long addr, unsigned long end)
{
	if (likely(!test_bit(MMF_COW_PTE, &src_vma->vm_mm->flags)))
		return false;
	return __cow_pte_fork(dst_vma, src_vma, dst_pmd, src_pmd, addr, end);
}

static __always_inline vm_fault_t cow_pte_fault(struct vm_area_struct *vma,
						pmd_t *pmd, unsigned long addr,
						unsigned int flags)
{
	if (likely(!cow_pte_pmd_shared(pmdp_get_lockless(pmd))))
		return 0;
	return __cow_pte_fault(vma, pmd, addr, flags);
}

static __always_inline bool cow_pte_zap(struct mmu_gather *tlb,
					struct vm_area_struct *vma, pmd_t *pmd,
					unsigned long addr, unsigned long end)
{
	if (likely(!cow_pte_pmd_shared(pmdp_get_lockless(pmd))))
		return false;
	return __cow_pte_zap(tlb, vma, pmd, addr, end);
}

int __cow_pte_unshare(struct vm_area_struct *vma, pmd_t *pmd,
		      unsigned long addr, gfp_t gfp, enum cow_pte_reason why);
int __cow_pte_unshare_range(struct vm_area_struct *vma, unsigned long start,
			    unsigned long end, enum cow_pte_reason why);
unsigned int cow_pte_other_sharers(pmd_t *pmd);
bool __cow_pte_folio_walk_shared(const struct folio_walk *fw,
				 struct vm_area_struct *vma, unsigned long addr);

/*
 * Whether other mms map the page a folio_walk_start() in @vma at @addr
 * found, for code that judges that by the mapcount (see mm/cow_pte.c).
 */
static inline bool cow_pte_folio_walk_shared(const struct folio_walk *fw,
					     struct vm_area_struct *vma,
					     unsigned long addr)
{
	if (likely(!test_bit(MMF_COW_PTE_TABLES, &vma->vm_mm->flags)))
		return false;
	return __cow_pte_folio_walk_shared(fw, vma, addr);
}

/*
 * Paths that change PTEs other than by faulting or zapping make the table
 * private first, saying @why. Returns 0, or -ENOMEM with nothing changed.
 */
static inline int cow_pte_unshare(struct vm_area_struct *vma, pmd_t *pmd,
				  unsigned long addr, gfp_t gfp,
				  enum cow_pte_reason why)
{
	if (likely(!cow_pte_pmd_shared(pmdp_get_lockless(pmd))))
		return 0;
	return __cow_pte_unshare(vma, pmd, addr, gfp, why);
}

/* The same for every table that maps part of [@start, @end) in @vma. */
static inline int cow_pte_unshare_range(struct vm_area_struct *vma,
					unsigned long start, unsigned long end,
					enum cow_pte_reason why)
{
	if (likely(!test_bit(MMF_COW_PTE_TABLES, &vma->vm_mm->flags)))
		return 0;
	return __cow_pte_unshare_range(vma, start, end, why);
}

int __cow_pte_unshare_range_vma_locked(struct vm_area_struct *vma,
				       unsigned long start, unsigned long end);
int __cow_pte_unshare_swap(struct vm_area_struct *vma, pmd_t *pmd,
			   unsigned long addr, unsigned int type);

/*
 * swapoff: make the table private only if it holds entries of swap area
 * @type, which swapoff must change. Returns 0 or -ENOMEM.
 */
static inline int cow_pte_unshare_swap(struct vm_area_struct *vma, pmd_t *pmd,
				       unsigned long addr, unsigned int type)
{
	if (likely(!cow_pte_pmd_shared(pmdp_get_lockless(pmd))))
		return 0;
	return __cow_pte_unshare_swap(vma, pmd, addr, type);
}

/*
 * The same for a caller that holds only @vma's lock (UFFDIO_MOVE). Returns
 * 0, -ENOMEM, or -EAGAIN when the caller should try again.
 */
static inline int cow_pte_unshare_range_vma_locked(struct vm_area_struct *vma,
						   unsigned long start,
						   unsigned long end)
{
	if (likely(!test_bit(MMF_COW_PTE_TABLES, &vma->vm_mm->flags)))
		return 0;
	return __cow_pte_unshare_range_vma_locked(vma, start, end);
}

/*
 * A shared table is always mapped by one VMA in each sharer (fork only
 * shares tables that one VMA covers), so that whole-VMA operations never
 * see a part of one. Splitting a VMA inside such a table breaks it first.
 */
static inline int cow_pte_split_vma(struct vm_area_struct *vma,
				    unsigned long addr)
{
	if (!(addr & ~PUD_MASK) ||
	    !test_bit(MMF_COW_PTE_TABLES, &vma->vm_mm->flags))
		return 0;
	/* A PMD table is split by any boundary inside it. */
	if (cow_pmd_unshare_range(vma, addr, addr + 1, COW_PTE_SPLIT))
		return -ENOMEM;
	if (!(addr & ~PMD_MASK))
		return 0;
	return cow_pte_unshare_range(vma, addr, addr + 1, COW_PTE_SPLIT);
}

/*
 * For rmap walks that unshared a table, then took its lock: fork, which
 * they do not keep out, may have shared it again in between. The walk then
 * starts over, and unshares again.
 */
static inline bool cow_pte_pvmw_reshared(bool unshared, pmd_t *pmd,
					 struct mm_struct *mm,
					 unsigned long addr)
{
	return unshared && (cow_pte_pmd_shared(pmdp_get(pmd)) ||
			    cow_pmd_shared_at(mm, addr));
}

bool cow_pte_unshare_folio(struct folio *folio);
unsigned long __cow_pte_unowned_pages(struct mm_struct *mm);
void __cow_pte_fork_task(struct task_struct *p, struct mm_struct *mm);

/*
 * A new process @p whose parent is in snapshot mode copies the tables it
 * shares before it first returns to user space, off the parent's path.
 */
static inline void cow_pte_fork_task(struct task_struct *p,
				     struct mm_struct *mm,
				     unsigned long clone_flags)
{
	if (likely(!mm || (clone_flags & CLONE_VM) ||
		   !test_bit(MMF_COW_PTE_SNAPSHOT, &mm->flags)))
		return;
	__cow_pte_fork_task(p, mm);
}

/* For oom_badness(): pages of @mm's shared tables that no mm counts. */
static inline unsigned long cow_pte_unowned_pages(struct mm_struct *mm)
{
	if (likely(!test_bit(MMF_COW_PTE_TABLES, &mm->flags)))
		return 0;
	return __cow_pte_unowned_pages(mm);
}

void cow_pte_exec_mm(struct mm_struct *mm);
int cow_pte_prctl(int option, unsigned long arg2, unsigned long arg3,
		  unsigned long arg4, unsigned long arg5);

#else /* !CONFIG_COW_PTE */

static inline bool cow_pte_pmd_shared(pmd_t pmd)
{
	return false;
}

static inline bool cow_pmd_pud_shared(pud_t pud)
{
	return false;
}

static inline bool cow_pmd_fork(struct vm_area_struct *dst_vma,
				struct vm_area_struct *src_vma, pud_t *dst_pud,
				pud_t *src_pud, unsigned long addr,
				unsigned long end)
{
	return false;
}

static inline vm_fault_t cow_pmd_fault(struct vm_area_struct *vma,
				       pud_t *pudp, unsigned long addr,
				       unsigned int flags)
{
	return 0;
}

static inline bool cow_pmd_zap(struct mmu_gather *tlb,
			       struct vm_area_struct *vma, pud_t *pudp,
			       unsigned long addr, unsigned long end)
{
	return false;
}

static inline int cow_pmd_unshare(struct vm_area_struct *vma, pud_t *pudp,
				  unsigned long addr, gfp_t gfp,
				  enum cow_pte_reason why)
{
	return 0;
}

static inline int cow_pmd_unshare_rmap(struct vm_area_struct *vma,
				       unsigned long addr)
{
	return 0;
}

static inline bool cow_pte_fork(struct vm_area_struct *dst_vma,
				struct vm_area_struct *src_vma, pmd_t *dst_pmd,
				pmd_t *src_pmd, unsigned long addr,
				unsigned long end)
{
	return false;
}

static inline vm_fault_t cow_pte_fault(struct vm_area_struct *vma,
				       pmd_t *pmd, unsigned long addr,
				       unsigned int flags)
{
	return 0;
}

static inline bool cow_pte_zap(struct mmu_gather *tlb,
			       struct vm_area_struct *vma, pmd_t *pmd,
			       unsigned long addr, unsigned long end)
{
	return false;
}

static inline int cow_pte_unshare(struct vm_area_struct *vma, pmd_t *pmd,
				  unsigned long addr, gfp_t gfp,
				  enum cow_pte_reason why)
{
	return 0;
}

static inline int cow_pte_unshare_range(struct vm_area_struct *vma,
					unsigned long start, unsigned long end,
					enum cow_pte_reason why)
{
	return 0;
}

static inline int cow_pte_unshare_range_vma_locked(struct vm_area_struct *vma,
						   unsigned long start,
						   unsigned long end)
{
	return 0;
}

static inline int cow_pte_split_vma(struct vm_area_struct *vma,
				    unsigned long addr)
{
	return 0;
}

static inline unsigned int cow_pte_other_sharers(pmd_t *pmd)
{
	return 0;
}

static inline bool cow_pte_folio_walk_shared(const struct folio_walk *fw,
					     struct vm_area_struct *vma,
					     unsigned long addr)
{
	return false;
}

static inline bool cow_pte_pvmw_reshared(bool unshared, pmd_t *pmd,
					 struct mm_struct *mm,
					 unsigned long addr)
{
	return false;
}

static inline int cow_pte_unshare_swap(struct vm_area_struct *vma, pmd_t *pmd,
				       unsigned long addr, unsigned int type)
{
	return 0;
}

static inline bool cow_pte_unshare_folio(struct folio *folio)
{
	return false;
}

static inline void cow_pte_fork_task(struct task_struct *p,
				     struct mm_struct *mm,
				     unsigned long clone_flags)
{
}

static inline unsigned long cow_pte_unowned_pages(struct mm_struct *mm)
{
	return 0;
}

static inline void cow_pte_exec_mm(struct mm_struct *mm)
{
}

static inline int cow_pte_prctl(int option, unsigned long arg2,
				unsigned long arg3, unsigned long arg4,
				unsigned long arg5)
{
	return -EINVAL;
}

#endif /* CONFIG_COW_PTE */
#endif /* _LINUX_COW_PTE_H */
