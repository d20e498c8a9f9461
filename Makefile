# SPDX-License-Identifier: GPL-2.0
#
# COW PTE harness: build the patched kernel from Debian's linux-source-6.12
# plus this overlay, boot it under QEMU TCG, run tests, demo and benchmarks.
# "make help" lists the targets.

SHELL := /bin/bash
BUILD ?= $(CURDIR)/build
export BUILD

# Options for run, demo, check; passed to the scripts through the environment.
DEBUG ?= 0
STOCK ?= 0
ifneq ($(filter-out 0 1,$(DEBUG) $(STOCK)),)
$(error DEBUG and STOCK take 0 or 1)
endif
ifeq ($(STOCK),1)
VARIANT := stock
else ifeq ($(DEBUG),1)
VARIANT := debug
else
VARIANT := release
endif
export VARIANT CMD MEM SMP NUMA CMDLINE TIMEOUT DEMO_MIB KERNEL ICOUNT
export BENCH QUICK RUNS STOCK_KERNEL STOCK_BOOTS RESULTS MM_FULL CHECK_MINUTES
export DEB_CONFIG REDIS_COW_MODE
# make stress SECONDS=N SEED=S CYCLES=N (bash treats $SECONDS specially).
export STRESS_SECONDS := $(SECONDS)
export STRESS_SEED := $(SEED)
export STRESS_CYCLES := $(CYCLES)
export STRESS_RELEASE := $(RELEASE)

H := $(CURDIR)/harness

.PHONY: help tree export export-check headers kernel kernels run selftests \
	mm-selftests benchmarks demo check clean bench stress pmd-paths rebase \
	test-harness deb deb-check patches patches-check

help:
	@echo "make demo            build, boot and run the fork demo (start here)"
	@echo "                     options: DEMO_MIB=1024"
	@echo "make check           build both kernels and run every test (what CI runs)"
	@echo "                     options: MM_FULL=1 (every mm category on every run) CHECK_MINUTES=75"
	@echo "make stress          the randomized stress test on the debug kernel"
	@echo "                     options: SECONDS=1800 SEED=... CYCLES=10000 (leak check)"
	@echo "                     RELEASE=1 (on the release kernel; CYCLES=100000 there)"
	@echo "make pmd-paths       the path tests over shared PMD tables on the debug kernel (40 min)"
	@echo "make run CMD='...'   boot a kernel and run CMD as root in this folder"
	@echo "                     options: DEBUG=1 STOCK=1 MEM=4G SMP=2 NUMA=1 CMDLINE=... TIMEOUT=s"
	@echo "make kernel          build the kernel chosen by DEBUG=1 / STOCK=1 (release by default)"
	@echo "make tree            create $(BUILD)/src = base + overlay (edit the kernel there)"
	@echo "make rebase VERSION=6.12.N  move the pinned Debian base to another 6.12.y"
	@echo "make test-harness    the harness's own tests (bats; part of make check)"
	@echo "make patches         the overlay as a git format-patch series, in $(BUILD)/patches"
	@echo "make patches-check   build the kernel after each patch, COW_PTE on and off (long)"
	@echo "make export          write the tree's changes back into the overlay"
	@echo "make export-check    fail when the tree holds changes the overlay lacks"
	@echo "make selftests       build selftests/ for the guest"
	@echo "make mm-selftests    build the upstream mm kselftests of the base"
	@echo "make bench           run the benchmarks (stock vs COW PTE fork), write a report"
	@echo "                     options: BENCH=micro,redis,prefork,afl,python,stockpath QUICK=1 KERNEL=..."
	@echo "make deb             Debian packages of the kernel and of cowpte-tools, in $(BUILD)/deb"
	@echo "                     options: DEB_CONFIG=vm (default, no initramfs needed) or debian-cloud"
	@echo "make deb-check       install the packages in a bookworm disk image, boot it, check sharing"
	@echo "                     options: DEB_CONFIG=... TIMEOUT=s (default 1800)"

tree:
	@$(H)/tree.sh

rebase:
	@$(H)/rebase.sh "$(VERSION)"

test-harness:
	@$(H)/test-harness.sh

patches:
	@$(H)/patches.sh write

# Not part of make check: builds the kernel after every patch, twice.
patches-check:
	@$(H)/patches.sh build

export:
	@$(H)/export.sh export

export-check:
	@$(H)/export.sh check

kernel:
	@$(H)/kernel.sh $(VARIANT)

kernels:
	@$(H)/kernel.sh release
	@$(H)/kernel.sh debug
	@$(H)/kernel.sh stock

run:
	@$(H)/run.sh

headers:
	@$(H)/headers.sh

selftests: headers
	@. $(H)/common.sh && need_pkgs liburing-dev
	@$(MAKE) -s -C selftests BUILD=$(BUILD)

mm-selftests: headers
	@$(H)/mm-selftests.sh build

benchmarks: headers
	@$(MAKE) -s -C benchmarks BUILD=$(BUILD)

demo: benchmarks
	@$(H)/demo.sh

check: selftests mm-selftests
	@$(H)/check.sh

bench:
	@$(H)/bench.sh

stress: selftests
	@$(H)/stress.sh

# Not part of make check (40 min): the PMD-level path tests on debug.
pmd-paths: selftests
	@$(H)/pmd-paths.sh

# Not part of make check: packages for installing COW PTE on a machine.
deb:
	@$(H)/deb.sh

deb-check:
	@$(H)/deb-check.sh

clean:
	rm -rf $(BUILD)/out $(BUILD)/runs $(BUILD)/mm-selftests
	$(MAKE) -s -C selftests clean
	$(MAKE) -s -C benchmarks clean
