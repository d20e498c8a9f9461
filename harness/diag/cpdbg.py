# SPDX-License-Identifier: GPL-2.0
"""Patch mm/memory.c with a debug-only fault-loop detector (not for commit).

usage: cpdbg.py PATH/TO/mm/memory.c   (harness/diag/build-instr.sh runs it)

When one CPU takes 1,000 faults in a row at one address of one mm, it
prints (pr_err, "cpdbg:") the fault, why the last anonymous fault did not
install its page (1: no PTE table, 2: PTE changed, 3: unstable mm, 4: -EAGAIN
from alloc_anon_folio, 5: handle_pte_fault could not map the table, 9:
installed), the pfn of the page it allocated, and the page-table walk both
from mm->pgd and from CR3 (and the PTI user copy), then a stack dump.
"""
import sys, re
p = sys.argv[1]
s = open(p).read()
assert 'cpdbg' not in s
helper = r'''
/* cpdbg: debug-only detector of a fault loop (issue 4), not for commit */
struct cpdbg_state {
	struct mm_struct *mm;
	unsigned long addr;
	unsigned long n;
	int why;
	unsigned long why_pmd, why_pte;
	unsigned long fpfn;
};
static DEFINE_PER_CPU(struct cpdbg_state, cpdbg);
static atomic_t cpdbg_dumps;

static void cpdbg_why(int why, pmd_t *pmd, pte_t *pte)
{
	struct cpdbg_state *s = raw_cpu_ptr(&cpdbg);

	s->why = why;
	s->why_pmd = pmd ? pmd_val(pmdp_get_lockless(pmd)) : 0;
	s->why_pte = pte ? pte_val(ptep_get(pte)) : 0;
}

static void cpdbg_folio(struct folio *folio)
{
	raw_cpu_ptr(&cpdbg)->fpfn = folio_pfn(folio);
}

static void cpdbg_walk(const char *tag, pgd_t *pgd, unsigned long addr)
{
	p4d_t *p4d;
	pud_t *pud;
	pmd_t *pmd;
	pte_t *pte;

	pr_err("cpdbg: %s pgd@%px(pfn %lx)=%lx\n", tag, pgd, (unsigned long)(__pa(pgd) >> PAGE_SHIFT), (unsigned long)pgd_val(*pgd));
	if (!pgd_present(*pgd))
		return;
	p4d = p4d_offset(pgd, addr);
	pr_err("cpdbg: %s p4d@%px(pfn %lx)=%lx\n", tag, p4d, (unsigned long)(__pa(p4d) >> PAGE_SHIFT), (unsigned long)p4d_val(*p4d));
	if (!p4d_present(*p4d))
		return;
	pud = pud_offset(p4d, addr);
	pr_err("cpdbg: %s pud@%px(pfn %lx)=%lx\n", tag, pud, (unsigned long)(__pa(pud) >> PAGE_SHIFT), (unsigned long)pud_val(*pud));
	if (!pud_present(*pud) || pud_leaf(*pud))
		return;
	pmd = pmd_offset(pud, addr);
	pr_err("cpdbg: %s pmd@%px(pfn %lx)=%lx\n", tag, pmd, (unsigned long)(__pa(pmd) >> PAGE_SHIFT), (unsigned long)pmd_val(*pmd));
	if (!pmd_present(*pmd) || pmd_leaf(*pmd))
		return;
	pte = (pte_t *)pmd_page_vaddr(*pmd) + pte_index(addr);
	pr_err("cpdbg: %s pte@%px(pfn %lx)=%lx\n", tag, pte, (unsigned long)(__pa(pte) >> PAGE_SHIFT), (unsigned long)pte_val(*pte));
}

static void cpdbg_check(struct vm_area_struct *vma, unsigned long address,
			unsigned int flags)
{
	struct cpdbg_state *s = raw_cpu_ptr(&cpdbg);
	unsigned long a = address & PAGE_MASK;
	struct mm_struct *mm = vma->vm_mm;
	int why = s->why;

	s->why = -1;
	if (s->mm != mm || s->addr != a) {
		s->mm = mm;
		s->addr = a;
		s->n = 0;
		return;
	}
	s->n++;
	if (s->n != 1000 && s->n != 1001 && s->n != 100000)
		return;
	if (atomic_inc_return(&cpdbg_dumps) > 40)
		return;
	pr_err("cpdbg: %s[%d] addr %lx flags %x n %lu fpfn %lx why %d why_pmd %lx why_pte %lx vm_flags %lx vma %lx-%lx anon_vma %px mmflags %lx cr3 %lx pgd_pa %lx curmm %d\n",
	       current->comm, current->pid, address, flags, s->n, s->fpfn, why,
	       s->why_pmd, s->why_pte, vma->vm_flags, vma->vm_start,
	       vma->vm_end, vma->anon_vma, mm->flags, __read_cr3(),
	       (unsigned long)__pa(mm->pgd), current->mm == mm);
	cpdbg_walk("sw", pgd_offset(mm, address), address);
	cpdbg_walk("hw", pgd_offset_pgd((pgd_t *)__va(__read_cr3() & CR3_ADDR_MASK), address), address);
#ifdef CONFIG_MITIGATION_PAGE_TABLE_ISOLATION
	if (boot_cpu_has(X86_FEATURE_PTI))
		cpdbg_walk("user", kernel_to_user_pgdp(pgd_offset(mm, address)), address);
#endif
	dump_stack();
}
'''
anchor = 'static vm_fault_t do_anonymous_page(struct vm_fault *vmf);\n'
assert anchor in s
# definitions after the prototypes block: put after 'void mm_trace_rss_stat'
a2 = 'void mm_trace_rss_stat(struct mm_struct *mm, int member)\n'
assert a2 in s
s = s.replace(a2, helper + '\n' + a2, 1)

def rep(old, new, count=1):
    global s
    assert s.count(old) >= 1, old
    s = s.replace(old, new, count)

# do_anonymous_page exits
rep('''	vmf->pte = pte_offset_map_lock(vma->vm_mm, vmf->pmd, addr, &vmf->ptl);
	if (!vmf->pte)
		goto release;
	if (nr_pages == 1 && vmf_pte_changed(vmf)) {
		update_mmu_tlb(vma, addr, vmf->pte);
		goto release;''',
'''	vmf->pte = pte_offset_map_lock(vma->vm_mm, vmf->pmd, addr, &vmf->ptl);
	if (!vmf->pte) {
		cpdbg_why(1, vmf->pmd, NULL);
		goto release;
	}
	if (nr_pages == 1 && vmf_pte_changed(vmf)) {
		cpdbg_why(2, vmf->pmd, vmf->pte);
		update_mmu_tlb(vma, addr, vmf->pte);
		goto release;''')
rep('''	folio = alloc_anon_folio(vmf);
	if (IS_ERR(folio))
		return 0;
	if (!folio)
		goto oom;''', '''	folio = alloc_anon_folio(vmf);
	if (IS_ERR(folio)) {
		cpdbg_why(4, vmf->pmd, NULL);
		return 0;
	}
	if (!folio)
		goto oom;
	cpdbg_folio(folio);''')
rep('''	ret = check_stable_address_space(vma->vm_mm);
	if (ret)
		goto release;
''', '''	ret = check_stable_address_space(vma->vm_mm);
	if (ret) {
		cpdbg_why(3, vmf->pmd, NULL);
		goto release;
	}
	cpdbg_why(9, vmf->pmd, vmf->pte);
''')
# handle_pte_fault: map failure
m = re.search(r'(static vm_fault_t handle_pte_fault\(struct vm_fault \*vmf\)\n\{.*?)(\t\tif \(unlikely\(!vmf->pte\)\)\n\t\t\treturn 0;\n)', s, re.S)
assert m
s = s[:m.start(2)] + '\t\tif (unlikely(!vmf->pte)) {\n\t\t\tcpdbg_why(5, vmf->pmd, NULL);\n\t\t\treturn 0;\n\t\t}\n' + s[m.end(2):]
rep('''	__set_current_state(TASK_RUNNING);

	ret = sanitize_fault_flags(vma, &flags);''', '''	__set_current_state(TASK_RUNNING);
	cpdbg_check(vma, address, flags);

	ret = sanitize_fault_flags(vma, &flags);''')
open(p, 'w').write(s)
print("patched")
