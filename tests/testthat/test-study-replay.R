# Replaying one cell of a study from its seed (R/study-replay.R).

test_that("one cell replays alone from its seed", {
  st <- shared_study()
  d <- no_time(st)
  cell <- study_replay(st, gating = "softmax", n = 300, rep = 2, expert = "linear")
  row <- d[d$gating == "softmax" & d$n == 300 & d$rep == 2 & d$expert == "linear", ]
  rownames(row) <- NULL
  got <- cell$result[setdiff(names(cell$result), "seconds")]
  expect_identical(got, row)
  expect_s3_class(cell$fit, "moe_fit")
  expect_identical(nrow(cell$data), 300L)
  expect_identical(cell$fit$sse, row$sse)
})

test_that("study_replay rejects a cell the study does not have", {
  st <- shared_study()
  expect_error(study_replay(st, gating = "softmax", n = 999, rep = 1, expert = "relu"),
               "`n` must be one of the study's sample sizes")
  expect_error(study_replay(st, gating = "softmax", n = 150, rep = 3, expert = "relu"),
               "`rep` must be a whole number between 1 and 2")
  expect_error(study_replay(st, gating = "softmax", n = 150, rep = 1),
               "`expert` must be given")
  expect_error(study_replay(st, gating = "normalized_sigmoid", n = 150, rep = 1, expert = "relu"),
               "`gating` must be one of \"sigmoid\", \"softmax\"")
})
