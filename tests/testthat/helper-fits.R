# A well-specified truth and the fits shared by the tests of the fit object's
# methods, inference, predictions and plots.

relu_truth <- moe_params(beta0 = c(0, 0), beta1 = c(6, -6), a = c(1, -1), b = c(0.2, 0.2),
                         gating = "sigmoid", expert = "relu")

# The fits and their data, made on first use and then shared: a test file
# puts them in its environment with list2env(fit_fixtures(), environment()),
# where update() finds the data of the stored calls.
fit_fixtures <- local({
  made <- NULL
  function() {
    # the fit's own warnings (few starts on small data) are not what the
    # tests that share these fits are about
    if (is.null(made)) made <<- suppressWarnings(make_fit_fixtures(), classes = "sigmoe_fit_warning")
    made
  }
})

make_fit_fixtures <- function() {
  set.seed(11)
  dat1 <- moe_simulate(relu_truth, n = 300, sd = 0.05)
  fit_x <- moe_fit(dat1$x1, dat1$y, k = 2, start = relu_truth, nstart = 2)
  fit_f <- moe(y ~ x1, data = dat1, k = 2, start = relu_truth, nstart = 2)

  # One true expert fitted by three, from a start that splits the true atom
  # into three equal ones: over-specified, and the fitted atoms stay (nearly)
  # equal, so the information is singular whatever the solver's path.
  relu1 <- moe_params(beta0 = 1, beta1 = 3, a = 1, b = 0.2, expert = "relu")
  set.seed(2)
  dat_over <- moe_simulate(relu1, n = 300, sd = 0.05)
  split3 <- moe_params(beta0 = rep(-0.5, 3), beta1 = rep(3, 3), a = rep(1, 3), b = rep(0.2, 3),
                       expert = "relu")
  fit_over <- moe_fit(dat_over$x1, dat_over$y, k = 3, start = split3, nstart = 0)

  # d = 2, formula interface.
  lin2 <- moe_params(beta0 = c(0.5, 0), beta1 = rbind(c(4, 1), c(0, 0)),
                     a = rbind(c(1, 0.5), c(-1, 0.5)), b = c(0.2, -0.1),
                     gating = "softmax", expert = "linear")
  set.seed(5)
  dat2 <- moe_simulate(lin2, n = 300, sd = 0.05)
  fit_2 <- moe(y ~ x1 + x2, data = dat2, k = 2, gating = "softmax", expert = "linear",
               start = lin2, nstart = 2)
  list(dat1 = dat1, fit_x = fit_x, fit_f = fit_f, dat_over = dat_over, fit_over = fit_over,
       lin2 = lin2, dat2 = dat2, fit_2 = fit_2)
}

# A fit whose warnings (classed "sigmoe_fit_warning") are not what the test
# is about; the tests of the warnings themselves call moe_fit() directly.
quietly <- function(expr) suppressWarnings(expr, classes = "sigmoe_fit_warning")

# The problem of bench/fit.R at n = 1e3: k = 3 ReLU experts for k* = 2, from a
# split start, where the plain steps crawl along a saturating gate.
crawl_problem <- function() {
  truth <- moe_params(beta0 = c(0, 0), beta1 = c(6, -6), a = c(1, -1), b = c(0.2, 0.2),
                      gating = "sigmoid", expert = "relu")
  # R's default generator, whatever an earlier test left: the crawl is a
  # property of these data
  saved <- sigmoe:::rng_save()
  on.exit(sigmoe:::rng_restore(saved), add = TRUE)
  set.seed(1, kind = "Mersenne-Twister", normal.kind = "Inversion", sample.kind = "Rejection")
  d <- moe_simulate(truth, n = 1000, sd = 0.05)
  list(x = matrix(d$x1, ncol = 1L), y = d$y,
       start = moe_params(beta0 = c(-0.4, -0.9, 0.3), beta1 = c(5, 7.5, -5),
                          a = c(0.8, 1.3, -0.8), b = c(0.1, 0.3, 0.3),
                          gating = "sigmoid", expert = "relu"))
}
