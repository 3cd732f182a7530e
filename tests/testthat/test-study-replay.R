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

test_that("a cell of a global search replays with all its starts", {
  st <- tiny_study(init = "global", nstart = 2)
  d <- no_time(st)
  for (g in c("sigmoid", "softmax")) {
    cell <- study_replay(st, gating = g, n = 150, rep = 2, expert = "relu")
    row <- d[d$gating == g & d$n == 150 & d$rep == 2 & d$expert == "relu", ]
    rownames(row) <- NULL
    expect_identical(cell$result[setdiff(names(cell$result), "seconds")], row)
    expect_identical(names(cell$start), strsplit(row$surplus, "+", fixed = TRUE)[[1L]])
    expect_identical(nrow(cell$fit$starts), length(cell$start) + 2L)
    # the replayed starts are inside the study's box
    for (s in cell$start)
      expect_true(all(abs(sigmoe:::params_theta(s)) <= st$setup$bounds$half))
  }
  # one representation applies (GELU experts under the sigmoid gate: only
  # "dead"): still a list named by it
  gelu <- convergence_study(soft_truth("gelu"), n = c(150, 300), reps = 1, k = 3, sd = 0.1,
                            seed = 11, init = "global", nstart = 1)
  cell <- study_replay(gelu, gating = "sigmoid", n = 150, rep = 1)
  expect_identical(gelu$setup$surplus[["sigmoid"]], "dead")
  expect_false(inherits(cell$start, "moe_params"))
  expect_identical(names(cell$start), "dead")
  expect_s3_class(cell$start$dead, "moe_params")
})
