# The plot of a fit (R/plot.R): it draws, restores par and checks its arguments.

list2env(fit_fixtures(), environment())

# The fit's own warnings (R/fit.R) are not what these tests are about: small
# fits with few starts give them.
quiet <- function(expr) suppressWarnings(expr, classes = "sigmoe_fit_warning")

test_that("plot draws without error and restores par", {
  pdf(NULL)
  on.exit(dev.off(), add = TRUE)
  op <- par(no.readonly = TRUE)
  expect_invisible(plot(fit_x))
  expect_identical(par("mfrow"), op$mfrow)
  expect_no_error(plot(fit_over, which = 1:4, legend = FALSE, pch = 20))
  expect_no_error(plot(fit_f, which = 2, col = "red"))
  expect_no_error(plot(fit_2))
  expect_identical(par("mfrow"), op$mfrow)
  expect_error(plot(fit_2, which = 1), "need d = 1")
  expect_error(plot(fit_x, which = 5), "`which` must be distinct panel numbers")
})

test_that("plot shows the data less the offset, which the curves fit", {
  pdf(NULL)
  on.exit(dev.off(), add = TRUE)
  off <- rep(1, 300)
  fit <- quiet(moe_fit(dat1$x1, dat1$y + off, k = 2, start = relu_truth, nstart = 0, offset = off))
  expect_no_error(plot(fit, which = 1))
})

test_that("autoplot of a one-input fit draws the data, the fit and the gated experts", {
  skip_if_not_installed("ggplot2")
  p <- ggplot2::autoplot(fit_x, n_grid = 50)
  expect_s3_class(p, "ggplot")
  geoms <- vapply(p$layers, function(l) class(l$geom)[1L], character(1))
  expect_identical(geoms, c("GeomPoint", "GeomLine", "GeomLine"))
  # the points are the data
  expect_equal(p$data$x, dat1$x1)
  expect_equal(p$data$y, dat1$y)
  # the fit is f_G on a grid, the gated experts g_i h_i, one per expert
  curve <- p$layers[[2L]]$data
  expect_identical(nrow(curve), 50L)
  expect_equal(curve$y, moe_mean(coef(fit_x), curve$x))
  gated <- p$layers[[3L]]$data
  expect_identical(nlevels(gated$expert), 2L)
  gh <- moe_gates(coef(fit_x), curve$x) * moe_experts(coef(fit_x), curve$x)
  expect_equal(gated$y, as.vector(gh), ignore_attr = TRUE)
  expect_equal(rowSums(matrix(gated$y, ncol = 2)), curve$y)
  pdf(NULL)
  on.exit(dev.off(), add = TRUE)
  expect_no_error(ggplot2::ggplot_build(p))
})

test_that("autoplot of a fit with several inputs draws residuals against fitted values", {
  skip_if_not_installed("ggplot2")
  p <- ggplot2::autoplot(fit_2)
  expect_s3_class(p, "ggplot")
  geoms <- vapply(p$layers, function(l) class(l$geom)[1L], character(1))
  expect_identical(geoms, c("GeomHline", "GeomPoint"))
  expect_equal(p$data$fitted, unname(fitted(fit_2)))
  expect_equal(p$data$residual, unname(residuals(fit_2)))
  expect_no_error(ggplot2::ggplot_build(p))
  expect_error(ggplot2::autoplot(fit_2, which = 1), "Unknown argument `which`")
  expect_error(ggplot2::autoplot(fit_x, n_grid = 1), "`n_grid` must be a whole number >= 2")
})
