# Runs the package's testthat suite (R CMD check and tools/test.sh).
#
# SPDX-License-Identifier: GPL-2.0-or-later
library(testthat)
library(Rfmalloc)

test_check("Rfmalloc")
