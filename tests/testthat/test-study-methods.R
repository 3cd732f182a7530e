# The face of a study (R/study-methods.R): its data frame and its print.

test_that("a study prints its design, starts and box, and is a data frame", {
  st <- shared_study()
  out <- capture.output(print(st))
  expect_true(any(grepl("^Convergence study: k = 3 fitted experts, truth k\\* = 2", out)))
  expect_true(any(grepl("regime of the truth: nonzero_slope", out)))
  expect_true(any(grepl("surplus atoms: sigmoid dead; softmax split", out)))
  expect_true(any(grepl("on every free parameter \\(bounds = \"auto\"\\)", out)))
  d <- as.data.frame(st)
  expect_identical(d, st$results)
  expect_identical(rownames(as.data.frame(st, row.names = paste0("r", seq_len(nrow(d))))),
                   paste0("r", seq_len(nrow(d))))
  expect_s3_class(summary(st, B = 0), "moe_rate_table")
  g <- tiny_study(init = "global", nstart = 1)
  expect_output(print(g), "surplus atoms: sigmoid dead\\+scaled; softmax split\\+dead")
})
