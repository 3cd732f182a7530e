# Plots of a study (R/study-plot.R).

test_that("a study plots with base graphics and with ggplot2", {
  st <- synthetic_study()
  pdf(NULL)
  on.exit(dev.off(), add = TRUE)
  expect_identical(plot(st), st)
  if (requireNamespace("ggplot2", quietly = TRUE))
    expect_s3_class(ggplot2::autoplot(st, loss = "l2"), "ggplot")
  expect_error(plot(st, loss = c("l2", "voronoi")), "`loss` must be the name of one loss")
})
