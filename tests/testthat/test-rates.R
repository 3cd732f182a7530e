# Rates of a study (R/rates.R): fitted slopes of synthetic losses, sample
# sizes, the rates the theory predicts, and argument checks.

test_that("slopes of synthetic losses with known exponents are recovered", {
  st <- synthetic_study()
  rt <- rate_table(st, B = 300)
  expect_s3_class(rt, "moe_rate_table")
  expect_identical(nrow(rt), 2L * 2L * 3L)
  truth_slope <- ifelse(rt$loss == "l2", -0.5,
                        ifelse(rt$gating == "sigmoid", -0.5, -0.25) / ifelse(rt$loss == "expert_error", 2, 1))
  expect_equal(rt$slope, truth_slope, tolerance = 0.03)
  expect_true(all(rt$lower < truth_slope & truth_slope < rt$upper))
  expect_equal(exp(rt$intercept[rt$loss == "voronoi"]), rep(3, 4), tolerance = 0.05)
  expect_identical(unique(rt$n_min), 100L)
  expect_identical(unique(rt$n_max), 10000L)
  expect_true(all(rt$theory_slope[rt$loss == "l2"] == -0.5))
  expect_output(print(rt), "a prediction, not a measurement")

  ss <- sample_size(st, eps = c(0.03, 0.01), loss = "voronoi")
  line <- rt[rt$loss == "voronoi", ]
  want <- exp((log(0.03) - line$intercept) / line$slope)
  expect_equal(ss$n[ss$eps == 0.03], want)
  expect_identical(ss$extrapolated[ss$eps == 0.03], want < 100 | want > 10000)
})

test_that("rate_table and sample_size reject bad arguments with errors that name them", {
  st <- shared_study()
  expect_error(rate_table(1), "`study` must be a `moe_study` object")
  expect_error(rate_table(st, losses = "mse"), "`losses` must name losses the study recorded")
  expect_error(rate_table(st, level = 1), "`level` must be a number in \\(0, 1\\)")
  expect_error(rate_table(st, level = 95), "`level` must be a number in \\(0, 1\\), not 95")
  expect_error(rate_table(st, level = "a"), "`level` must be a number in \\(0, 1\\)")
  expect_error(rate_table(st, B = -1), "`B` must be a whole number >= 0")
  expect_error(sample_size(st, eps = 0), "`eps` must be a vector of numbers > 0")
  expect_error(sample_size(st, eps = 0.1, loss = "mse"), "`loss` must name losses")
})

test_that("the rate the theory predicts is given for every case it answers", {
  # loss, gating, expert, k, k*, misspecified, init, split, then the slope and
  # label theory_rate() must give
  cases <- list(
    list("voronoi", "sigmoid", "relu", 3, 2, TRUE, "near_truth", 1, NA_real_, "none (misspecified)"),
    list("expert_error", "softmax", "linear", 3, 2, TRUE, "multistart", 1, NA_real_,
         "none (misspecified)"),
    # the regression function: n^-1/2 whatever the gate, expert and atoms
    list("l2", "sigmoid", "relu", 3, 2, FALSE, "near_truth", 1, -0.5, "n^-1/2"),
    list("l2", "softmax", "linear", 3, 2, FALSE, "near_truth", 1, -0.5, "n^-1/2"),
    list("l2", "normalized_sigmoid", "constant", 3, 2, FALSE, "multistart", 1, -0.5, "n^-1/2"),
    # losses the theory says nothing about
    list("cell_error", "sigmoid", "relu", 3, 2, FALSE, "near_truth", 1, NA_real_, "none"),
    list("sse", "softmax", "relu", 3, 2, FALSE, "near_truth", 1, NA_real_, "none"),
    list("voronoi", "normalized_sigmoid", "relu", 3, 2, FALSE, "near_truth", 1, NA_real_, "none stated"),
    list("expert_error1", "normalized_sigmoid", "relu", 3, 2, FALSE, "near_truth", 1, NA_real_,
         "none stated"),
    # exact-specified atoms: n^-1/2 for every gate and expert
    list("voronoi", "sigmoid", "relu", 2, 2, FALSE, "near_truth", NULL, -0.5, "n^-1/2 (exact atoms)"),
    list("expert_error", "softmax", "linear", 2, 2, FALSE, "near_truth", NULL, -0.5,
         "n^-1/2 (exact atoms)"),
    # fewer experts than the truth: the fit tends to the best k-expert model,
    # not to the truth, and no loss, not even the regression function's,
    # tends to 0
    list("voronoi", "sigmoid", "constant", 1, 2, FALSE, "near_truth", NULL, NA_real_,
         "none (k < k*: under-specified)"),
    list("l2", "softmax", "relu", 2, 3, FALSE, "near_truth", NULL, NA_real_,
         "none (k < k*: under-specified)"),
    list("expert_error1", "sigmoid", "relu", 1, 2, FALSE, "near_truth", NULL, NA_real_,
         "none (k < k*: under-specified)"),
    # per-expert columns: over-specified only for the split atoms, and only
    # with near-truth starts, whose cells are designed
    list("expert_error1", "sigmoid", "relu", 3, 2, FALSE, "near_truth", 1, -0.25,
         "n^-1/4 (over-specified)"),
    list("expert_error2", "sigmoid", "relu", 3, 2, FALSE, "near_truth", 1, -0.5,
         "n^-1/2 (exact atoms)"),
    list("expert_error2", "softmax", "gelu", 4, 2, FALSE, "near_truth", c(2, 2), -0.25,
         "n^-1/4 (over-specified)"),
    list("expert_error1", "sigmoid", "relu", 2, 2, FALSE, "near_truth", NULL, -0.5,
         "n^-1/2 (exact atoms)"),
    list("expert_error1", "sigmoid", "relu", 3, 2, FALSE, "multistart", 1, NA_real_,
         "none (cells not designed)"),
    list("expert_error", "sigmoid", "relu", 3, 2, FALSE, "multistart", 1, -0.25,
         "n^-1/4 (over-specified)"),
    # softmax with experts that interact with the gate: slower than any power
    list("voronoi", "softmax", "linear", 3, 2, FALSE, "near_truth", 1, 0, "slower than any power"),
    list("expert_error", "softmax", "polynomial", 3, 2, FALSE, "near_truth", 1, 0,
         "slower than any power"),
    list("expert_error1", "softmax", "linear", 3, 2, FALSE, "near_truth", 1, 0,
         "slower than any power"),
    # experts that are not second-order identifiable: no rate stated
    list("voronoi", "sigmoid", "constant", 3, 2, FALSE, "near_truth", 1, NA_real_, "none stated"),
    list("expert_error", "softmax", "constant", 3, 2, FALSE, "near_truth", 1, NA_real_, "none stated"),
    list("expert_error", "sigmoid", "linear", 3, 2, FALSE, "near_truth", 1, NA_real_, "none stated"),
    list("voronoi", "sigmoid", "polynomial", 3, 2, FALSE, "near_truth", 1, NA_real_, "none stated")
  )
  # identifiable experts: the Voronoi loss squares its over-specified terms,
  # the expert error shows their n^-1/4
  for (g in c("sigmoid", "softmax")) for (e in c("relu", "gelu", "sigmoid", "tanh")) {
    cases[[length(cases) + 1L]] <- list("voronoi", g, e, 3, 2, FALSE, "near_truth", 1, -0.5,
                                        "n^-1/2 (squared over terms)")
    cases[[length(cases) + 1L]] <- list("expert_error", g, e, 3, 2, FALSE, "near_truth", 1, -0.25,
                                        "n^-1/4 (over-specified)")
  }
  for (cs in cases) {
    got <- sigmoe:::theory_rate(loss = cs[[1]], gating = cs[[2]], expert = cs[[3]], k = cs[[4]],
                                kt = cs[[5]], misspecified = cs[[6]], init = cs[[7]], split = cs[[8]])
    expect_identical(got, list(slope = cs[[9]], label = cs[[10]]),
                     label = sprintf("theory_rate(%s, %s, %s, k = %d)", cs[[1]], cs[[2]], cs[[3]],
                                     as.integer(cs[[4]])))
  }
})

test_that("the median rate is the least-squares line of log(median) on log(n), by hand", {
  st <- outcome_study()
  r <- st$results
  for (stat in c("mean", "median")) {
    rt <- rate_table(st, losses = "voronoi", stat = stat, B = 0)
    expect_identical(unique(rt$stat), stat)
    for (i in seq_len(nrow(rt))) {
      sub <- r[r$gating == rt$gating[i] & r$expert == rt$expert[i] & !is.na(r$voronoi), ]
      centre <- tapply(sub$voronoi, sub$n, if (stat == "median") median else mean)
      line <- coef(lm(log(centre) ~ log(as.numeric(names(centre)))))
      expect_equal(rt$slope[i], unname(line[2]))
      expect_equal(rt$intercept[i], unname(line[1]))
    }
  }
  # the stuck replicate moves the mean's slope far from -1/2, not the median's
  med <- rate_table(st, losses = "voronoi", stat = "median", B = 0)
  avg <- rate_table(st, losses = "voronoi", B = 0)
  expect_true(all(abs(med$slope + 0.5) < 0.15))
  expect_true(all(avg$slope > 0))
  expect_identical(unique(avg$stat), "mean")
})

test_that("the bootstrap of the median slope recomputes medians of resampled replicates", {
  st <- outcome_study()
  r <- st$results
  B <- 300
  rt <- rate_table(st, losses = "voronoi", stat = "median", B = B, level = 0.9, seed = 7)
  rt_mean <- rate_table(st, losses = "voronoi", B = B, level = 0.9, seed = 7)
  # the first row (sigmoid, relu) draws from its own stream: the same
  # resamples, by hand, for the median and the mean
  sub <- r[r$gating == "sigmoid" & r$expert == "relu" & !is.na(r$voronoi), ]
  sizes <- sort(unique(sub$n))
  slopes <- sigmoe:::with_rng(sigmoe:::cell_seed(7, "sigmoid", "relu", "voronoi"), {
    stats <- lapply(sizes, function(m) {
      g <- sub$voronoi[sub$n == m]
      idx <- matrix(sample.int(length(g), length(g) * B, replace = TRUE), nrow = B)
      cbind(median = apply(idx, 1, function(i) median(g[i])), mean = apply(idx, 1, function(i) mean(g[i])))
    })
    sapply(c("median", "mean"), function(s) {
      v <- sapply(stats, function(m) m[, s])
      apply(log(v), 1, function(y) coef(lm(y ~ log(sizes)))[[2]])
    })
  })
  expect_equal(c(rt$lower[1], rt$upper[1]),
               unname(quantile(slopes[, "median"], c(0.05, 0.95), type = 7)))
  expect_equal(c(rt_mean$lower[1], rt_mean$upper[1]),
               unname(quantile(slopes[, "mean"], c(0.05, 0.95), type = 7)))
  expect_true(rt$lower[1] < rt$slope[1] && rt$slope[1] < rt$upper[1])
  # medians of rows, one sort for the whole matrix, against median(), odd and even
  for (k in c(5L, 6L)) {
    m <- matrix(rnorm(40 * k), 40, k)
    expect_equal(sigmoe:::row_medians(m), apply(m, 1, median))
  }
})

test_that("a row's interval is the same whichever other rows are asked for", {
  st <- outcome_study()
  full <- rate_table(st, B = 200, seed = 3)
  losses <- unique(full$loss)
  expect_gt(length(losses), 1L)
  for (l in losses) {
    one <- rate_table(st, losses = l, B = 200, seed = 3)
    both <- rate_table(st, losses = rev(losses), B = 200, seed = 3)
    ref <- full[full$loss == l, ]
    expect_identical(one$lower, ref$lower, label = l)
    expect_identical(one$upper, ref$upper, label = l)
    expect_identical(both$lower[both$loss == l], ref$lower, label = l)
  }
  # another seed gives other resamples; the session's stream is left alone
  set.seed(11)
  before <- .Random.seed
  other <- rate_table(st, B = 200, seed = 4)
  expect_identical(.Random.seed, before)
  expect_false(identical(other$lower, full$lower))
})

test_that("fits at maxit, at a bound and failed are counted per gate x expert and per n", {
  st <- outcome_study()
  r <- st$results
  r$maxit <- r$code %in% -1L
  r$bound <- !is.na(r$at_bound) & r$at_bound > 0
  r$failed <- !is.na(r$error)
  expect_true(sum(r$maxit) > 0 && sum(r$bound) > 0 && sum(r$failed) > 0)
  rt <- rate_table(st, B = 0)
  fits <- table(r$gating, r$expert)
  maxit <- xtabs(maxit ~ gating + expert, r)
  bound <- xtabs(bound ~ gating + expert, r)
  failed <- xtabs(failed ~ gating + expert, r)
  for (i in seq_len(nrow(rt))) {
    g <- rt$gating[i]
    e <- rt$expert[i]
    expect_identical(rt$fits[i], as.integer(fits[g, e]))
    expect_identical(rt$at_maxit[i], as.integer(maxit[g, e]))
    expect_identical(rt$at_bound[i], as.integer(bound[g, e]))
    expect_identical(rt$failed[i], as.integer(failed[g, e]))
  }
  # per n, in the attribute "cells" and in the per-n summaries of the plot
  r$flagged <- r$maxit | r$bound | r$failed
  want <- aggregate(cbind(fits = 1L, failed, at_maxit = maxit, at_bound = bound, flagged) ~
                      gating + expert + n, data = r, FUN = sum)
  cells <- attr(rt, "cells")
  got <- merge(want, cells, by = c("gating", "expert", "n"), suffixes = c("", ".got"))
  expect_identical(nrow(got), nrow(want))
  expect_identical(nrow(cells), nrow(want))
  for (j in c("fits", "failed", "at_maxit", "at_bound"))
    expect_equal(got[[paste0(j, ".got")]], got[[j]], label = j)
  means <- sigmoe:::study_means(st, "voronoi")
  got <- merge(want, means, by = c("gating", "expert", "n"), suffixes = c("", ".got"))
  expect_identical(nrow(got), nrow(want))
  for (j in c("fits", "failed", "at_maxit", "at_bound", "flagged"))
    expect_equal(got[[paste0(j, ".got")]], got[[j]], label = j)
  expect_output(print(rt), "Fits per gate and expert")
  expect_output(print(rt), "gives the rate of the median")
  # when most fits are stuck, the median is no way out, and the table says so
  stuck <- st
  stuck$results$code[stuck$results$rep <= 4L] <- -1L
  expect_output(print(rate_table(stuck, stat = "median", B = 0)),
                "More than half of the fits of some gate and expert stopped at maxit")

  # a study stored before `at_bound` was recorded counts no fit at a bound
  old <- st
  old$results$at_bound <- NULL
  rt_old <- rate_table(old, B = 0)
  expect_true(all(rt_old$at_bound == 0L))
  expect_identical(rt_old$at_maxit, rt$at_maxit)
})

test_that("the printed rate table names the sources of the theory a user can open", {
  out <- capture.output(print(rate_table(synthetic_study(), B = 20)))
  expect_true(any(grepl("vignette(\"theory\", package = \"sigmoe\")", out, fixed = TRUE)))
  expect_true(any(grepl("arXiv:2405.13997", out, fixed = TRUE)))
  expect_true(any(grepl("arXiv:2402.02952", out, fixed = TRUE)))
  expect_false(any(grepl("section [0-9]", out)))
  out <- capture.output(print(rate_table(synthetic_study(), stat = "median", B = 20)))
  expect_match(out[1], "slope of log\\(median loss\\) on log\\(n\\)")
})

test_that("sample sizes follow the median line and extrapolated ones are marked", {
  st <- outcome_study()
  ss <- sample_size(st, eps = c(0.1, 0.001), loss = "voronoi", stat = "median")
  expect_s3_class(ss, "moe_sample_size")
  rt <- rate_table(st, losses = "voronoi", stat = "median", B = 0)
  line <- rt[match(paste(ss$gating, ss$expert), paste(rt$gating, rt$expert)), ]
  expect_equal(ss$n, exp((log(ss$eps) - line$intercept) / line$slope))
  expect_identical(ss$extrapolated, ss$n < 100 | ss$n > 1600)
  expect_true(any(ss$extrapolated) && any(!ss$extrapolated))
  expect_identical(unique(ss$stat), "median")
  expect_identical(unique(c(ss$n_min, ss$n_max)), c(100L, 1600L))
  out <- capture.output(print(ss))
  rows <- out[grepl("^ (sigmoid|softmax)", out)]
  expect_length(rows, nrow(ss))
  expect_identical(grepl("\\*\\s*$", rows), ss$extrapolated)
  expect_true(any(grepl("* extrapolated beyond the studied range [100, 1,600]", out, fixed = TRUE)))
  expect_match(out[1], "log\\(median loss\\)")
  # none marked, no footnote
  inside <- ss[!ss$extrapolated, ]
  expect_s3_class(inside, "moe_sample_size")
  expect_false(any(grepl("extrapolated|\\*", capture.output(print(inside)))))
  # a line that does not decrease never reaches eps, and says so
  flat <- st
  flat$results$voronoi <- 1
  never <- sample_size(flat, eps = 0.5, loss = "voronoi")
  expect_true(all(is.infinite(never$n)))
  expect_output(print(never), "never: the fitted line does not decrease")
})

test_that("`stat` is checked, with errors that name it", {
  st <- shared_study()
  expect_error(rate_table(st, stat = "mode"), "`stat` must be one of \"mean\", \"median\", not \"mode\"")
  expect_error(rate_table(st, stat = 1), "`stat` must be one of \"mean\", \"median\", not 1")
  expect_error(rate_table(st, stat = c("median", "mean")), "`stat` must be one of")
  expect_error(sample_size(st, eps = 0.1, stat = "mode"), "`stat` must be one of")
  expect_error(sample_size(st, eps = 0.1, stat = NA_character_), "`stat` must be one of")
  expect_identical(unique(rate_table(st, stat = "med", B = 0)$stat), "median")
})
