# Runs the installed package's testthat suite and ends with the line
# "N passed, N failed, N skipped" (counting expectations), so that a run that
# executed no test shows it. Exits non-zero on any failure or error.
# the whole suite, including the longer tests that CRAN would skip
Sys.setenv(NOT_CRAN = "true")
library(testthat)
library(sigmoe)
res <- test_dir("tests/testthat", package = "sigmoe", load_package = "installed",
                reporter = ProgressReporter$new(show_praise = FALSE),
                stop_on_failure = FALSE)
tab <- as.data.frame(res)
passed <- sum(tab$passed)
failed <- sum(tab$failed) + sum(tab$error)
skipped <- sum(tab$skipped)
cat(sprintf("\n%d passed, %d failed, %d skipped\n", passed, failed, skipped))
quit(status = if (failed > 0 || passed == 0) 1L else 0L)
