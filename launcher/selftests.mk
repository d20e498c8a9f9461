# SPDX-License-Identifier: GPL-2.0
# Included by selftests/Makefile after lib.mk: "make selftests" builds the
# launcher too, since selftests/cowpte_launcher runs it.
COWPTE_LAUNCHER_DIR := $(abspath $(dir $(lastword $(MAKEFILE_LIST))))

all: cowpte-launcher

cowpte-launcher:
	@$(MAKE) -s -C $(COWPTE_LAUNCHER_DIR) CFLAGS="-O2 -g"

.PHONY: cowpte-launcher
