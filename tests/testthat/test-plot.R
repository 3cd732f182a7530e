# The plot of a fit (R/plot.R): it draws, restores par and checks its arguments.

list2env(fit_fixtures(), environment())

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
