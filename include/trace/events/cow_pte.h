/* SPDX-License-Identifier: GPL-2.0 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM cow_pte

#if !defined(_TRACE_COW_PTE_H) || defined(TRACE_HEADER_MULTI_READ)
#define _TRACE_COW_PTE_H

#include <linux/cow_pte.h>
#include <linux/tracepoint.h>

/* The values of enum cow_pte_reason, for tools that read the raw events. */
TRACE_DEFINE_ENUM(COW_PTE_FAULT);
TRACE_DEFINE_ENUM(COW_PTE_KERNEL);
TRACE_DEFINE_ENUM(COW_PTE_MPROTECT);
TRACE_DEFINE_ENUM(COW_PTE_MREMAP);
TRACE_DEFINE_ENUM(COW_PTE_MADVISE);
TRACE_DEFINE_ENUM(COW_PTE_MLOCK);
TRACE_DEFINE_ENUM(COW_PTE_UFFD);
TRACE_DEFINE_ENUM(COW_PTE_COLLAPSE);
TRACE_DEFINE_ENUM(COW_PTE_CLEAR_REFS);
TRACE_DEFINE_ENUM(COW_PTE_DEVICE);
TRACE_DEFINE_ENUM(COW_PTE_RMAP);
TRACE_DEFINE_ENUM(COW_PTE_SWAPOFF);
TRACE_DEFINE_ENUM(COW_PTE_SPLIT);
TRACE_DEFINE_ENUM(COW_PTE_ZAP);
TRACE_DEFINE_ENUM(COW_PTE_SNAPSHOT);
TRACE_DEFINE_ENUM(COW_PTE_WALK);

#define show_cow_pte_reason(reason)					\
	__print_symbolic(reason,					\
			 { COW_PTE_FAULT,	"fault" },		\
			 { COW_PTE_KERNEL,	"kernel" },		\
			 { COW_PTE_MPROTECT,	"mprotect" },		\
			 { COW_PTE_MREMAP,	"mremap" },		\
			 { COW_PTE_MADVISE,	"madvise" },		\
			 { COW_PTE_MLOCK,	"mlock" },		\
			 { COW_PTE_UFFD,	"userfaultfd" },	\
			 { COW_PTE_COLLAPSE,	"collapse" },		\
			 { COW_PTE_CLEAR_REFS,	"clear_refs" },		\
			 { COW_PTE_DEVICE,	"device" },		\
			 { COW_PTE_RMAP,	"rmap" },		\
			 { COW_PTE_SWAPOFF,	"swapoff" },		\
			 { COW_PTE_SPLIT,	"vma_split" },		\
			 { COW_PTE_ZAP,		"zap" },		\
			 { COW_PTE_SNAPSHOT,	"snapshot" },		\
			 { COW_PTE_WALK,	"walk" })

/*
 * @mm: the mm the event happened in; @addr: the start of the 2 MiB range
 * the table maps; @sharers: how many mms share the table after the event
 * (1 when it is now private to @mm).
 */
DECLARE_EVENT_CLASS(cow_pte_table,
		    TP_PROTO(struct mm_struct *mm, unsigned long addr,
			     int sharers),
		    TP_ARGS(mm, addr, sharers),
		    TP_STRUCT__entry(__field(struct mm_struct *, mm)
				     __field(unsigned long, addr)
				     __field(int, sharers)),
		    TP_fast_assign(__entry->mm = mm;
				   __entry->addr = addr;
				   __entry->sharers = sharers;),
		    TP_printk("mm=%p addr=%#lx sharers=%d",
			      __entry->mm, __entry->addr, __entry->sharers)
);

/* Fork shared the table of the parent @mm with its child. */
DEFINE_EVENT(cow_pte_table, mm_cow_pte_share,
	     TP_PROTO(struct mm_struct *mm, unsigned long addr, int sharers),
	     TP_ARGS(mm, addr, sharers)
);

/* @mm let go of its share of the table without touching it (zap, exit). */
DEFINE_EVENT(cow_pte_table, mm_cow_pte_drop,
	     TP_PROTO(struct mm_struct *mm, unsigned long addr, int sharers),
	     TP_ARGS(mm, addr, sharers)
);

/* As above, with the path that had to change the table. */
DECLARE_EVENT_CLASS(cow_pte_unshare,
		    TP_PROTO(struct mm_struct *mm, unsigned long addr,
			     int sharers, enum cow_pte_reason reason),
		    TP_ARGS(mm, addr, sharers, reason),
		    TP_STRUCT__entry(__field(struct mm_struct *, mm)
				     __field(unsigned long, addr)
				     __field(int, sharers)
				     __field(enum cow_pte_reason, reason)),
		    TP_fast_assign(__entry->mm = mm;
				   __entry->addr = addr;
				   __entry->sharers = sharers;
				   __entry->reason = reason;),
		    TP_printk("mm=%p addr=%#lx sharers=%d reason=%s",
			      __entry->mm, __entry->addr, __entry->sharers,
			      show_cow_pte_reason(__entry->reason))
);

/* @mm copied the table it shared, and maps its copy. */
DEFINE_EVENT(cow_pte_unshare, mm_cow_pte_break,
	     TP_PROTO(struct mm_struct *mm, unsigned long addr, int sharers,
		      enum cow_pte_reason reason),
	     TP_ARGS(mm, addr, sharers, reason)
);

/* @mm was the last sharer of the table, and took it back without a copy. */
DEFINE_EVENT(cow_pte_unshare, mm_cow_pte_reuse,
	     TP_PROTO(struct mm_struct *mm, unsigned long addr, int sharers,
		      enum cow_pte_reason reason),
	     TP_ARGS(mm, addr, sharers, reason)
);

/*
 * The same four for PMD tables (vm.cow_pte_pmd): @addr is the start of
 * the 1 GiB range the PMD table maps.
 */
DEFINE_EVENT(cow_pte_table, mm_cow_pmd_share,
	     TP_PROTO(struct mm_struct *mm, unsigned long addr, int sharers),
	     TP_ARGS(mm, addr, sharers)
);

DEFINE_EVENT(cow_pte_table, mm_cow_pmd_drop,
	     TP_PROTO(struct mm_struct *mm, unsigned long addr, int sharers),
	     TP_ARGS(mm, addr, sharers)
);

DEFINE_EVENT(cow_pte_unshare, mm_cow_pmd_break,
	     TP_PROTO(struct mm_struct *mm, unsigned long addr, int sharers,
		      enum cow_pte_reason reason),
	     TP_ARGS(mm, addr, sharers, reason)
);

DEFINE_EVENT(cow_pte_unshare, mm_cow_pmd_reuse,
	     TP_PROTO(struct mm_struct *mm, unsigned long addr, int sharers,
		      enum cow_pte_reason reason),
	     TP_ARGS(mm, addr, sharers, reason)
);

#endif /* _TRACE_COW_PTE_H */

/* This part must be outside protection */
#include <trace/define_trace.h>
