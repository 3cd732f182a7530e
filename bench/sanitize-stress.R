# Stress set for the sanitizer job (bench/sanitize.sh): drives every .Call
# entry point of sigmoe through the shapes where C code goes wrong (row-block
# boundaries, one row more than the parameters, two threads, steep gates and
# huge intercepts, inputs of size 1e-300 and 1e300, boxes, the smallest
# samples, arguments R would never pass), so that AddressSanitizer and UBSan
# see them. It asserts nothing about the numbers: an R error is a legitimate
# answer (caught and counted), a sanitizer report is not (it aborts the
# process; bench/sanitize.sh counts it).
#
#   Rscript bench/sanitize-stress.R                   every section, in this process
#   Rscript bench/sanitize-stress.R --section=NAME    one section (sanitize.sh runs
#                                                     each in its own process, so one
#                                                     report does not hide the rest)
#   Rscript bench/sanitize-stress.R --list            the section names
#   add --trace to print every call before it is made (the last one printed
#   before a report is the culprit)
#
# Loads sigmoe from .libPaths() (bench/sanitize.sh puts its ASan build first
# through R_LIBS). Ends with the line "stress: N calls (N R errors) in S s".
# The seed is fixed per section, so a report reproduces with --section alone.

args <- commandArgs(trailingOnly = TRUE)
only <- sub("^--section=", "", grep("^--section=", args, value = TRUE))
trace <- "--trace" %in% args   # print every call before making it (to find a report's call)

suppressPackageStartupMessages(library(sigmoe))
ns <- asNamespace("sigmoe")
internal <- function(name) get0(name, envir = ns, inherits = FALSE)
t_start <- proc.time()[["elapsed"]]

calls <- 0L
r_errors <- 0L

# One call of the package: an R error (or warning) is fine, so it is caught
# and counted; a sanitizer report never comes back here.
hit <- function(expr) {
  calls <<- calls + 1L
  if (trace) {
    cat(sprintf("call %d: %s\n", calls, paste(deparse(substitute(expr), width.cutoff = 500L), collapse = " ")))
    flush(stdout())
  }
  tryCatch(suppressWarnings(expr), error = function(e) {
    r_errors <<- r_errors + 1L
    msg <- substr(gsub("[0-9]+", "N", gsub("\\s+", " ", conditionMessage(e))), 1L, 90L)
    error_tally[[msg]] <<- (if (is.null(error_tally[[msg]])) 0L else error_tally[[msg]]) + 1L
    if (trace) cat("  R error:", conditionMessage(e), "\n")
    NULL
  })
}
error_tally <- list()

section <- function(name, code) {
  before <- calls
  set.seed(20261202)
  t0 <- proc.time()[["elapsed"]]
  error_tally <<- list()
  force(code)   # a promise: evaluated here, after the seed
  cat(sprintf("  %-34s %6d calls  %6.1f s\n", name, calls - before,
              proc.time()[["elapsed"]] - t0))
  # the most frequent R errors: a stress call that always errors in R no
  # longer reaches the C code (an argument renamed, a new check)
  if (length(error_tally)) {
    top <- sort(unlist(error_tally), decreasing = TRUE)[seq_len(min(4L, length(error_tally)))]
    cat(sprintf("      %5d x R error: %s\n", top, names(top)), sep = "")
  }
}

gates <- c("sigmoid", "softmax", "normalized_sigmoid")
experts <- c("linear", "relu", "gelu", "sigmoid", "tanh", "polynomial", "constant")
n_max <- 5000L

n_free <- internal("n_free_params")
block_rows <- internal("model_block_rows")
params_spec <- internal("params_spec")
params_theta <- internal("params_theta")
model_eval <- internal("model_eval")
lsq_control_vector <- internal("lsq_control_vector")
entry <- function(name) name   # a registered .Call routine, called through call_c()

# A registered routine called directly, with its registered number of
# arguments: missing trailing ones are NULL, extra ones dropped (the adapters
# gain arguments as the package grows). The arity must be right: R 4.2's
# byte-compiled code (a loop) skips the check the interpreter makes and calls the
# routine with whatever is on its stack.
call_c <- function(name, ...) {
  sym <- internal(name)
  if (is.null(sym)) stop("no routine ", name)
  args <- list(...)
  np <- sym$numParameters
  if (length(args) > np) args <- args[seq_len(np)]
  if (length(args) < np) args <- c(args, rep(list(NULL), np - length(args)))
  do.call(.Call, c(list(sym), args))
}

npar_of <- function(k, d, g, e) {
  if (!is.null(n_free)) return(n_free(k, d, g, e))
  # the layout of ?moe_params: beta0, beta1 (not for the reference expert: the
  # softmax gate's last, the one expert of a normalized sigmoid gate), a (not
  # for the constant expert), b
  k * (1 + d + (e != "constant") * d + 1) - reference_gate(g, k) * (1 + d)
}

# Whether expert k is a reference whose gate parameters are held at 0.
reference_gate <- function(g, k) g == "softmax" || (g == "normalized_sigmoid" && k == 1L)

# A random mixing measure; `slope` scales the gating slopes, `b0` the
# intercepts, so that the same constructor gives ordinary and extreme gates.
rand_params <- function(k, d, g, e, degree = 2L, slope = 2, b0 = 1) {
  beta0 <- b0 * stats::runif(k, -1, 1)
  beta1 <- matrix(slope * stats::runif(k * d, -1, 1), k, d)
  a <- if (e == "constant") NULL else matrix(stats::rnorm(k * d), k, d)
  b <- stats::rnorm(k, sd = 0.5)
  if (reference_gate(g, k)) {
    beta0[k] <- 0
    beta1[k, ] <- 0
  }
  moe_params(beta0, beta1, a, b, gating = g, expert = e,
             degree = if (e == "polynomial") degree else NULL)
}

# Sample sizes for P free parameters: P + 1 (one row more than parameters), n
# where the last row block of the C model is full or holds a single row, n
# where the block size itself changes, and n_max.
edges_cache <- new.env()
sizes_for <- function(P, how_many = 6L) {
  if (is.null(block_rows)) return(unique(c(P + 1L, 257L, 513L, 2049L, n_max)))
  key <- as.character(P)
  if (is.null(edges_cache[[key]])) {
    n <- seq.int(P + 1L, n_max)
    m <- vapply(n, function(i) block_rows(i, P), integer(1))
    edges_cache[[key]] <- n[n %% m <= 1L | c(FALSE, diff(m) != 0L)]
  }
  edge <- edges_cache[[key]]
  pick <- edge[unique(round(seq(1, length(edge), length.out = how_many)))]
  sort(unique(c(P + 1L, pick, n_max)))
}

unif_x <- function(n, d, lim = 2) matrix(stats::runif(n * d, -lim, lim), n, d)

degree_of <- function(i) c(1L, 2L, 3L, 5L)[(i - 1L) %% 4L + 1L]

# Every evaluation entry point at x: the exported ones, plus the passes the
# solver makes (crossprod, SSE) with one and two threads.
evaluate_all <- function(p, x, y = NULL) {
  hit(moe_mean(p, x))
  hit(moe_jacobian(p, x))
  hit(moe_gates(p, x))
  hit(moe_experts(p, x))
  if (!is.null(model_eval)) hit(model_eval(p, x, components = TRUE, threads = 2L))
  if (is.null(params_spec) || is.null(params_theta)) return(invisible())
  spec <- params_spec(p)
  theta <- unname(params_theta(p))
  if (is.null(y)) y <- stats::rnorm(nrow(x))
  for (th in 1:2) {
    hit(call_c(entry("C_model_crossprod"), spec, theta, x, y, as.integer(th)))
    hit(call_c(entry("C_model_sse"), spec, theta, x, y, as.integer(th)))
  }
  hit(call_c(entry("C_model_jacobian"), spec, theta, x, 2L))
}

has_weights <- all(c("weights", "offset") %in% names(formals(moe_fit)))
has_interval <- "interval" %in% names(formals(getS3method("predict", "moe_fit")))

fit_once <- function(x, y, k, g, e, degree, threads, ..., maxit = 8L, nstart = 1L) {
  hit(moe_fit(x, y, k, gating = g, expert = e,
              degree = if (e == "polynomial") degree else NULL, nstart = nstart,
              control = moe_control(maxit = maxit, threads = threads), ...))
}

# The lm-like face and the losses of a fit against its truth.
use_fit <- function(fit, truth, x, offset = NULL) {
  if (!inherits(fit, "moe_fit")) return(invisible())
  rows <- seq_len(min(50L, nrow(x)))
  nd <- x[rows, , drop = FALSE]
  # a fit with an offset needs the offsets of new observations
  pred <- function(...) {
    if (is.null(offset)) predict(fit, newdata = nd, ...)
    else predict(fit, newdata = nd, offset = offset[rows], ...)
  }
  hit(vcov(fit))
  hit(summary(fit))
  hit(pred())
  hit(pred(type = "gates"))
  hit(pred(type = "experts"))
  if (has_interval) {
    hit(pred(interval = "confidence"))
    hit(pred(interval = "prediction"))
  }
  hit(voronoi_loss(fit, truth))
  hit(expert_error(fit, truth, x = nd))
  hit(cell_error(fit, truth, x = nd))
}

sections <- list()

# ---- 1. every gate x expert x d x k at the block boundaries ----------------
sections$boundaries <- function() section("evaluations at block boundaries", {
  i <- 0L
  for (d in c(1L, 6L)) for (g in gates) for (e in experts) for (k in 1:4) {
    i <- i + 1L
    p <- rand_params(k, d, g, e, degree_of(i))
    P <- npar_of(k, d, g, e)
    for (n in sizes_for(P, how_many = 5L)) evaluate_all(p, unif_x(n, d))
  }
})

# ---- 2. fits: n from P + 1 to n_max, threads 1 and 2 -----------------------
sections$fits <- function() section("fits, methods and losses", {
  i <- 0L
  for (d in c(1L, 6L)) for (g in gates) for (e in experts) for (k in 1:4) {
    i <- i + 1L
    deg <- degree_of(i)
    truth <- rand_params(k, d, g, e, deg)
    P <- npar_of(k, d, g, e)
    sizes <- sizes_for(P, how_many = 5L)
    # two sizes per case, rotating so that every size is fitted somewhere:
    # always the smallest identifiable one for k = 1 and 4, else a boundary
    n_pick <- unique(c(if (k %in% c(1L, 4L)) P + 1L else sizes[(i %% length(sizes)) + 1L],
                       sizes[((i + 2L) %% length(sizes)) + 1L]))
    for (n in n_pick) {
      x <- unif_x(n, d, lim = 1)
      y <- moe_mean(truth, x) + stats::rnorm(n, sd = 0.05)
      fit <- fit_once(x, y, k, g, e, deg, threads = 1L + (i + n) %% 2L)
      use_fit(fit, truth, x)
    }
    if (has_weights) {
      # weights with zeros (as nls has them) and an offset, at the largest size
      n <- max(sizes)
      x <- unif_x(n, d, lim = 1)
      y <- moe_mean(truth, x) + stats::rnorm(n, sd = 0.05)
      w <- stats::runif(n) * (stats::runif(n) > 0.2)
      off <- stats::rnorm(n, sd = 0.1)
      fit <- fit_once(x, y, k, g, e, deg, threads = 1L + i %% 2L, weights = w, offset = off)
      use_fit(fit, truth, x, offset = off)
    }
  }
})

# ---- 3. extreme parameters: steep gates, huge intercepts --------------------
sections$extreme <- function() section("extreme parameters", {
  for (d in c(1L, 6L)) for (g in gates) for (e in experts) {
    k <- 3L
    deg <- if (e == "polynomial") 3L else NULL
    for (slope in c(1e3, -1e3)) for (b0 in c(800, -800)) {
      p <- rand_params(k, d, g, e, 3L, slope = abs(slope), b0 = b0)
      p$beta1[] <- slope * sign(p$beta1)
      if (g == "softmax") p$beta1[k, ] <- 0
      p$beta0[seq_len(k - (g == "softmax"))] <- b0 * c(1, -1, 1)[seq_len(k - (g == "softmax"))]
      x <- unif_x(300L, d, lim = 1)
      evaluate_all(p, x)
      y <- stats::rnorm(300L)
      # a local search started from the extreme point
      fit <- hit(moe_fit(x, y, k, gating = g, expert = e, degree = deg, start = p,
                         nstart = 0L, control = moe_control(maxit = 5L, threads = 2L)))
      use_fit(fit, p, x)
    }
  }
})

# ---- 4. inputs and responses of huge and tiny magnitude ---------------------
sections$magnitudes <- function() section("huge and tiny inputs", {
  i <- 0L
  for (d in c(1L, 6L)) for (g in gates) for (e in experts) {
    i <- i + 1L
    k <- 2L
    deg <- degree_of(i)
    p <- rand_params(k, d, g, e, deg)
    base <- unif_x(400L, d, lim = 1)
    y0 <- moe_mean(p, base) + stats::rnorm(400L, sd = 0.05)
    for (s in c(1e-300, 1e300, 1e-310)) {
      evaluate_all(p, base * s)
      fit <- fit_once(base * s, y0, k, g, e, deg, threads = 1L + i %% 2L, maxit = 5L)
      use_fit(fit, p, base * s)
    }
    # responses of extreme size, and inputs mixing both ends in one column
    fit_once(base, y0 * 1e300, k, g, e, deg, threads = 2L, maxit = 5L)
    fit_once(base, y0 * 1e-300, k, g, e, deg, threads = 1L, maxit = 5L)
    mixed <- base * rep(c(1e-300, 1e300), length.out = length(base))
    evaluate_all(p, mixed)
    fit_once(mixed, y0, k, g, e, deg, threads = 2L, maxit = 5L)
    fit_once(base + 1e15, y0, k, g, e, deg, threads = 1L, maxit = 5L)
  }
})

# ---- 5. boxes: numbers, lists, active bounds, degenerate boxes --------------
sections$bounds <- function() section("bounds", {
  i <- 0L
  for (d in c(1L, 6L)) for (g in gates) for (e in experts) {
    i <- i + 1L
    k <- 1L + i %% 3L + 1L
    deg <- degree_of(i)
    truth <- rand_params(k, d, g, e, deg, slope = 4)
    P <- npar_of(k, d, g, e)
    n <- c(P + 1L, 400L, 1500L)[i %% 3L + 1L]
    x <- unif_x(n, d, lim = 1)
    y <- moe_mean(truth, x) + stats::rnorm(n, sd = 0.05)
    th <- 1L + i %% 2L
    fit_once(x, y, k, g, e, deg, th, lower = -1, upper = 1)
    fit_once(x, y, k, g, e, deg, th, lower = 0, upper = 0.5)
    fit_once(x, y, k, g, e, deg, th, upper = list(beta1 = 0.5))
    fit_once(x, y, k, g, e, deg, th,
             lower = list(beta0 = -2, beta1 = matrix(-1, k, d), a = -3, b = -1),
             upper = list(beta0 = 2, beta1 = matrix(1, k, d), a = 3, b = 1))
    # a box that pins whole blocks (lower == upper)
    fit_once(x, y, k, g, e, deg, th, lower = list(b = 0, beta0 = 0), upper = list(b = 0, beta0 = 0))
    fit_once(x, y, k, g, e, deg, th, lower = 0, upper = 0)
    # the truth as a start, at the edge of a box it touches
    fit <- hit(moe_fit(x, y, k, gating = g, expert = e,
                       degree = if (e == "polynomial") deg else NULL,
                       start = truth, nstart = 1L, control = moe_control(maxit = 8L, threads = th),
                       lower = list(beta1 = min(truth$beta1)), upper = list(beta1 = max(truth$beta1))))
    use_fit(fit, truth, x)
    # malformed boxes: R errors
    fit_once(x, y, k, g, e, deg, th, lower = 1, upper = -1)
    fit_once(x, y, k, g, e, deg, th, lower = list(beta1 = matrix(0, k + 1L, d)))
    fit_once(x, y, k, g, e, deg, th, lower = NaN)
  }
})

# ---- 6. the smallest samples, more threads than rows ------------------------
sections$smallest <- function() section("smallest samples", {
  for (d in c(1L, 6L)) for (g in gates) for (e in experts) for (k in 1:4) {
    P <- npar_of(k, d, g, e)
    for (n in c(P - 1L, P, P + 1L)) {
      if (n < 1L) next
      x <- unif_x(n, d, lim = 1)
      y <- stats::rnorm(n)
      fit_once(x, y, k, g, e, 2L, threads = 2L, maxit = 4L, nstart = 2L)
    }
  }
})

# ---- 7. the .Call adapters given what R would never pass --------------------
# Every adapter re-checks what it is given ("an adapter never trusts that R
# validated"): each family in its own section, so that one report does not
# hide the others. Zero-column inputs have many rows, so that a read past
# them leaves R's page of small vectors, where ASan can see it.
adapter_case <- function() {
  p <- rand_params(2L, 2L, "sigmoid", "relu")
  list(spec = params_spec(p), theta = unname(params_theta(p)), x = unif_x(300L, 2L),
       y = stats::rnorm(300L))
}

sections$adapters_model <- function() section("model adapters, malformed", {
  if (!is.null(params_spec) && !is.null(params_theta)) {
    a <- adapter_case()
    spec <- a$spec; theta <- a$theta; x <- a$x; y <- a$y
    me <- entry("C_model_eval")
    bad_spec <- list(spec[1:4], as.double(spec), replace(spec, 1, 0L), replace(spec, 1, -3L),
                     replace(spec, 2, 0L), replace(spec, 2, 3L), replace(spec, 3, 0L),
                     replace(spec, 3, 4L), replace(spec, 4, 0L), replace(spec, 4, 8L),
                     replace(spec, c(4, 5), c(6L, 0L)), replace(spec, c(4, 5), c(6L, NA)),
                     replace(spec, 1, NA), replace(spec, 1, .Machine$integer.max),
                     replace(spec, 1:2, c(100000L, 100000L)))
    for (s in bad_spec) hit(call_c(me, s, theta, x, FALSE, 1L))
    for (th in list(theta[-1], c(theta, 1), as.integer(theta), NULL, replace(theta, 1, NaN),
                    replace(theta, 2, Inf), replace(theta, 3, -Inf)))
      hit(call_c(me, spec, th, x, TRUE, 2L))
    for (xx in list(as.vector(x), x[, 1, drop = FALSE], x[0, , drop = FALSE], x[1, , drop = FALSE],
                    matrix(as.integer(x), nrow(x)), matrix(NA_real_, 5, 2), matrix(NaN, 5, 2)))
      hit(call_c(me, spec, theta, xx, TRUE, 1L))
    for (nt in list(NA_integer_, -5L, 0L, 1e6, 2L, "2", NULL)) hit(call_c(me, spec, theta, x, NA, nt))
    for (yy in list(y[-1], as.integer(y), NULL, c(y, 1), replace(y, 1, NaN)))
      for (f in c("C_model_crossprod", "C_model_sse"))
        hit(call_c(entry(f), spec, theta, x, yy, 2L))
    hit(call_c(entry("C_model_jacobian"), spec, theta, x[0, , drop = FALSE], 2L))
    hit(call_c(entry("C_model_crossprod"), spec, theta, x[0, , drop = FALSE], numeric(), 2L))
  }
  # a hand-made object of the right class is checked in R before any .Call
  fake <- structure(list(beta0 = 1:3, beta1 = 1, a = NULL, b = 2, gating = "sigmoid",
                         expert = "relu", degree = NULL, k = 3L, d = 9L), class = "moe_params")
  hit(moe_mean(fake, 1:3))
  hit(moe_jacobian(fake, matrix(1, 2, 9)))
  # the block size at the extremes of n and npar
  if (!is.null(block_rows))
    for (nb in list(c(1L, 1L), c(0L, 1L), c(NA, 5L), c(5000L, 0L), c(1L, .Machine$integer.max),
                    c(.Machine$integer.max, 1L)))
      hit(block_rows(nb[1], nb[2]))
})

sections$adapters_solver <- function() section("solver adapter, malformed", {
  if (!is.null(params_spec) && !is.null(params_theta) && !is.null(lsq_control_vector)) {
    a <- adapter_case()
    spec <- a$spec; theta <- a$theta; x <- a$x; y <- a$y
    lf <- entry("C_lsq_fit")
    # the control vector by name; bounds; starts outside them
    ctl <- lsq_control_vector(moe_control(maxit = 5L))
    ctls <- list(ctl, unname(ctl), rev(ctl), ctl[-1], replace(ctl, "maxit", 0),
                 replace(ctl, "maxit", -1), replace(ctl, "maxit", 2.5), replace(ctl, "maxit", 1e10),
                 replace(ctl, "threads", 1024), replace(ctl, "threads", 1025),
                 replace(ctl, "threads", NaN), replace(ctl, "lambda", 0), replace(ctl, "trace", 2),
                 replace(ctl, "ftol", Inf), as.integer(ctl))
    # geodesic acceleration and the flat-valley rule, good and bad values
    if ("accel" %in% names(ctl))
      ctls <- c(ctls, list(replace(ctl, "accel", 1), replace(ctl, "accel", 2),
                           replace(ctl, "accel", NaN), replace(ctl, "valley_m", 0),
                           replace(ctl, "valley_m", 1e10), replace(ctl, "valley_tol", -1),
                           replace(ctl, "valley_tol", Inf), replace(ctl, "valley_tol", NaN),
                           replace(replace(ctl, "valley_tol", 1e6), "valley_m", 1),
                           replace(replace(ctl, "accel", 1), "valley_tol", 0.1)))
    for (cc in ctls) hit(call_c(lf, spec, theta, x, y, cc, NULL, NULL))
    if ("accel" %in% names(ctl)) {
      acc <- replace(lsq_control_vector(moe_control(maxit = 30L)), "accel", 1)
      P <- length(theta)
      for (bd in list(list(NULL, NULL), list(rep(-1, P), rep(1, P)), list(theta, theta)))
        hit(call_c(lf, spec, theta, x, y, acc, bd[[1]], bd[[2]], sqrt(stats::runif(nrow(x)))))
    }
    # the trust-region steps: good and bad flags, with acceleration, with
    # bounds (one-sided, wide, the start itself), weights, extreme data and starts,
    # n at and below P
    if ("trust" %in% names(ctl)) {
      tr <- replace(lsq_control_vector(moe_control(maxit = 40L)), "trust", 1)
      P <- length(theta)
      for (cc in list(tr, replace(tr, "trust", 2), replace(tr, "trust", NaN),
                      replace(tr, "accel", 1), replace(tr, "maxit", 0), replace(tr, "ftol", 0),
                      replace(replace(tr, "xtol", 0), "gtol", 0), replace(tr, "valley_tol", 1),
                      replace(tr, "varpro", 1), replace(tr, "trace", 1)))
        hit(call_c(lf, spec, theta, x, y, cc, NULL, NULL))
      for (bd in list(list(rep(-1, P), NULL), list(NULL, rep(1, P)), list(rep(-Inf, P), rep(Inf, P)),
                      list(theta, theta), list(theta - 0.01, theta + 0.01)))
        hit(call_c(lf, spec, theta, x, y, tr, bd[[1]], bd[[2]]))
      n <- nrow(x)
      for (sw in list(sqrt(stats::runif(n)), rep(0, n), replace(rep(1, n), 1:(n - 1L), 0)))
        hit(call_c(lf, spec, theta, x, y, tr, NULL, NULL, sw))
      for (th in list(theta * 0, theta * 1e6, replace(theta, 1, 1e308), replace(theta, 1, NaN)))
        hit(call_c(lf, spec, th, x, y, tr, NULL, NULL))
      for (yy in list(y * 1e200, y * 1e-200, y * 0, replace(y, 1, Inf)))
        hit(call_c(lf, spec, theta, x, yy, tr, NULL, NULL))
      for (m in c(1L, P - 1L, P))
        hit(call_c(lf, spec, theta, x[seq_len(m), , drop = FALSE], y[seq_len(m)], tr, NULL, NULL))
    }
    P <- length(theta)
    for (bd in list(list(rep(-Inf, P), rep(Inf, P)), list(rep(-1, P), rep(1, P)),
                    list(rep(0, P), rep(0, P)), list(rep(-1, P + 1L), NULL),
                    list(NULL, rep(1, P - 1L)), list(replace(rep(-1, P), 1, NaN), NULL),
                    list(theta, theta), list(theta + 1, NULL), list(NULL, theta - 1),
                    list(as.integer(rep(-1, P)), NULL)))
      hit(call_c(lf, spec, theta, x, y, ctl, bd[[1]], bd[[2]]))
    for (n in c(1L, P - 1L, P))
      hit(call_c(lf, spec, theta, x[seq_len(n), , drop = FALSE], y[seq_len(n)], ctl, NULL, NULL))
    # square roots of observation weights (the 8th argument, where the adapter has one)
    n <- nrow(x)
    for (sw in list(sqrt(stats::runif(n)), rep(0, n), replace(rep(1, n), 1:(n - 1L), 0),
                    stats::runif(n - 1L), c(stats::runif(n), 1), replace(rep(1, n), 7, -1),
                    replace(rep(1, n), 3, NaN), replace(rep(1, n), 3, Inf), rep(1L, n),
                    rep(1e300, n), rep(1e-300, n)))
      hit(call_c(lf, spec, theta, x, y, ctl, NULL, NULL, sw))
  }
})

sections$adapters_new <- function() section("acceleration pass and column spreads", {
  if (!is.null(entry("C_model_dir2")) && !is.null(params_spec)) {
    a <- adapter_case()
    spec <- a$spec; theta <- a$theta; x <- a$x
    P <- length(theta); n <- nrow(x)
    dir2 <- entry("C_model_dir2")
    for (v in list(stats::rnorm(P), rep(0, P), rep(1e300, P), stats::rnorm(P - 1L), NULL,
                   replace(stats::rnorm(P), 2, NaN), as.integer(rep(1, P))))
      for (h in list(0.1, 0, -1, NaN, Inf, 1e-300, "a"))
        for (sw in list(NULL, sqrt(stats::runif(n)), stats::runif(n + 1L)))
          for (th in 1:2) hit(call_c(dir2, spec, theta, x, v, h, sw, th))
    hit(call_c(dir2, spec, theta, x[0, , drop = FALSE], stats::rnorm(P), 0.1, NULL, 1L))
  }
  cs <- entry("C_col_spread")
  if (!is.null(cs)) {
    for (x in list(matrix(stats::rnorm(60), 20), matrix(numeric(0), 0, 3), matrix(1, 1, 1),
                   matrix(c(NaN, 1, Inf, -Inf), 2), 1:6, stats::rnorm(7), matrix(1e308, 5, 2),
                   matrix(1e-320, 4, 2), list(1, 2), NULL))
      for (mu in list(0, c(0, 0), c(0, 0, 0), NaN, NULL, "a"))
        hit(call_c(cs, x, mu))
  }
})

sections$adapters_kernels <- function() section("gate and expert adapters, malformed", {
  ge <- entry("C_gate_eval")
  for (gt in list(1L, 2L, 3L, 0L, 4L, NA_integer_, "1"))
    for (z in list(matrix(stats::rnorm(40), 10, 4), matrix(0, 0, 3), matrix(0, 1000, 0),
                   matrix(c(800, -800, 1e308, -1e308, NaN, Inf), 2, 3), stats::rnorm(5)))
      hit(call_c(ge, gt, z))
  ee <- entry("C_expert_eval")
  for (ex in c(1:7, 0L, 8L, NA))
    for (dg in list(0L, 1L, 3L, 1000000L, -2L, NA_integer_))
      for (tt in list(stats::rnorm(33), numeric(), c(1e300, -1e300, 1e-310, NaN, Inf, -Inf),
                      matrix(stats::rnorm(6), 2, 3), 1:3))
        for (dv in list(TRUE, FALSE, NA)) hit(call_c(ee, ex, dg, tt, dv))
  fn <- entry("C_first_nonfinite")
  for (v in list(numeric(), c(1, NaN), 1:3, c(Inf, 1), NULL)) hit(call_c(fn, v))
})

sections$adapters_losses <- function() section("loss adapters, malformed", {
  vo <- entry("C_losses_voronoi")
  w <- c(0.3, 0.7); b0 <- c(0, 1); loc <- matrix(stats::rnorm(6), 2, 3)
  hit(call_c(vo, w, b0, loc, w, b0, loc, 1L, TRUE, c(1, 2)))
  hit(call_c(vo, w, b0, loc, c(w, 0.1), c(b0, 2), rbind(loc, 1), 2L, FALSE, c(1, 2)))
  for (dd in list(0L, 3L, 4L, -1L, NA_integer_)) hit(call_c(vo, w, b0, loc, w, b0, loc, dd, TRUE, c(1, 2)))
  hit(call_c(vo, w, b0, loc[, 1:2], w, b0, loc, 1L, TRUE, c(1, 2)))
  hit(call_c(vo, w, b0, as.vector(loc)[1:5], w, b0, loc, 1L, TRUE, c(1, 2)))
  hit(call_c(vo, numeric(), numeric(), numeric(), w, b0, loc, 1L, TRUE, c(1, 2)))
  hit(call_c(vo, w, b0, loc, w, b0, loc, 1L, NA, 1))
  hit(call_c(vo, w, b0[1], loc, w, b0, loc, 1L, TRUE, c(1, 2)))
  hit(call_c(vo, c(Inf, NaN), b0, loc, w, b0, loc, 1L, TRUE, c(1, 2)))
  hit(call_c(vo, w, b0, matrix(0, 2, 0), w, b0, matrix(0, 2, 0), 0L, TRUE, c(1, 2)))
  lx <- entry("C_losses_expert")
  xx <- unif_x(50L, 2L)
  A <- matrix(stats::rnorm(4), 2, 2); bb <- stats::rnorm(2)
  for (ex in c(1:7, 0L, 8L)) hit(call_c(lx, ex, 2L, xx, A, bb, A, bb))
  hit(call_c(lx, 1L, 0L, xx[0, , drop = FALSE], A, bb, A, bb))
  hit(call_c(lx, 1L, 0L, matrix(0, 1000, 0), numeric(), bb, numeric(), bb))
  hit(call_c(lx, 1L, 0L, xx, A[, 1], bb, A, bb))
  hit(call_c(lx, 1L, 0L, xx, A, bb, A, numeric()))
  hit(call_c(lx, 1L, 0L, as.vector(xx), A, bb, A, bb))
  hit(call_c(lx, 1L, 0L, structure(xx, dim = c(25L, 2L)), A, bb, A, bb))
  hit(call_c(lx, 1L, 0L, matrix(as.integer(xx), 50), A, bb, A, bb))
})

# A study's losses in one call (C_losses_study): gates whose truths change
# from one to the next (kt, parameters, expert), failed fits, evaluation
# samples from 0 rows to more than the workspace kept between calls, and
# malformed fits and targets, so that the kept workspace and the true
# experts' outputs reused between gates are read only where they were written.
sections$adapters_losses_study <- function() section("study losses, one call for all gates", {
  ls <- entry("C_losses_study")
  tgt <- internal("study_loss_target")
  spec_of <- internal("params_spec")
  theta_of <- internal("params_theta")
  fit_of <- function(p) list(spec_of(p), unname(theta_of(p)))
  which3 <- list(c(TRUE, TRUE, TRUE), c(FALSE, TRUE, FALSE), c(TRUE, FALSE, TRUE), c(FALSE, FALSE, FALSE))
  for (n in c(0L, 1L, 7L, 300L, 2600L, 400000L)) for (d in 1:2) {
    x <- unif_x(n, d)
    for (e in c("relu", "linear", "gelu", "polynomial", "constant")) {
      g <- if (n %% 2L) "softmax" else "sigmoid"
      truths <- list(rand_params(2L, d, g, e), rand_params(2L, d, g, e), rand_params(3L, d, g, e), rand_params(1L, d, g, e))
      f_true <- moe_mean(truths[[1L]], x)
      fits <- lapply(c(3L, 1L, 4L, 2L), function(k) fit_of(rand_params(k, d, g, e)))
      fits[[2L]] <- NULL   # a failed fit keeps its place as NULL
      fits <- append(fits, list(NULL), 1L)
      targets <- lapply(truths, function(tr) tgt(tr, tr, g))
      for (w in if (n > 10000L) which3[1L] else which3) hit(call_c(ls, fits, targets, x, f_true, w))
      if (n > 10000L) next
      # truths of another expert with the same numbers, then NaN and huge parameters
      other <- truths[[1L]]; other$expert <- if (e == "gelu") "relu" else "gelu"; other$degree <- NULL
      hit(call_c(ls, list(fits[[1L]], fits[[1L]]), list(targets[[1L]], tgt(other, other, g)), x, f_true,
                 c(TRUE, TRUE, TRUE)))
      bad <- fits[[1L]]; bad[[2L]][1L] <- NaN
      hit(call_c(ls, list(bad, fits[[1L]]), targets[1:2], x, f_true, c(TRUE, TRUE, TRUE)))
      bad[[2L]][1L] <- 1e308
      hit(call_c(ls, list(bad, fits[[1L]]), targets[1:2], x, f_true, c(TRUE, TRUE, TRUE)))
    }
  }
  # malformed: lists of other lengths, targets cut short, x and f_true of
  # other shapes, which of another length
  x <- unif_x(50L, 1L)
  tr <- rand_params(2L, 1L, "sigmoid", "relu")
  ok_fit <- fit_of(rand_params(3L, 1L, "sigmoid", "relu"))
  ok_tg <- tgt(tr, tr, "sigmoid")
  f_true <- moe_mean(tr, x)
  hit(call_c(ls, list(ok_fit), list(), x, f_true, c(TRUE, TRUE, TRUE)))
  hit(call_c(ls, list(ok_fit), list(ok_tg), x, f_true[-1L], c(TRUE, TRUE, TRUE)))
  hit(call_c(ls, list(ok_fit), list(ok_tg), as.vector(x), f_true, c(TRUE, TRUE, TRUE)))
  hit(call_c(ls, list(ok_fit), list(ok_tg), unif_x(50L, 2L), f_true, c(TRUE, TRUE, TRUE)))
  hit(call_c(ls, list(ok_fit), list(ok_tg), x, f_true, c(TRUE, TRUE)))
  hit(call_c(ls, list(ok_fit[1L]), list(ok_tg), x, f_true, c(TRUE, TRUE, TRUE)))
  hit(call_c(ls, list(list(ok_fit[[1L]], ok_fit[[2L]][-1L])), list(ok_tg), x, f_true, c(TRUE, TRUE, TRUE)))
  for (i in 1:2) for (j in seq_along(ok_tg[[i]])) {
    cut <- ok_tg
    cut[[i]][[j]] <- cut[[i]][[j]][-1L]
    hit(call_c(ls, list(ok_fit), list(cut), x, f_true, c(TRUE, TRUE, TRUE)))
    cut[[i]][[j]] <- NULL
    hit(call_c(ls, list(ok_fit), list(cut), x, f_true, c(TRUE, TRUE, TRUE)))
  }
  hit(call_c(ls, list(ok_fit), list(list(NULL, ok_tg[[2L]])), x, f_true, c(TRUE, TRUE, TRUE)))
  hit(call_c(ls, list(ok_fit), list(list(ok_tg[[1L]], NULL)), x, f_true, c(TRUE, TRUE, TRUE)))
  hit(call_c(ls, NULL, NULL, x, f_true, c(TRUE, TRUE, TRUE)))
})

# ---- 8. a tiny convergence study --------------------------------------------
sections$study <- function() section("convergence_study", {
  truth <- moe_params(beta0 = c(0.5, 0), beta1 = c(3, 0), a = c(1, -1), b = c(0.2, 0.1),
                      gating = "softmax", expert = "relu")
  st <- hit(convergence_study(truth, n = c(200, 300), reps = 2, k = 3, sd = 0.1, seed = 1,
                              progress = FALSE))
  if (inherits(st, "moe_study")) {
    hit(summary(st))
    hit(as.data.frame(st))
    hit(rate_table(st, B = 20))
  }
})

if ("--list" %in% args) {
  cat(names(sections), sep = "\n")
  quit(status = 0)
}
unknown <- setdiff(only, names(sections))
if (length(unknown)) stop("unknown section ", unknown[1], "; known: ", paste(names(sections), collapse = ", "))
for (name in if (length(only)) only else names(sections)) sections[[name]]()
cat(sprintf("stress: %d calls (%d R errors) in %.1f s\n", calls, r_errors,
            proc.time()[["elapsed"]] - t_start))
