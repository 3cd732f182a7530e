# The adversarial harness as a table-driven test: every row of harness_rows()
# (tests/testthat/helper-harness.R) is a call to an export or a method with a
# bad value of one argument, which must give an error naming that argument, or
# a good value, whose result must pass the row's check.
#
# SIGMOE_HARNESS_CHILD=true runs the table in child R processes instead of this
# one (about twice the time; needs the package installed): a crash or a hang
# in C then fails its row, and is counted, instead of ending the test run.
# SIGMOE_HARNESS_REPORT=true prints the counts and every failing row.

harness_rows_all <- harness_rows()

test_that("the harness has a row for every argument of every export and method", {
  # a new argument joins the table: give it rows with bad values and a good one
  expect_identical(harness_uncovered(harness_rows_all), character(0))
})

test_that("every row of the harness ends as it must", {
  started <- proc.time()
  cpu_time <- function(t) sum(t[c("user.self", "sys.self")])
  res <- NULL
  where <- "in-process"
  if (identical(Sys.getenv("SIGMOE_HARNESS_CHILD"), "true")) {
    res <- harness_run_child(harness_rows_all, test_path("helper-harness.R"))
    if (!is.null(res)) where <- "child processes"
  }
  if (is.null(res)) {
    env <- harness_fixture()
    on.exit(unlink(env$tmp, recursive = TRUE), add = TRUE)
    res <- harness_run_here(harness_rows_all, env)
  }
  now <- proc.time()
  if (identical(Sys.getenv("SIGMOE_HARNESS_REPORT"), "true"))
    message(harness_report(res, where, now[["elapsed"]] - started[["elapsed"]],
                           cpu_time(now) - cpu_time(started)))

  # one expectation per failing row, named by it (an expectation for each of
  # the ~1800 passing rows would cost testthat longer than the table)
  for (i in which(!res$pass))
    expect_true(res$pass[i], label = sprintf("row %d %s -> %s: %s", res$row[i], res$label[i],
                                             res$kind[i], res$message[i]))
  counts <- harness_counts(res)
  expect_identical(counts[["cases"]], length(harness_rows_all))
  expect_identical(counts[["clean_errors"]] + counts[["ok_valid"]], length(harness_rows_all))
  expect_identical(counts[["failures"]], 0L)
})
