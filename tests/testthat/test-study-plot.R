# Plots of a study (R/study-plot.R): what is drawn, read back from the
# recorded display list, against hand computations on the results.

# The display list of a base-graphics call: the name of every graphics
# operation and its arguments.
recorded_ops <- function(draw) {
  pdf(NULL)
  on.exit(dev.off(), add = TRUE)
  dev.control("enable")
  draw()
  dl <- recordPlot()[[1]]
  lapply(dl, function(op) {
    f <- op[[2]][[1]]
    list(name = if (is.list(f) && !is.null(f$name)) f$name else "", args = as.list(op[[2]])[-1])
  })
}
ops_named <- function(ops, name) Filter(function(o) o$name == name, ops)
op_text <- function(ops, name) unlist(lapply(ops_named(ops, name), function(o)
  Filter(is.character, o$args)))

test_that("a study plots with base graphics and with ggplot2", {
  st <- synthetic_study()
  pdf(NULL)
  on.exit(dev.off(), add = TRUE)
  expect_identical(plot(st), st)
  expect_identical(plot(st, stat = "median"), st)
  if (requireNamespace("ggplot2", quietly = TRUE))
    expect_s3_class(ggplot2::autoplot(st, loss = "l2"), "ggplot")
  expect_error(plot(st, loss = c("l2", "voronoi")), "`loss` must be the name of one loss")
})

test_that("one panel per expert, labelled with the statistic and its bars", {
  st <- outcome_study()
  for (stat in c("mean", "median")) {
    ops <- recorded_ops(function() plot(st, stat = stat))
    expect_length(ops_named(ops, "C_plot_new"), length(st$setup$expert))
    titles <- op_text(ops, "C_title")
    expect_true(sprintf("%s voronoi loss over replicates", stat) %in% titles)
    legend <- op_text(ops, "C_text")
    bars <- if (stat == "mean") "bars: mean (\u00b1|\\+/-) 2 SE" else "bars: interquartile range"
    expect_true(any(grepl(bars, legend)), label = paste("the bars of", stat, "in the legend"))
    expect_true(any(grepl("open: > 10% of fits at maxit/bound/failed", legend, fixed = TRUE)))
  }
})

test_that("bars are mean +/- 2 SE or the interquartile range, by hand", {
  st <- outcome_study()
  r <- st$results[is.finite(st$results$voronoi), ]
  for (stat in c("mean", "median")) {
    pts <- sigmoe:::study_plot_data(st, "voronoi", stat)$points
    for (i in seq_len(nrow(pts))) {
      v <- r$voronoi[r$gating == pts$gating[i] & r$expert == pts$expert[i] & r$n == pts$n[i]]
      if (stat == "mean") {
        y <- mean(v)
        se <- sd(v) / sqrt(length(v))
        lo <- y - 2 * se
        hi <- y + 2 * se
      } else {
        y <- median(v)
        lo <- unname(quantile(v, 0.25))
        hi <- unname(quantile(v, 0.75))
      }
      expect_equal(pts$y[i], y)
      expect_equal(pts$lo[i], max(lo, y / 10))
      expect_equal(pts$hi[i], hi)
    }
  }
})

test_that("points with more than 10% of fits at maxit, at a bound or failed are open, and counted", {
  st <- outcome_study()
  r <- st$results
  bad <- r$code %in% -1L | (!is.na(r$at_bound) & r$at_bound > 0) | !is.na(r$error)
  share <- tapply(bad, paste(r$gating, r$expert, r$n), mean)
  pts <- sigmoe:::study_plot_data(st, "voronoi", "median")$points
  expect_identical(pts$open, as.vector(share[paste(pts$gating, pts$expert, pts$n)] > 0.1))
  expect_true(any(pts$open))
  ops <- recorded_ops(function() plot(st))
  # open points are drawn with symbol 21, filled ones with 19
  pch <- unlist(lapply(ops_named(ops, "C_plotXY"), function(o) o$args[[3]]))
  expect_setequal(unique(pch[pch %in% c(19, 21)]), c(19, 21))
  notes <- op_text(ops, "C_mtext")
  for (e in st$setup$expert) {
    re <- r[r$expert == e, ]
    want <- sprintf("%d fits: %d at maxit, %d at a bound, %d failed", nrow(re),
                    sum(re$code %in% -1L), sum(!is.na(re$at_bound) & re$at_bound > 0),
                    sum(!is.na(re$error)))
    expect_true(any(startsWith(notes, want)), label = paste("the note under the", e, "panel"))
  }
  # a study without any such fit draws no open point and no legend entry for them
  clean <- st
  clean$results$code <- 1L
  clean$results$at_bound <- 0L
  clean$results$error <- NA_character_
  clean$results$voronoi[is.na(clean$results$voronoi)] <- 1
  ops <- recorded_ops(function() plot(clean))
  expect_false(any(grepl("open:", op_text(ops, "C_text"))))
})

test_that("autoplot labels the statistic, the bars and the counts", {
  skip_if_not_installed("ggplot2")
  st <- outcome_study()
  p <- ggplot2::autoplot(st, stat = "median")
  expect_identical(p$labels$y, "median voronoi loss over replicates")
  expect_match(p$labels$caption, "bars: interquartile range")
  expect_match(p$labels$caption, "log\\(median loss\\) on log\\(n\\)")
  r <- st$results[st$results$expert == "relu", ]
  expect_match(p$labels$caption, sprintf("relu: %d fits: %d at maxit", nrow(r), sum(r$code %in% -1L)))
  expect_setequal(levels(p$data$flag), c("<= 10%", "> 10%"))
  p <- ggplot2::autoplot(st)
  expect_identical(p$labels$y, "mean voronoi loss over replicates")
  expect_match(p$labels$caption, "2 SE")
  # short lines, aligned left, so that none is cut off
  expect_true(all(nchar(strsplit(p$labels$caption, "\n")[[1]]) <= 90L))
  expect_identical(p$theme$plot.caption$hjust, 0)
  expect_error(ggplot2::autoplot(st, stat = "mode"), "`stat` must be one of")
})

test_that("`stat` of the plot is checked, with an error that names it", {
  st <- synthetic_study()
  pdf(NULL)
  on.exit(dev.off(), add = TRUE)
  expect_error(plot(st, stat = "mode"), "`stat` must be one of \"mean\", \"median\", not \"mode\"")
  expect_error(plot(st, stat = TRUE), "`stat` must be one of")
})

test_that("one replicate draws no bars and no warnings; a loss with nothing to show is named", {
  st <- convergence_study(soft_truth(), n = c(150, 300), reps = 1, k = 3, sd = 0.1, seed = 2,
                          expert = "relu", losses = c("voronoi", "l2"))
  ops <- expect_warning(recorded_ops(function() plot(st, loss = "l2")), NA)
  expect_length(ops_named(ops, "C_arrows"), 0L)
  expect_gt(length(ops_named(ops, "C_plotXY")), 0L)
  out <- capture.output(print(rate_table(st, losses = "l2")))
  expect_true(any(grepl("^CI missing: the bootstrap resamples the replicates", out)))
  one_n <- convergence_study(soft_truth(), n = 300, reps = 2, k = 3, sd = 0.1, seed = 2,
                             expert = "relu", losses = "l2")
  out <- capture.output(print(rate_table(one_n)))
  expect_true(any(grepl("^slope NA: fewer than 2 sample sizes", out)))
  # every gate misspecified: no Voronoi loss anywhere; the default plot shows
  # a loss that has values, and asking for the Voronoi loss says why not
  sig <- moe_params(beta0 = c(0.5, 0), beta1 = c(3, 1), a = c(1.5, -1), b = c(0.3, 0.2),
                    gating = "sigmoid", expert = "relu")
  mis <- suppressMessages(convergence_study(sig, n = c(150, 300), reps = 2, k = 3, sd = 0.1, seed = 3,
                                            gating = "softmax", nstart = 1, losses = c("voronoi", "l2")))
  expect_true(all(is.na(mis$results$voronoi)))
  ops <- recorded_ops(function() plot(mis))
  expect_true(any(grepl("l2 loss", op_text(ops, "C_title"))))
  pdf(NULL)
  on.exit(dev.off(), add = TRUE)
  expect_error(plot(mis, loss = "voronoi"), "`loss` \"voronoi\" has no finite, positive mean")
})
