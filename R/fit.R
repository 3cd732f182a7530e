#' Control settings for the least-squares fit
#'
#' Settings of the Levenberg-Marquardt solver behind [moe_fit()] and of its
#' data-driven starts.
#'
#' The solver stops when, after an accepted step, both the actual and the
#' predicted relative reduction of the SSE are at most `ftol` (code 1), when
#' the relative step is at most `xtol` (code 2), when every column of the
#' Jacobian is nearly orthogonal to the residuals (the cosine is at most
#' `gtol`, code 3), when the SSE is zero (code 4), or when no damped step
#' reduces the SSE any more (code 5, a numerical local minimum). Reaching
#' `maxit` iterations gives code -1 and a non-finite SSE at the start code -2;
#' neither is an error: the fit records the code and its message.
#'
#' @param maxit Maximum number of Levenberg-Marquardt iterations per start.
#' @param ftol,xtol,gtol Tolerances of the stopping rules (see Details).
#' @param lambda Initial damping, relative to the diagonal of \eqn{J^\top J}.
#' @param threads Number of OpenMP threads for the elementwise work of the C
#'   core. Results do not depend on it.
#' @param trace If `TRUE`, print the SSE, damping and gain ratio at every accepted
#'   iteration, and each rejected trial step.
#' @param start_rows The data-driven starts are computed on at most this many
#'   rows (a random subsample for larger data); the local searches always use
#'   all rows.
#' @param jitter Standard deviation of the relative Gaussian noise added to
#'   every data-driven start after the first.
#' @returns A list of class `moe_control`.
#' @examples
#' moe_control(maxit = 500, threads = 2)
#' @export
moe_control <- function(maxit = 200L, ftol = 1e-8, xtol = 1e-8, gtol = 1e-8,
                        lambda = 1e-3, threads = getOption("sigmoe.threads", 1L),
                        trace = FALSE, start_rows = 5000L, jitter = 0.1) {
  structure(list(
    maxit = check_whole(maxit, "maxit", min = 1),
    ftol = check_number(ftol, "ftol", min = 0),
    xtol = check_number(xtol, "xtol", min = 0),
    gtol = check_number(gtol, "gtol", min = 0),
    lambda = check_number(lambda, "lambda", min = 0, open_min = TRUE),
    threads = check_whole(threads, "threads", min = 1),
    trace = check_flag(trace, "trace"),
    start_rows = check_whole(start_rows, "start_rows", min = 10),
    jitter = check_number(jitter, "jitter", min = 0)
  ), class = "moe_control")
}

check_control <- function(control) {
  if (inherits(control, "moe_control")) return(control)
  if (is.list(control) && !is.null(names(control)) && all(nzchar(names(control)))) {
    known <- names(formals(moe_control))
    bad <- setdiff(names(control), known)
    if (length(bad))
      stop(sprintf("`control` has unknown setting%s %s; known: %s.", if (length(bad) > 1) "s" else "",
                   paste0("\"", bad, "\"", collapse = ", "), paste(known, collapse = ", ")),
           call. = FALSE)
    return(do.call(moe_control, control))
  }
  abort_arg("control", "a `moe_control()` object or a named list of its settings", control)
}

#' Fit a mixture of experts by least squares
#'
#' Minimises \eqn{\sum_i (Y_i - f_G(X_i))^2} over the parameters of a
#' k-expert model with the given gate and expert (see [moe_params()]). The
#' objective is not convex: every start (the user's `start`, then `nstart`
#' data-driven starts) runs one Levenberg-Marquardt search in C with the
#' analytic Jacobian, and the fit keeps the one with the smallest SSE. The
#' SSE of every start is kept in `$starts`.
#'
#' Data-driven starts project the (standardised) inputs on a direction (the
#' first principal axis for the first start, random directions after), cut the
#' projection at quantiles into k pieces and build gates that switch between
#' the pieces (softmax and normalized sigmoid: nearest-centre logits; sigmoid:
#' one global gate plus threshold gates with alternating sides). The experts
#' are then fitted jointly by linear least squares given those gates, and the
#' linear pieces are mapped to each expert's parameters through its
#' first-order expansion. Starts after the first get relative Gaussian noise
#' (`control$jitter`). Everything random comes from R's generator, so
#' `set.seed()` reproduces a fit.
#'
#' @param x Inputs: an n x d numeric matrix (or data frame of numeric
#'   columns), or a numeric vector when d = 1.
#' @param y Responses, a numeric vector of length n.
#' @param k Number of experts, a whole number >= 1.
#' @inheritParams moe_params
#' @param start `NULL`, a [moe_params()] object or a list of them: starts
#'   that run in addition to the `nstart` data-driven ones (so `nstart = 0`
#'   with one `start` runs exactly one local search from it).
#' @param nstart Number of data-driven starts, a whole number >= 0.
#' @param control Solver settings, see [moe_control()].
#' @returns An object of class `moe_fit`, with methods `print`, `summary`,
#'   `coef` (the fitted [moe_params()]), `fitted`, `residuals`, `predict`,
#'   `plot`, `logLik`, `AIC`, `BIC`, `nobs`, `deviance`, `sigma`, `vcov` and
#'   `confint`. Its elements include `theta` (the free parameters),
#'   `convergence` (code, message, iterations, SSE trace) and `starts`.
#' @seealso [moe()] for the formula interface.
#' @examples
#' truth <- moe_params(beta0 = c(0, 0), beta1 = c(6, -6), a = c(1, -1),
#'                     b = c(0.2, 0.2), expert = "relu")
#' set.seed(1)
#' d <- moe_simulate(truth, n = 500, sd = 0.05)
#' fit <- moe_fit(d$x1, d$y, k = 2, nstart = 3)
#' fit
#' coef(fit)
#' @export
moe_fit <- function(x, y, k, gating = "sigmoid", expert = "relu", degree = NULL,
                    start = NULL, nstart = 10L, control = moe_control()) {
  cl <- match.call()
  x <- check_x(x, "x")
  y <- check_y(y, nrow(x))
  n <- nrow(x)
  d <- ncol(x)
  k <- check_whole(k, "k", min = 1)
  gating <- check_choice(gating, gating_types, "gating")
  expert <- check_choice(expert, expert_types, "expert")
  if (expert == "polynomial") {
    if (is.null(degree)) stop("`degree` must be given for the polynomial expert.", call. = FALSE)
    degree <- check_whole(degree, "degree", min = 1)
  } else {
    degree <- NULL
  }
  npar <- n_free_params(k, d, gating, expert)
  if (npar > n)
    stop(sprintf(paste0("`k` = %d is more than the data can identify: the model has %d free ",
                        "parameters but there are only %d observations."), k, npar, n),
         call. = FALSE)
  nstart <- check_whole(nstart, "nstart", min = 0)
  control <- check_control(control)
  template <- moe_params(beta0 = numeric(k), beta1 = matrix(0, k, d, dimnames = list(NULL, x_names(x))),
                         a = matrix(0, k, d), b = numeric(k), gating = gating,
                         expert = expert, degree = degree)
  user <- check_starts(start, template)
  if (length(user) == 0L && nstart == 0L)
    stop("`nstart` must be >= 1 when no `start` is given, not 0.", call. = FALSE)

  thetas <- c(lapply(user, params_theta),
              data_starts(x, y, template, nstart, control))
  source <- rep(c("user", "data"), c(length(user), nstart))
  spec <- params_spec(template)
  ctl <- c(control$maxit, control$ftol, control$xtol, control$gtol, control$lambda,
           control$threads, as.numeric(control$trace))
  runs <- lapply(thetas, function(theta) .Call(C_lsq_fit, spec, unname(theta), x, y, ctl))
  sse <- vapply(runs, `[[`, numeric(1), "sse")
  starts <- data.frame(
    start = seq_along(runs), source = source, sse = sse,
    code = vapply(runs, `[[`, integer(1), "code"),
    converged = vapply(runs, `[[`, logical(1), "converged"),
    iterations = vapply(runs, `[[`, integer(1), "iterations")
  )
  ok <- which(is.finite(sse))
  if (length(ok) == 0L)
    stop("Every start gave a non-finite SSE; check the scale of `x` and `y` or pass `start`.",
         call. = FALSE)
  best <- runs[[ok[which.min(sse[ok])]]]
  new_moe_fit(best, template, x, y, starts, control, cl)
}

check_y <- function(y, n) {
  if (is.matrix(y) && ncol(y) == 1L) y <- drop(y)
  if (!is.numeric(y) || !is.null(dim(y))) abort_arg("y", "a numeric vector", y)
  if (length(y) != n)
    stop(sprintf("`y` must have one value per row of `x` (n = %d), not %d values.", n, length(y)),
         call. = FALSE)
  if (!is.double(y)) y <- as.double(y)
  check_finite_numeric(y, "y")
  y
}

# User starts: NULL, one moe_params, or a list of them, each matching the
# model being fitted.
check_starts <- function(start, template) {
  if (is.null(start)) return(list())
  if (inherits(start, "moe_params")) start <- list(start)
  if (!is.list(start) || length(start) == 0L)
    abort_arg("start", "NULL, a `moe_params` object or a list of them", start)
  for (s in seq_along(start)) {
    p <- start[[s]]
    what <- if (length(start) > 1L) sprintf("`start[[%d]]`", s) else "`start`"
    if (!inherits(p, "moe_params"))
      stop(sprintf("%s must be a `moe_params` object, not %s.", what, describe_value(p)), call. = FALSE)
    same <- c(k = identical(as.integer(p$k), template$k), d = identical(as.integer(p$d), template$d),
              gating = identical(p$gating, template$gating),
              expert = identical(p$expert, template$expert),
              degree = identical(p$degree, template$degree))
    if (!all(same)) {
      field <- names(same)[!same][1]
      show <- function(v) if (is.null(v)) "none" else format(v)
      stop(sprintf("%s has %s = %s but the model being fitted has %s = %s.", what, field,
                   show(p[[field]]), field, show(template[[field]])), call. = FALSE)
    }
    theta <- params_theta(p)
    if (length(theta) != n_free_params(template$k, template$d, template$gating, template$expert) ||
        !all(is.finite(theta)) || !identical(dim(p$beta1), c(template$k, template$d)) ||
        !identical(dim(p$a), c(template$k, template$d)))
      stop(sprintf("%s must have finite parameters of the model's shape (k = %d, d = %d).",
                   what, template$k, template$d), call. = FALSE)
    if (template$gating == "softmax" && (p$beta0[p$k] != 0 || any(p$beta1[p$k, ] != 0)))
      stop(sprintf("%s: the softmax reference expert k must have beta0 and beta1 equal to 0.", what),
           call. = FALSE)
  }
  start
}

new_moe_fit <- function(run, template, x, y, starts, control, call) {
  theta <- stats::setNames(run$theta, param_names(template$k, template$d, template$gating,
                                                  template$expert))
  params <- theta_params(theta, template)
  fitted <- .Call(C_model_eval, params_spec(template), run$theta, x, FALSE, control$threads)
  names(fitted) <- names(y)
  n <- nrow(x)
  npar <- length(theta)
  jtj <- run$jtj
  dimnames(jtj) <- list(names(theta), names(theta))
  structure(list(
    coefficients = params,
    theta = theta,
    fitted.values = fitted,
    residuals = y - fitted,
    sse = run$sse,
    nobs = n,
    npar = npar,
    df.residual = n - npar,
    sigma = if (n > npar) sqrt(run$sse / (n - npar)) else NaN,
    x = x,
    xnames = x_names(x),
    y = y,
    gating = template$gating,
    expert = template$expert,
    degree = template$degree,
    k = template$k,
    d = template$d,
    convergence = list(code = run$code, message = run$message, converged = run$converged,
                       iterations = run$iterations, evaluations = run$evaluations,
                       trace = run$trace),
    starts = starts,
    jtj = jtj,
    control = control,
    call = call
  ), class = "moe_fit")
}

# ---- data-driven starts -------------------------------------------------

# First-order expansion point t0 of each expert: a linear piece alpha'x + beta
# is matched by h(t0) + h'(t0) (a'x + b - t0).
expert_anchor <- function(expert, degree) {
  t0 <- switch(expert, polynomial = 1, 0)
  c(t0 = t0, h0 = expert_eval(t0, expert, degree), h1 = expert_eval(t0, expert, degree, TRUE))
}

data_starts <- function(x, y, template, nstart, control) {
  if (nstart == 0L) return(list())
  n <- nrow(x); d <- ncol(x); k <- template$k
  rows <- if (n > control$start_rows) sort(sample.int(n, control$start_rows)) else seq_len(n)
  xs <- x[rows, , drop = FALSE]
  ys <- y[rows]
  center <- colMeans(xs)
  scale <- sqrt(colMeans(sweep(xs, 2L, center)^2))
  scale[!(scale > 0)] <- 1
  xz <- sweep(sweep(xs, 2L, center), 2L, scale, "/")
  axis <- if (d > 1L) svd(xz, nu = 0L, nv = 1L)$v[, 1L] else 1
  anchor <- expert_anchor(template$expert, template$degree)
  lapply(seq_len(nstart), function(s) {
    u <- if (s == 1L) axis else { v <- stats::rnorm(d); v / sqrt(sum(v^2)) }
    levels <- if (s == 1L) (seq_len(k) - 0.5) / k else sort(stats::runif(k))
    gate <- start_gates(xz %*% u, levels, template$gating, k, first = s == 1L)
    # back from the standardised projection p = (x - center)/scale . u to x
    w <- u / scale
    m <- sum(center * w)
    beta1 <- outer(gate$slope, w)
    beta0 <- gate$intercept - gate$slope * m
    if (template$gating == "softmax") {
      beta0 <- beta0 - beta0[k]
      beta1 <- sweep(beta1, 2L, beta1[k, ])
    }
    p <- template
    p$beta0 <- beta0
    p$beta1[] <- beta1
    g <- moe_gates(p, xs)
    ex <- start_experts(xs, ys, g, template$expert, anchor)
    p$a[] <- ex$a
    p$b <- ex$b
    theta <- params_theta(p)
    if (s > 1L && control$jitter > 0) {
      noise <- stats::rnorm(length(theta), 0, control$jitter) * (abs(theta) + 0.1)
      if (template$expert == "constant") noise[grepl("^a\\[", names(theta))] <- 0
      theta <- theta + noise
    }
    theta
  })
}

# Gate intercepts and slopes on the standardised projection p, cutting p at
# the given quantile levels.
start_gates <- function(p, levels, gating, k, first) {
  p <- drop(p)
  centers <- stats::quantile(p, levels, names = FALSE, type = 7)
  spread <- diff(range(p))
  if (!(spread > 0)) spread <- 1
  if (k == 1L) return(list(slope = 0, intercept = 0))
  gap <- max(spread / k, 1e-8)
  if (gating == "sigmoid") {
    # one global expert, the others switched on past thresholds, alternating
    # sides (random sides after the first start)
    side <- if (first) rep(c(1, -1), length.out = k - 1L) else sample(c(1, -1), k - 1L, TRUE)
    steep <- 4 / gap
    slope <- c(0, side * steep)
    intercept <- c(3, -side * steep * centers[-1L])
    return(list(slope = slope, intercept = intercept))
  }
  # nearest-centre logits: z_i = kappa (c_i p - c_i^2 / 2)
  kappa <- 4 / gap^2
  slope <- kappa * centers
  intercept <- -kappa * centers^2 / 2
  if (gating == "normalized_sigmoid") {
    # sigma(z) ~ exp(z) for z << 0, so shifting every logit down makes the
    # normalized sigmoid close to the softmax partition
    zmax <- max(outer(range(p), slope) + rep(intercept, each = 2L))
    intercept <- intercept - zmax - 3
  }
  list(slope = slope, intercept = intercept)
}

# Experts given the gates: sum_i g_i (alpha_i'x + beta_i) fitted by linear
# least squares, then each piece mapped through the expert's expansion.
start_experts <- function(xs, ys, g, expert, anchor) {
  k <- ncol(g); d <- ncol(xs)
  constant <- expert == "constant"
  blocks <- lapply(seq_len(k), function(i) {
    if (constant) g[, i, drop = FALSE] else cbind(g[, i] * xs, g[, i])
  })
  M <- do.call(cbind, blocks)
  # a small ridge keeps the solve defined when gates are nearly collinear
  MtM <- crossprod(M)
  ridge <- 1e-8 * max(mean(diag(MtM)), 1e-12)
  coef <- tryCatch(solve(MtM + diag(ridge, ncol(M)), crossprod(M, ys)),
                   error = function(e) rep(0, ncol(M)))
  coef <- matrix(coef, ncol = k)
  if (constant) return(list(a = matrix(0, k, d), b = drop(coef)))
  alpha <- t(coef[seq_len(d), , drop = FALSE])
  beta <- coef[d + 1L, ]
  h1 <- if (abs(anchor[["h1"]]) > 1e-8) anchor[["h1"]] else 1
  a <- alpha / h1
  b <- (beta - anchor[["h0"]]) / h1 + anchor[["t0"]]
  if (expert == "relu") {
    # A relu expert whose line is negative on (nearly) all rows has a zero
    # Jacobian and can never come back; shift it to be active on half of them.
    for (i in seq_len(k)) {
      t <- drop(xs %*% a[i, ]) + b[i]
      if (mean(t > 0) < 0.1) b[i] <- b[i] - stats::median(t)
    }
  }
  list(a = a, b = b)
}

# ---- formula interface --------------------------------------------------

#' Fit a mixture of experts with a formula
#'
#' A formula interface to [moe_fit()], in the manner of [stats::lm()] and
#' [stats::nls()]: the right-hand side gives the inputs x (through
#' [stats::model.matrix()], without an intercept column since every gate and
#' expert has its own intercept), the left-hand side the response.
#'
#' @param formula A formula such as `y ~ x1 + x2`.
#' @param data A data frame holding the variables of `formula`.
#' @param k Number of experts.
#' @param ... Further arguments to [moe_fit()]: `gating`, `expert`, `degree`,
#'   `start`, `nstart`, `control`.
#' @param subset Optional expression selecting rows of `data`.
#' @param na.action What to do with rows that have missing values. By
#'   default they are an error, which names the rows; pass
#'   `na.action = na.omit` to drop them.
#' @returns A `moe_fit` object (see [moe_fit()]) that also carries the
#'   formula and terms, so that `predict(fit, newdata)` takes a data frame.
#' @examples
#' truth <- moe_params(beta0 = c(0, 0), beta1 = c(6, -6), a = c(1, -1),
#'                     b = c(0.2, 0.2), expert = "relu")
#' set.seed(1)
#' d <- moe_simulate(truth, n = 500, sd = 0.05)
#' fit <- moe(y ~ x1, data = d, k = 2, nstart = 3)
#' summary(fit)
#' @export
moe <- function(formula, data, k, ..., subset, na.action) {
  cl <- match.call()
  if (!inherits(formula, "formula") || length(formula) != 3L)
    abort_arg("formula", "a two-sided formula such as y ~ x1 + x2", formula)
  if (missing(data)) data <- environment(formula)
  mf <- match.call(expand.dots = FALSE)
  mf <- mf[c(1L, match(c("formula", "data", "subset", "na.action"), names(mf), 0L))]
  mf$drop.unused.levels <- TRUE
  if (missing(na.action)) mf$na.action <- quote(stats::na.pass)
  mf[[1L]] <- quote(stats::model.frame)
  mf <- eval(mf, parent.frame())
  if (missing(na.action)) {
    bad <- which(!stats::complete.cases(mf))
    if (length(bad))
      stop(sprintf(paste0("`data` has %d row%s with missing values in the model's variables ",
                          "(first: row %s); remove them or pass `na.action = na.omit`."),
                   length(bad), if (length(bad) > 1L) "s" else "", rownames(mf)[bad[1L]]),
           call. = FALSE)
  }
  mt <- attr(mf, "terms")
  y <- stats::model.response(mf, "numeric")
  if (is.null(y)) stop("`formula` must have a response on its left-hand side.", call. = FALSE)
  X <- formula_design(mt, mf)
  fit <- moe_fit(X, y, k, ...)
  fit$call <- cl
  fit$formula <- formula
  fit$terms <- mt
  fit$xlevels <- stats::.getXlevels(mt, mf)
  fit$contrasts <- attr(X, "contrasts")
  fit$na.action <- attr(mf, "na.action")
  fit
}

# Model matrix without the intercept column (gates and experts carry their own).
formula_design <- function(mt, mf, xlev = NULL, contrasts = NULL) {
  X <- stats::model.matrix(mt, mf, contrasts.arg = contrasts, xlev = xlev)
  keep <- colnames(X) != "(Intercept)"
  if (!any(keep)) stop("`formula` must have at least one input on its right-hand side.", call. = FALSE)
  cn <- colnames(X)[keep]
  X <- X[, keep, drop = FALSE]
  colnames(X) <- cn
  X
}

# ---- threads -------------------------------------------------------------

#' Number of BLAS threads
#'
#' Reads and sets the number of threads of OpenBLAS, when R uses it, at run
#' time. Parallel studies set it to 1 in each worker so that workers times
#' BLAS threads never exceeds the cores.
#'
#' @param n A whole number >= 1 to set, or `NULL` to only read.
#' @returns The previous number of BLAS threads, invisibly when setting, or
#'   `NA` when the BLAS is not OpenBLAS.
#' @examples
#' blas_threads()
#' @export
blas_threads <- function(n = NULL) {
  if (is.null(n)) return(.Call(C_blas_threads, NA_integer_))
  n <- check_whole(n, "n", min = 1)
  invisible(.Call(C_blas_threads, n))
}
