# The adversarial harness (tests/testthat/test-harness.R): a table of calls to
# every exported function and method, each with the outcome it must have, an
# error whose message names the offending argument or a valid result. This
# file holds only functions, so that a child R process can source it and run
# the table where a crash or a hang cannot take the test run down with it.
#
# A row: `fun` and `arg`, the function and argument it exercises (the coverage
# test asks for a row for every argument of every export and method, so that a
# new argument joins the table); `call`, unevaluated, run in the fixture
# environment; `outcome`, "error" or "ok"; `expect`, for an error, the
# argument(s) the message must name in backticks (NA: any error will do, for
# objects forged by hand, which must fail cleanly rather than crash); `check`,
# for an ok row, function(result, fixture) that must return TRUE.

harness_row <- function(fun, arg, call, outcome, expect = NULL, check = NULL, label = NULL) {
  if (is.null(label)) {
    label <- paste(deparse(call, width.cutoff = 500L), collapse = " ")
    # the start names the function, the end holds what the row changed
    n <- nchar(label)
    if (n > 110L) label <- paste0(substr(label, 1L, 40L), " ... ", substr(label, n - 64L, n))
  }
  list(fun = fun, arg = arg, call = call, outcome = outcome, expect = expect, check = check,
       label = sprintf("%s [%s]: %s", fun, arg, label))
}

# The bad values the generated rows draw from, by name.
harness_values <- list(
  chr = "a", na = NA, nan = NaN, inf = Inf, ninf = -Inf, neg = -1, zero = 0, one = 1,
  huge = 1e10, frac = 2.5, null = NULL, lst = list(1), vec2 = c(1, 2), mat = matrix(1, 2, 2),
  lgl = TRUE, lgl2 = c(TRUE, FALSE), chr2 = c("a", "b"), fn = function(...) 1,
  empty = numeric(0), df = data.frame(a = 1)
)

# Kinds of bad values: a whole number, a number, a flag, a choice.
harness_kinds <- list(
  whole = c("chr", "na", "nan", "inf", "neg", "zero", "huge", "frac", "null", "lst", "vec2",
            "mat", "lgl"),
  number = c("chr", "na", "nan", "inf", "ninf", "null", "lst", "vec2", "mat", "lgl"),
  flag = c("chr", "na", "one", "null", "lst", "lgl2"),
  choice = c("chr", "na", "one", "null", "lst", "chr2")
)

# ---- the fixture ---------------------------------------------------------------

# Where the calls are evaluated: the attached package when there is one (the
# calls use only exports), else its namespace.
harness_parent <- function() {
  if ("package:sigmoe" %in% search()) as.environment("package:sigmoe") else asNamespace("sigmoe")
}

# Small data, fits and studies the calls refer to; a few seconds in all.
harness_fixture <- function() {
  env <- new.env(parent = harness_parent())
  env$tmp <- tempfile("sigmoe-harness-")
  dir.create(env$tmp)
  old <- options(sigmoe.all_cores = FALSE)
  on.exit(options(old), add = TRUE)
  seed <- if (exists(".Random.seed", globalenv())) get(".Random.seed", globalenv())
  on.exit(if (is.null(seed)) rm(".Random.seed", envir = globalenv())
          else assign(".Random.seed", seed, envir = globalenv()), add = TRUE)
  quiet <- function(expr) suppressMessages(suppressWarnings(expr, classes = "sigmoe_fit_warning"))
  env$quiet <- quiet
  evalq({
    truth <- moe_params(beta0 = c(0, 0), beta1 = c(6, -6), a = c(1, -1), b = c(0.2, 0.2),
                        expert = "relu")
    truth3 <- moe_params(beta0 = c(0, 0, 0), beta1 = c(6, -6, 1), a = c(1, -1, 0.5),
                         b = c(0.2, 0.2, 0), expert = "relu")
    truth_soft <- paper_truth()
    truth_lin <- moe_params(beta0 = c(0, 0), beta1 = c(6, -6), a = c(1, -1), b = c(0.2, 0.2),
                            expert = "linear")
    truth2d <- moe_params(beta0 = c(0, 0), beta1 = rbind(c(6, 1), c(-6, 0)),
                          a = rbind(c(1, 0), c(-1, 1)), b = c(0.2, 0.2), expert = "relu")
    set.seed(1)
    dat <- moe_simulate(truth, n = 200, sd = 0.05)
    x <- dat$x1
    y <- dat$y
    dat_na <- dat
    dat_na$x1[3] <- NA
    dat2 <- moe_simulate(truth2d, n = 200, sd = 0.05)
    other <- moe_simulate(truth, n = 200, sd = 0.05)
    newx <- c(-0.5, 0, 0.5)
    newdf <- data.frame(x1 = newx)
    fit <- quiet(moe_fit(x, y, 2, nstart = 2))
    fit1 <- quiet(moe_fit(x, y, 1, nstart = 1))
    ffit <- quiet(moe(y ~ x1, data = dat, k = 2, nstart = 2))
    ofit <- quiet(moe_fit(x, y, 2, nstart = 1, offset = rep(0.1, 200)))
    fit2d <- quiet(moe(y ~ x1 + x2, data = dat2, k = 2, nstart = 1))
    fit_other <- quiet(moe_fit(other$x1, other$y, 2, nstart = 1))
    sel <- quiet(moe_select(y ~ x1, data = dat, k = 1:2, nstart = 1))
    study <- quiet(convergence_study(truth, n = c(100, 150), reps = 2, k = 3, sd = 0.1, seed = 1,
                                     progress = FALSE))
    pst_same <- quiet(paper_study("same_data", expert = "relu", n = c(40, 60), reps = 2, eval_n = 200,
                                  progress = FALSE))
    pst_zero <- quiet(paper_study("zero_slope", expert = "relu", n = c(40, 60), reps = 2, eval_n = 200,
                                  progress = FALSE))
    pstudies <- list(zero_slope = pst_zero, same_data = pst_same)
    tb1 <- paper_table1(experts = "relu", studies = pstudies, B = 10)
    rt <- rate_table(study, B = 10)
    ss <- sample_size(study, eps = 0.01)
    vl <- voronoi_loss(fit, truth)
    sfit <- summary(fit)
    afile <- file.path(tmp, "a-file")
    writeLines("not a directory", afile)
    # a study task fails when it draws its data, so a call that should have
    # stopped on a bad argument before the study ran fails at once, not after
    # minutes of fits; the evaluation sample (eval_n = 10000 rows) is drawn
    trap <- function(n, d) {
      if (n != 10000L) stop("harness trap: the study started before the bad argument was caught")
      matrix(stats::runif(n * d, -1, 1), n, d)
    }
    # objects of the right class, edited by hand
    truth_c <- moe_params(beta0 = c(0, 0), beta1 = c(6, -6), a = c(1, -1), b = c(0.2, 0.2),
                          expert = "relu", c = c(1, -1))
    forged_c <- truth; forged_c$c <- c(1, NA)
    forged_k <- truth; forged_k$k <- 5L
    forged_d <- truth; forged_d$d <- 3L
    forged_expert <- truth; forged_expert$expert <- "bogus"
    forged_gating <- truth; forged_gating$gating <- 7
    forged_beta1 <- truth; forged_beta1$beta1 <- "a"
    forged_degree <- paper_truth(expert = "polynomial"); forged_degree$degree <- -3L
    forged_fit_theta <- fit; forged_fit_theta$theta <- fit$theta[1:3]
    forged_fit_jtj <- fit; forged_fit_jtj$jtj <- diag(2)
    forged_fit_k <- fit; forged_fit_k$coefficients$k <- 9L
    forged_study <- structure(list(), class = "moe_study")
  }, env)
  env
}

# The session a run needs, undone by the function returned: the working
# directory in the fixture's temporary directory (calls that write files
# write there), no multisession plan for the paper's studies, a null
# graphics device, and the random generator as it was.
harness_session <- function(env) {
  old_wd <- setwd(env$tmp)
  old_opt <- options(sigmoe.all_cores = FALSE)
  seed <- if (exists(".Random.seed", globalenv())) get(".Random.seed", globalenv())
  grDevices::pdf(NULL)
  dev <- grDevices::dev.cur()
  function() {
    if (dev %in% grDevices::dev.list()) grDevices::dev.off(dev)
    options(old_opt)
    setwd(old_wd)
    if (is.null(seed)) {
      if (exists(".Random.seed", globalenv())) rm(".Random.seed", envir = globalenv())
    } else {
      assign(".Random.seed", seed, envir = globalenv())
    }
  }
}

# ---- evaluating a row ------------------------------------------------------------

# Whether an error message names one of `expect` in backticks: `k`, or a part
# of it such as `control$maxit`, `start[[2]]` or `lower$beta1`.
harness_names_arg <- function(message, expect) {
  if (length(expect) == 1L && is.na(expect)) return(TRUE)
  esc <- gsub("([][{}()+*^$|\\\\?.])", "\\\\\\1", expect)
  any(vapply(esc, function(a) grepl(paste0("`", a, "(`|\\$|\\[)"), message), logical(1)))
}

# One row, under a time budget (an R-level hang or a computation that should
# never have started becomes a failure, not a stalled test run).
harness_eval <- function(row, env, budget = 10) {
  warnings <- character(0)
  t0 <- proc.time()[["elapsed"]]
  setTimeLimit(elapsed = budget, transient = TRUE)
  res <- tryCatch({
    utils::capture.output(value <- suppressMessages(withCallingHandlers(
      eval(row$call, env),
      warning = function(w) {
        warnings <<- c(warnings, conditionMessage(w))
        invokeRestart("muffleWarning")
      })))
    list(status = "ok", value = value)
  }, error = function(e) list(status = "error", message = conditionMessage(e)))
  setTimeLimit(elapsed = Inf)
  seconds <- proc.time()[["elapsed"]] - t0
  if (res$status == "error" && grepl("reached elapsed time limit", res$message, fixed = TRUE))
    res$status <- "timeout"
  message <- if (is.null(res$message)) NA_character_ else res$message
  kind <- if (res$status == "timeout") "hang"
    else if (row$outcome == "error") {
      if (res$status == "ok") "silent"
      # the fixture's trap: the work the bad argument should have prevented began
      else if (grepl("harness trap", message, fixed = TRUE)) "late_error"
      else if (harness_names_arg(message, row$expect)) "clean_error"
      else "unnamed_error"
    } else {
      if (res$status == "error") "unexpected_error"
      else {
        ok <- if (is.null(row$check)) TRUE
              else tryCatch(isTRUE(row$check(res$value, env)), error = function(e) {
                message <<- paste("the check failed with an error:", conditionMessage(e))
                FALSE
              })
        if (ok) "ok_valid" else "wrong_answer"
      }
    }
  if (kind == "wrong_answer" && is.na(message)) message <- "the result fails the row's check"
  if (kind == "silent") message <- "no error: the bad value was accepted"
  list(kind = kind, pass = kind %in% c("clean_error", "ok_valid"), message = message,
       seconds = seconds, warnings = length(warnings),
       warning = if (length(warnings)) warnings[1L] else NA_character_)
}

harness_result_frame <- function(rows, results) {
  data.frame(
    row = seq_along(rows),
    fun = vapply(rows, `[[`, "", "fun"),
    arg = vapply(rows, `[[`, "", "arg"),
    outcome = vapply(rows, `[[`, "", "outcome"),
    expect = vapply(rows, function(r) if (is.null(r$expect)) NA_character_
                    else paste(r$expect, collapse = "|"), ""),
    label = vapply(rows, `[[`, "", "label"),
    kind = vapply(results, `[[`, "", "kind"),
    pass = vapply(results, `[[`, NA, "pass"),
    message = vapply(results, function(r) as.character(r$message), ""),
    seconds = vapply(results, function(r) as.numeric(r$seconds), 0),
    stringsAsFactors = FALSE)
}

# The whole table in this process.
harness_run_here <- function(rows, env, budget = 10) {
  restore <- harness_session(env)
  on.exit(restore(), add = TRUE)
  results <- lapply(rows, harness_eval, env = env, budget = budget)
  harness_result_frame(rows, results)
}

# The whole table in child R processes: each row's result is saved as it
# finishes, so a child that dies (a crash) or is killed at `timeout` seconds
# (a hang in C) names the row it was running; a new child goes on from the
# next row. NULL when no child can load the package as installed here.
harness_run_child <- function(rows, helper, timeout = 120, max_restarts = 10L) {
  rscript <- file.path(R.home("bin"), if (.Platform$OS.type == "windows") "Rscript.exe" else "Rscript")
  pkg_path <- getNamespaceInfo(asNamespace("sigmoe"), "path")
  if (!file.exists(rscript) || !file.exists(file.path(pkg_path, "Meta", "package.rds")))
    return(NULL)
  work <- tempfile("sigmoe-harness-child-")
  dir.create(work)
  on.exit(unlink(work, recursive = TRUE), add = TRUE)
  libs <- unique(c(dirname(pkg_path), .libPaths()))
  script <- file.path(work, "run.R")
  writeLines(c(
    sprintf(".libPaths(%s)", paste(deparse(libs), collapse = "")),
    "suppressPackageStartupMessages(library(sigmoe))",
    sprintf("source(%s, local = TRUE)", deparse(normalizePath(helper))),
    sprintf("work <- %s", deparse(normalizePath(work))),
    "todo <- readRDS(file.path(work, 'todo.rds'))",
    "env <- harness_fixture()",
    "rows <- harness_rows()",
    "restore <- harness_session(env)",
    "for (i in todo) {",
    "  cat(i, '\\n', file = file.path(work, 'started'), append = TRUE)",
    "  saveRDS(harness_eval(rows[[i]], env), file.path(work, sprintf('row-%05d.rds', i)))",
    "}",
    "restore()",
    "unlink(env$tmp, recursive = TRUE)"
  ), script)
  results <- vector("list", length(rows))
  todo <- seq_along(rows)
  restarts <- 0L
  old_tests <- Sys.getenv("R_TESTS", unset = NA)
  Sys.unsetenv("R_TESTS")
  on.exit(if (!is.na(old_tests)) Sys.setenv(R_TESTS = old_tests), add = TRUE)
  while (length(todo)) {
    saveRDS(todo, file.path(work, "todo.rds"))
    unlink(file.path(work, "started"))
    status <- suppressWarnings(system2(rscript, c("--vanilla", shQuote(script)), stdout = FALSE,
                                       stderr = FALSE, timeout = timeout))
    for (i in todo) {
      f <- file.path(work, sprintf("row-%05d.rds", i))
      if (file.exists(f)) results[[i]] <- readRDS(f)
    }
    left <- todo[vapply(results[todo], is.null, NA)]
    if (!length(left)) break
    started <- if (file.exists(file.path(work, "started")))
      as.integer(readLines(file.path(work, "started"))) else integer(0)
    if (!(left[1L] %in% started) || restarts >= max_restarts) {
      # the child failed before it reached the rows (the fixture, or the
      # package would not load), or too many rows crashed: what is left is
      # not run
      for (i in left) results[[i]] <- list(kind = "not_run", pass = FALSE, seconds = NA_real_,
        message = sprintf("not run: the child R process exited with status %s before this row",
                          format(status)), warnings = 0L, warning = NA_character_)
      break
    }
    hung <- identical(as.integer(status), 124L)
    results[[left[1L]]] <- list(kind = if (hung) "hang" else "crash", pass = FALSE,
      seconds = NA_real_, warnings = 0L, warning = NA_character_,
      message = if (hung) sprintf("the child R process was still running after %d s", timeout)
                else sprintf("the child R process died (exit status %s)", format(status)))
    todo <- left[-1L]
    restarts <- restarts + 1L
  }
  harness_result_frame(rows, results)
}

# Counts for the closing note of the issue.
harness_counts <- function(res) {
  c(cases = nrow(res),
    clean_errors = sum(res$kind == "clean_error"),
    ok_valid = sum(res$kind == "ok_valid"),
    failures = sum(!res$pass),
    silent_wrong_answers = sum(res$kind %in% c("silent", "wrong_answer")),
    unnamed_errors = sum(res$kind %in% c("unnamed_error", "unexpected_error")),
    late_errors = sum(res$kind == "late_error"),
    hangs = sum(res$kind == "hang"),
    crashes = sum(res$kind == "crash"),
    not_run = sum(res$kind == "not_run"))
}

harness_report <- function(res, where, seconds, cpu = NA) {
  n <- harness_counts(res)
  lines <- c(sprintf("sigmoe harness (%s, %.1f s elapsed, %.1f s CPU here): %s", where, seconds, cpu,
                     paste(sprintf("%s %d", names(n), n), collapse = ", ")))
  bad <- res[!res$pass, , drop = FALSE]
  if (nrow(bad))
    lines <- c(lines, sprintf("  row %d %s -> %s: %s", bad$row, bad$label, bad$kind, bad$message))
  paste(lines, collapse = "\n")
}

# ---- coverage --------------------------------------------------------------------

# Every argument of every export, and every argument after the first of every
# S3 method the package registers (the first is the object dispatched on), as
# "function [argument]".
harness_targets <- function() {
  ns <- asNamespace("sigmoe")
  out <- character(0)
  for (f in sort(getNamespaceExports("sigmoe"))) {
    fn <- get(f, envir = ns)
    if (is.function(fn)) out <- c(out, sprintf("%s [%s]", f, names(formals(fn))))
  }
  s3 <- getNamespaceInfo(ns, "S3methods")
  for (i in seq_len(nrow(s3))) {
    m <- s3[i, 3L]
    fn <- get(m, envir = ns)
    a <- names(formals(fn))[-1L]
    if (length(a)) out <- c(out, sprintf("%s [%s]", m, a))
  }
  unique(out)
}

harness_uncovered <- function(rows) {
  have <- unique(vapply(rows, function(r) sprintf("%s [%s]", r$fun, r$arg), ""))
  setdiff(harness_targets(), have)
}

# ---- the table -------------------------------------------------------------------

harness_rows <- function() {
  V <- harness_values
  K <- harness_kinds
  rows <- list()
  add <- function(row) rows[[length(rows) + 1L]] <<- row
  # an error naming `expect`
  bad <- function(fun, arg, call, expect = arg, label = NULL)
    add(harness_row(fun, arg, call, "error", expect, NULL, label))
  # a valid result, with check(result, fixture) TRUE
  good <- function(fun, arg, call, check = NULL, label = NULL)
    add(harness_row(fun, arg, call, "ok", NULL, check, label))
  # one error row per named bad value, put in the call as argument `at`
  bads <- function(fun, arg, base, picks, expect = arg, at = arg) {
    for (p in picks) {
      cl <- base
      cl[at] <- list(V[[p]])
      add(harness_row(fun, arg, cl, "error", expect, NULL, sprintf("%s = <%s>", at, p)))
    }
  }
  # the call `.call` with arguments set or added, unevaluated (`.call`, so that
  # no argument name partially matches it)
  set <- function(.call, ...) {
    extra <- as.list(substitute(list(...)))[-1L]
    for (nm in names(extra)) .call[nm] <- list(extra[[nm]])
    .call
  }
  near <- function(a, b, tol = 1e-8) isTRUE(all.equal(unname(a), unname(b), tolerance = tol))
  # plain-R references for a one-input sigmoid-gated ReLU model
  ref_gates <- function(p, x) stats::plogis(outer(x, drop(p$beta1)) + rep(p$beta0, each = length(x)))
  ref_experts <- function(p, x) pmax(outer(x, drop(p$a)) + rep(p$b, each = length(x)), 0)
  ref_mean <- function(p, x) rowSums(ref_gates(p, x) * ref_experts(p, x))
  is_fit <- function(r, e) inherits(r, "moe_fit") && is.finite(r$sse)

  # ---- moe_params ----
  mp <- quote(moe_params(beta0 = c(0, 0), beta1 = c(6, -6), a = c(1, -1), b = c(0.2, 0.2)))
  good("moe_params", "beta0", mp, function(r, e) inherits(r, "moe_params") && r$k == 2L && r$d == 1L)
  bads("moe_params", "beta0", mp, c("chr", "na", "nan", "inf", "null", "lst", "mat", "lgl", "empty"))
  bad("moe_params", "beta0", set(mp, beta0 = c(0, NA)))
  bads("moe_params", "beta1", mp, c("chr", "na", "nan", "inf", "null", "lst", "lgl", "empty", "df"))
  bad("moe_params", "beta1", set(mp, beta1 = c(6, NaN)))
  bad("moe_params", "beta1", set(mp, beta1 = c(1, 2, 3)))
  bad("moe_params", "beta1", set(mp, beta1 = matrix(1, 3, 1)))
  good("moe_params", "beta1", quote(moe_params(beta0 = c(0, 0), beta1 = rbind(c(1, 2), c(3, 4)),
                                               a = rbind(c(1, 0), c(0, 1)), b = c(0, 0))),
       function(r, e) r$d == 2L)
  bads("moe_params", "a", mp, c("chr", "na", "nan", "null", "lst", "lgl", "empty", "mat"))
  bad("moe_params", "a", set(mp, a = c(1, Inf)))
  bad("moe_params", "a", set(mp, expert = "constant"))
  good("moe_params", "a",
       quote(moe_params(beta0 = c(0, 0), beta1 = c(6, -6), b = c(0.2, 0.2), expert = "constant")),
       function(r, e) all(r$a == 0))
  bads("moe_params", "b", mp, c("chr", "na", "nan", "inf", "null", "lst", "lgl", "empty", "mat"))
  bad("moe_params", "b", set(mp, b = c(0.2, NA)))
  bads("moe_params", "gating", mp, K$choice)
  good("moe_params", "gating", set(mp, beta0 = c(0.5, 0), beta1 = c(3, 0), gating = "softmax"),
       function(r, e) r$gating == "softmax")
  bad("moe_params", "gating", set(mp, beta0 = c(0.5, 1), beta1 = c(3, 0), gating = "softmax"),
      expect = "beta0[2]", label = "softmax reference expert not at 0")
  bads("moe_params", "expert", mp, K$choice)
  bad("moe_params", "degree", set(mp, expert = "polynomial"), label = "polynomial without degree")
  bads("moe_params", "degree", set(mp, expert = "polynomial", degree = 2), setdiff(K$whole, "null"))
  good("moe_params", "degree", set(mp, expert = "polynomial", degree = 3),
       function(r, e) identical(r$degree, 3L))
  good("moe_params", "degree", set(mp, degree = "ignored"),
       function(r, e) is.null(r$degree), label = "degree is documented as ignored by the relu expert")

  bads("moe_params", "c", set(mp, c = c(1, 1)),
       c("chr", "na", "nan", "inf", "lst", "lgl", "mat", "empty", "fn"))
  bad("moe_params", "c", set(mp, c = c(1, NA)))
  bad("moe_params", "c", set(mp, c = c(1, 2, 3)))
  bad("moe_params", "c", set(mp, c = c(1, 1), expert = "linear"),
      label = "output weights for the linear expert")
  good("moe_params", "c", bquote(moe_mean(.(set(mp, c = c(2, -1))), newx)),
       function(r, e) near(r, rowSums(ref_gates(e$truth, e$newx) * ref_experts(e$truth, e$newx) *
                                        rep(c(2, -1), each = 3))),
       label = "output weights multiply the experts")

  # ---- moe_mean, moe_jacobian, moe_gates, moe_experts ----
  for (f in c("moe_mean", "moe_jacobian", "moe_gates", "moe_experts")) {
    base <- as.call(list(as.name(f), quote(truth), quote(newx)))
    names(base) <- c("", "params", "x")
    bads(f, "params", base, c("chr", "null", "lst", "one"))
    bad(f, "params", as.call(list(as.name(f), quote(fit), quote(newx))),
        label = "a moe_fit as params")
    forged_params <- c("forged_k", "forged_d", "forged_expert", "forged_gating", "forged_beta1",
                       "forged_c")
    for (forged in forged_params) {
      xx <- if (forged == "forged_d") quote(cbind(newx, newx, newx)) else quote(newx)
      bad(f, "params", as.call(list(as.name(f), as.name(forged), xx)), expect = NA,
          label = sprintf("%s (hand-edited moe_params)", forged))
    }
    bad(f, "params", as.call(list(as.name(f), quote(forged_degree), quote(newx))), expect = NA,
        label = "forged_degree (hand-edited moe_params)")
    bads(f, "x", base, c("chr", "na", "nan", "inf", "null", "lst", "mat", "fn", "lgl"))
    bad(f, "x", as.call(list(as.name(f), quote(truth), quote(data.frame(x1 = "a")))),
        label = "a data frame with a character column")
    bad(f, "x", as.call(list(as.name(f), quote(truth), quote(c(0, NA)))))
  }
  good("moe_mean", "x", quote(moe_mean(truth, newx)),
       function(r, e) near(r, ref_mean(e$truth, e$newx)))
  good("moe_mean", "x", quote(moe_mean(truth, numeric(0))), function(r, e) length(r) == 0L)
  good("moe_mean", "x", quote(moe_mean(truth, 1e10)),
       function(r, e) near(r, ref_mean(e$truth, 1e10)))
  good("moe_gates", "x", quote(moe_gates(truth, newx)),
       function(r, e) near(r, ref_gates(e$truth, e$newx)))
  good("moe_gates", "x", quote(moe_gates(truth, numeric(0))),
       function(r, e) identical(dim(r), c(0L, 2L)))
  good("moe_experts", "x", quote(moe_experts(truth, newx)),
       function(r, e) near(r, ref_experts(e$truth, e$newx)))
  good("moe_jacobian", "x", quote(moe_jacobian(truth, newx)), function(r, e) {
    g <- ref_gates(e$truth, e$newx)
    h <- ref_experts(e$truth, e$newx)
    # d f / d beta0[1] = g1 (1 - g1) h1 and d f / d b[2] = g2 1{t2 > 0}
    near(r[, "beta0[1]"], g[, 1] * (1 - g[, 1]) * h[, 1]) && near(r[, "b[2]"], g[, 2] * (h[, 2] > 0))
  })
  good("moe_jacobian", "x", quote(moe_jacobian(truth, numeric(0))), function(r, e) nrow(r) == 0L)

  # ---- moe_simulate ----
  ms <- quote(moe_simulate(params = truth, n = 10, sd = 0.1))
  good("moe_simulate", "n", ms, function(r, e) is.data.frame(r) && nrow(r) == 10L)
  bads("moe_simulate", "params", ms, c("chr", "null", "lst", "one"))
  bad("moe_simulate", "params", quote(moe_simulate(fit, n = 10, sd = 0.1)),
      label = "a moe_fit as params")
  bads("moe_simulate", "n", ms, K$whole)
  bad("moe_simulate", "n", quote(moe_simulate(truth, sd = 0.1)), label = "n missing")
  bads("moe_simulate", "sd", ms, c(K$number, "neg"))
  bad("moe_simulate", "sd", quote(moe_simulate(truth, n = 10)), label = "sd missing")
  good("moe_simulate", "sd", quote(moe_simulate(truth, n = 10, sd = 0)),
       function(r, e) near(r$y, ref_mean(e$truth, r$x1)), label = "sd = 0 gives the regression function")
  bads("moe_simulate", "x", ms, c("chr", "na", "nan", "inf", "lst", "mat", "fn", "lgl"))
  good("moe_simulate", "x", quote(moe_simulate(truth, n = "ignored", sd = 0, x = newx)),
       function(r, e) nrow(r) == 3L && near(r$x1, e$newx), label = "n is documented as ignored when x is given")

  # ---- moe_fit ----
  mf <- quote(moe_fit(x = x, y = y, k = 2, nstart = 1))
  good("moe_fit", "x", mf, is_fit)
  bads("moe_fit", "x", mf, c("chr", "na", "nan", "inf", "null", "lst", "fn", "df", "mat", "lgl"))
  bad("moe_fit", "x", quote(moe_fit(c(NA, x[-1]), y, k = 2, nstart = 1)))
  bad("moe_fit", "x", quote(moe_fit(cbind(a = x, a = -x), y, k = 2, nstart = 1)),
      label = "duplicated column names")
  bad("moe_fit", "x", quote(moe_fit(data.frame(x1 = x, z = "a"), y, k = 2, nstart = 1)),
      label = "a character column")
  bad("moe_fit", "x", quote(moe_fit(matrix(x, ncol = 2), y, k = 2, nstart = 1)),
      label = "100 x 2 for 200 responses")
  bad("moe_fit", "x", quote(moe_fit(numeric(0), numeric(0), k = 1, nstart = 1)), label = "no rows")
  bads("moe_fit", "y", mf, c("chr", "na", "nan", "inf", "null", "lst", "fn", "mat", "lgl"))
  bad("moe_fit", "y", quote(moe_fit(x, c(y[-1], NA), k = 2, nstart = 1)))
  bad("moe_fit", "y", quote(moe_fit(x, y[-1], k = 2, nstart = 1)), label = "one response short")
  bad("moe_fit", "y", quote(moe_fit(x, as.character(y), k = 2, nstart = 1)))
  bad("moe_fit", "y", quote(moe_fit(x, factor(y > 0), k = 2, nstart = 1)))
  bads("moe_fit", "k", mf, K$whole)
  bad("moe_fit", "k", quote(moe_fit(x, y, k = 100, nstart = 1)), label = "more parameters than rows")
  bad("moe_fit", "k", quote(moe_fit(x, y, k = 10001, nstart = 1)))
  bad("moe_fit", "k", quote(moe_fit(x, y, nstart = 1)), label = "k missing")
  good("moe_fit", "k", quote(moe_fit(x, y, k = 1, nstart = 1)), function(r, e) r$npar == 4L)
  bads("moe_fit", "gating", mf, K$choice)
  for (g in c("softmax", "normalized_sigmoid"))
    good("moe_fit", "gating", eval(bquote(set(mf, gating = .(g)))),
         function(r, e) is_fit(r, e))
  good("moe_fit", "gating", set(mf, gating = "soft"),
       function(r, e) r$gating == "softmax", label = "a unique abbreviation")
  bads("moe_fit", "expert", mf, K$choice)
  for (ex in c("linear", "gelu", "sigmoid", "tanh", "constant"))
    good("moe_fit", "expert", eval(bquote(set(mf, expert = .(ex)))),
         function(r, e) is_fit(r, e))
  good("moe_fit", "degree", set(mf, expert = "polynomial", degree = 2),
       function(r, e) is_fit(r, e) && identical(r$degree, 2L))
  bad("moe_fit", "degree", set(mf, expert = "polynomial"), label = "polynomial without degree")
  bads("moe_fit", "degree", set(mf, expert = "polynomial", degree = 2), setdiff(K$whole, "null"))
  bads("moe_fit", "start", mf, c("chr", "one", "lst", "lgl", "fn"))
  bad("moe_fit", "start", set(mf, start = list()))
  bad("moe_fit", "start", set(mf, start = truth3), label = "start with k = 3")
  bad("moe_fit", "start", set(mf, start = truth_soft), label = "start with another gate")
  bad("moe_fit", "start", set(mf, start = truth2d), label = "start with d = 2")
  bad("moe_fit", "start", set(mf, start = list(truth, "a")))
  bad("moe_fit", "start", set(mf, start = truth, lower = -1), label = "start outside the box")
  bad("moe_fit", "start", set(mf, start = forged_beta1), expect = NA,
      label = "forged_beta1 (hand-edited moe_params)")
  bad("moe_fit", "start", set(mf, start = forged_k), expect = NA,
      label = "forged_k (hand-edited moe_params)")
  good("moe_fit", "start", quote(moe_fit(x, y, k = 2, start = truth, nstart = 0)), function(r, e)
    is_fit(r, e) && nrow(r$starts) == 1L && r$sse <= sum((e$y - ref_mean(e$truth, e$x))^2),
    label = "one search from the truth ends no worse than the truth")
  bads("moe_fit", "nstart", mf, setdiff(K$whole, c("null", "zero")))
  bad("moe_fit", "nstart", quote(moe_fit(x, y, k = 2, nstart = 0)),
      label = "nstart = 0 without start")
  bad("moe_fit", "nstart", quote(moe_fit(x, y, k = 2, nstart = 100001)))
  good("moe_fit", "nstart", quote(moe_fit(x, y, k = 2)), is_fit,
       label = "nstart = NULL, the default search")
  bads("moe_fit", "control", mf, c("chr", "one", "na", "lst", "null", "fn"))
  bad("moe_fit", "control", set(mf, control = list(maxit = -1)), expect = "control$maxit")
  bad("moe_fit", "control", set(mf, control = list(maxit = "a")), expect = "control$maxit")
  bad("moe_fit", "control", set(mf, control = list(bogus = 1)))
  bad("moe_fit", "control",
      set(mf, control = local({ ctl <- moe_control(); ctl$maxit <- -5; ctl })),
      expect = "control$maxit", label = "a moe_control object edited by hand")
  bad("moe_fit", "control", set(mf, control = structure(list(maxit = 10), class = "moe_control")),
      expect = "control$ftol", label = "a moe_control object missing settings")
  good("moe_fit", "control", set(mf, control = list(maxit = 3)),
       function(r, e) r$convergence$iterations <= 3L)
  for (side in c("lower", "upper")) {
    bads("moe_fit", side, mf, c("chr", "na", "nan", "lst", "null", "vec2", "mat", "fn", "lgl"))
    for (v in list(quote(list(beta1 = "a")), quote(list(bogus = 1)), quote(list(beta1 = c(1, 2, 3))),
                   quote(list(beta1 = 1, beta1 = 2)), quote(list(beta1 = NA)))) {
      cl <- mf
      cl[[side]] <- v
      bad("moe_fit", side, cl)
    }
  }
  bad("moe_fit", "lower", set(mf, lower = Inf), label = "an empty box, lower = Inf")
  bad("moe_fit", "upper", set(mf, upper = -Inf), label = "an empty box, upper = -Inf")
  bad("moe_fit", "lower", set(mf, lower = 1, upper = 0),
      expect = c("lower", "upper"), label = "lower > upper")
  bad("moe_fit", "lower", set(mf, expert = "constant", lower = 1),
      expect = c("lower", "upper"), label = "a box without 0 for the constant expert's slopes")
  good("moe_fit", "lower", set(mf, lower = -10, upper = 10),
       function(r, e) is_fit(r, e) && all(r$theta >= -10 & r$theta <= 10))
  good("moe_fit", "upper", set(mf, upper = list(beta1 = 3)),
       function(r, e) is_fit(r, e) && all(r$coefficients$beta1 <= 3))
  bads("moe_fit", "weights", mf, c("chr", "na", "nan", "inf", "neg", "lst", "mat", "fn", "lgl"))
  bad("moe_fit", "weights", set(mf, weights = rep(0, 200)), label = "all weights 0")
  bad("moe_fit", "weights", set(mf, weights = c(-1, rep(1, 199))))
  bad("moe_fit", "weights", set(mf, weights = c(NA, rep(1, 199))))
  bad("moe_fit", "weights", set(mf, weights = rep(1, 10)), label = "10 weights for 200 rows")
  good("moe_fit", "weights",
       quote(moe_fit(x, y, k = 2, start = truth, nstart = 0, weights = rep(2, 200))),
       function(r, e) near(r$sse, 2 * moe_fit(e$x, e$y, 2, start = e$truth, nstart = 0)$sse, 1e-6),
       label = "weights 2 double the SSE of the same search")
  bads("moe_fit", "offset", mf, c("chr", "na", "nan", "inf", "lst", "mat", "fn", "lgl", "vec2"))
  bad("moe_fit", "offset", set(mf, offset = c(NA, rep(0, 199))))
  good("moe_fit", "offset",
       quote(moe_fit(x, y + 1, k = 2, start = truth, nstart = 0, offset = rep(1, 200))),
       function(r, e) near(r$theta, moe_fit(e$x, e$y, 2, start = e$truth, nstart = 0)$theta, 1e-6),
       label = "an offset of 1 on y + 1 is the fit of y")

  bads("moe_fit", "output_weight", mf, K$flag)
  bad("moe_fit", "output_weight", set(mf, expert = "linear", output_weight = TRUE),
      label = "output weights for the linear expert")
  bad("moe_fit", "start", quote(moe_fit(x, y, k = 2, start = truth_c, nstart = 0)),
      label = "a start with output weights")
  bad("moe_fit", "start",
      quote(moe_fit(x, y, k = 2, start = truth, nstart = 0, output_weight = TRUE)),
      label = "a start without output weights")
  bad("moe_fit", "lower", set(mf, output_weight = TRUE, lower = list(c = "a")))
  bad("moe_fit", "lower", set(mf, lower = list(c = 1)),
      label = "a bound on output weights the model lacks")
  good("moe_fit", "output_weight", set(mf, output_weight = TRUE, upper = list(c = 5)),
       function(r, e) is_fit(r, e) && r$npar == 10L && length(r$coefficients$c) == 2L &&
         all(r$coefficients$c <= 5) && near(fitted(r), moe_mean(r$coefficients, e$x)))
  for (f in c("voronoi_loss", "expert_error", "cell_error")) {
    bad(f, "fit", as.call(list(as.name(f), quote(truth_c), quote(truth))),
        label = "a mixing measure with output weights")
    bad(f, "truth", as.call(list(as.name(f), quote(truth), quote(truth_c))),
        label = "a truth with output weights")
  }

  # ---- moe ----
  mo <- quote(moe(formula = y ~ x1, data = dat, k = 2, nstart = 1))
  good("moe", "formula", mo, function(r, e) is_fit(r, e) && inherits(r$formula, "formula"))
  bads("moe", "formula", mo, c("chr", "one", "null", "lst"))
  bad("moe", "formula", quote(moe(~ x1, data = dat, k = 2, nstart = 1)), label = "one-sided")
  bad("moe", "formula", quote(moe(y ~ 1, data = dat, k = 2, nstart = 1)), label = "no input")
  bad("moe", "formula", quote(moe(y ~ zz, data = dat, k = 2, nstart = 1)),
      expect = c("formula", "data"),
      label = "a variable in neither data nor the environment")
  bads("moe", "data", mo, c("chr", "one", "lst"))
  bad("moe", "data", quote(moe(y ~ x1, data = dat[0, ], k = 2, nstart = 1)), label = "no rows")
  bad("moe", "data", quote(moe(y ~ x1, data = dat_na, k = 2, nstart = 1, na.action = na.fail)),
      label = "a missing value, with na.fail")
  good("moe", "data", quote(moe(y ~ x1, data = dat_na, k = 2, nstart = 1)),
       function(r, e) r$nobs == 199L && identical(as.integer(r$na.action), 3L),
       label = "a missing value, dropped by the session's na.action (na.omit)")
  bads("moe", "k", mo, c("chr", "na", "zero", "frac", "null", "vec2"))
  bad("moe", "k", quote(moe(y ~ x1, data = dat, nstart = 1)), label = "k missing")
  bad("moe", "...", set(mo, bogus = 1), expect = "bogus")
  bad("moe", "...", set(mo, x = 1), expect = "x",
      label = "x, an argument of moe_fit() that moe() takes from the formula")
  bad("moe", "...", quote(moe(y ~ x1, dat, 2, 1)), expect = NA, label = "an unnamed extra argument")
  good("moe", "...", set(mo, gating = "softmax"),
       function(r, e) r$gating == "softmax")
  bads("moe", "weights", mo, c("chr", "one", "neg", "lst", "lgl"))
  bad("moe", "weights", set(mo, weights = rep(NA, 200)))
  bad("moe", "weights", set(mo, weights = rep(-1, 200)))
  good("moe", "weights", set(mo, weights = x1^2),
       function(r, e) is_fit(r, e) && near(r$weights, e$x^2), label = "weights evaluated in data")
  bads("moe", "offset", mo, c("chr", "one", "lst", "lgl"))
  bad("moe", "offset", set(mo, offset = rep(NA, 200)))
  good("moe", "offset", set(mo, offset = rep(0.1, 200)),
       function(r, e) is_fit(r, e) && near(r$offset, rep(0.1, 200)))
  bads("moe", "subset", mo, c("chr", "lst", "fn"))
  bad("moe", "subset", set(mo, subset = x1 > 5), label = "selects no row")
  good("moe", "subset", set(mo, subset = x1 > -0.5),
       function(r, e) r$nobs == sum(e$x > -0.5))
  bads("moe", "na.action", mo, c("chr", "one", "lst"))
  good("moe", "na.action",
       quote(moe(y ~ x1, data = dat_na, k = 2, nstart = 1, na.action = na.omit)),
       function(r, e) r$nobs == 199L && length(fitted(r)) == 199L)

  # ---- moe_control ----
  mc <- quote(moe_control())
  good("moe_control", "maxit", mc, function(r, e) inherits(r, "moe_control") && r$maxit == 200L)
  whole_settings <- list(maxit = c(1e9 + 1), threads = 1025, start_rows = 9, screen_rows = 99,
                         agree = 1001, min_starts = 1e5 + 1, max_starts = 1e5 + 1, polish = 1001,
                         hops = 1e5 + 1, patience = 1e5 + 1, valley_m = 1e9 + 1)
  for (s in names(whole_settings)) {
    picks <- if (s == "hops") setdiff(K$whole, "zero") else K$whole
    bads("moe_control", s, mc, picks)
    bad("moe_control", s,
        as.call(c(list(quote(moe_control)), stats::setNames(list(whole_settings[[s]]), s))),
        label = sprintf("%s = %s, past its range", s, format(whole_settings[[s]])))
  }
  for (s in c("ftol", "xtol", "gtol", "lambda", "jitter", "agree_tol", "hop_size", "valley_tol")) {
    bads("moe_control", s, mc, c(K$number, "neg"))
  }
  good("moe_control", "hop_size", quote(moe_control(hop_size = 0)), function(r, e) r$hop_size == 0)
  good("moe_control", "patience", quote(moe_control(patience = 1, hops = 0)),
       function(r, e) r$patience == 1L && r$hops == 0L)
  good("moe_control", "max_starts", quote(moe_control(max_starts = 10)),
       function(r, e) r$max_starts == 10L && r$min_starts == 10L,
       label = "max_starts alone below the default min_starts lowers it")
  bad("moe_control", "lambda", quote(moe_control(lambda = 0)))
  bad("moe_control", "agree_tol", quote(moe_control(agree_tol = 1.5)))
  bads("moe_control", "trace", mc, K$flag)
  bads("moe_control", "accel", mc, K$flag)
  good("moe_control", "accel", quote(moe_control(accel = TRUE)), function(r, e) isTRUE(r$accel))
  bads("moe_control", "varpro", mc, K$flag)
  good("moe_control", "varpro", quote(moe_control(varpro = TRUE)), function(r, e) isTRUE(r$varpro))
  bads("moe_control", "trust", mc, K$flag)
  good("moe_control", "trust", quote(moe_control(trust = TRUE)), function(r, e) isTRUE(r$trust))
  bad("moe_control", "trust", quote(moe_control(trust = TRUE, accel = TRUE)), expect = c("trust", "accel"),
      label = "trust with accel")
  good("moe_control", "valley_tol", quote(moe_control(valley_tol = 0.01, valley_m = 5)),
       function(r, e) r$valley_tol == 0.01 && r$valley_m == 5L)
  good("moe_control", "trace", quote(moe_control(trace = TRUE, hops = 0, ftol = 0, lambda = 1e10)),
       function(r, e) isTRUE(r$trace) && r$hops == 0L && r$ftol == 0)
  good("moe_control", "threads", quote(moe_control(threads = 2)), function(r, e) r$threads == 2L)
  bad("moe_control", "min_starts", quote(moe_control(min_starts = 50, max_starts = 10)),
      expect = c("min_starts", "max_starts"), label = "min_starts > max_starts")

  # ---- moe_select ----
  sl <- quote(moe_select(formula = y ~ x1, data = dat, k = 1:2, nstart = 1))
  good("moe_select", "k", sl, function(r, e) {
    bic <- vapply(r$fits, stats::BIC, 0)
    inherits(r, "moe_selection") && r$best == c(1L, 2L)[which.min(bic)] && near(r$table$BIC, bic)
  })
  bads("moe_select", "formula", sl, c("chr", "one", "null", "lst"))
  bad("moe_select", "formula", quote(moe_select(~ x1, data = dat, k = 1:2, nstart = 1)))
  bads("moe_select", "data", sl, c("chr", "one", "lst", "null"))
  bad("moe_select", "data", quote(moe_select(y ~ x1, k = 1:2, nstart = 1)), label = "data missing")
  bads("moe_select", "k", sl,
       c("chr", "na", "nan", "inf", "neg", "zero", "huge", "frac", "null", "lst", "mat", "lgl", "empty"))
  bad("moe_select", "k", quote(moe_select(y ~ x1, data = dat, k = c(1, 1), nstart = 1)),
      label = "a repeated k")
  bads("moe_select", "criterion", sl, c("chr", "na", "one", "null", "lst"))
  bad("moe_select", "criterion",
      quote(moe_select(y ~ x1, data = dat, k = 1:2, criterion = c("AIC", "BIC"), nstart = 1)))
  good("moe_select", "criterion",
       quote(moe_select(y ~ x1, data = dat, k = 1:2, criterion = "AIC", nstart = 1)),
       function(r, e) r$criterion == "AIC" && r$best == c(1L, 2L)[which.min(vapply(r$fits, stats::AIC, 0))])
  bad("moe_select", "...", set(sl, bogus = 1), expect = "bogus")
  bad("moe_select", "...", quote(moe_select(y ~ x1, dat, 1:2, "BIC", 1)), expect = NA,
      label = "an unnamed extra argument")

  # ---- predict ----
  pr <- quote(predict(object = fit, newdata = newx))
  good("predict.moe_fit", "newdata", pr,
       function(r, e) near(r, moe_mean(e$fit$coefficients, e$newx)))
  bads("predict.moe_fit", "newdata", pr, c("chr", "na", "nan", "inf", "lst", "mat", "fn", "lgl"))
  bad("predict.moe_fit", "newdata", quote(predict(fit, data.frame(x1 = "a"))))
  bad("predict.moe_fit", "newdata", quote(predict(fit, c(0, NA))))
  bad("predict.moe_fit", "newdata", quote(predict(ffit, data.frame(z = 1))),
      label = "formula fit, variable absent")
  bad("predict.moe_fit", "newdata", quote(predict(ffit, data.frame(x1 = "a"))),
      label = "formula fit, a character input")
  bad("predict.moe_fit", "newdata", quote(predict(ffit, 0.5)), label = "formula fit, a number")
  bad("predict.moe_fit", "newdata", quote(predict(fit2d, 0.5)), label = "d = 2 fit, a vector")
  good("predict.moe_fit", "newdata", quote(predict(ffit, newdf)),
       function(r, e) near(r, moe_mean(e$ffit$coefficients, e$newx)))
  good("predict.moe_fit", "newdata", quote(predict(fit)), function(r, e) near(r, fitted(e$fit)))
  good("predict.moe_fit", "newdata", quote(predict(fit, numeric(0))), function(r, e) length(r) == 0L)
  bads("predict.moe_fit", "type", pr, c("chr", "na", "one", "lst", "chr2"))
  good("predict.moe_fit", "type", quote(predict(fit, newx, type = "gates")),
       function(r, e) near(r, moe_gates(e$fit$coefficients, e$newx)))
  good("predict.moe_fit", "type", quote(predict(fit, newx, type = "experts")),
       function(r, e) near(r, moe_experts(e$fit$coefficients, e$newx)))
  bad("predict.moe_fit", "interval",
      quote(predict(fit, newx, type = "gates", interval = "confidence")))
  bad("predict.moe_fit", "se.fit", quote(predict(fit, newx, type = "gates", se.fit = TRUE)))
  bads("predict.moe_fit", "interval", pr, K$choice)
  good("predict.moe_fit", "interval", quote(predict(fit, newx, interval = "confidence")),
       function(r, e) ncol(r) == 3L && all(r[, "lwr"] <= r[, "fit"] & r[, "fit"] <= r[, "upr"]))
  good("predict.moe_fit", "interval", quote(predict(fit, newx, interval = "prediction")),
       function(r, e) all(r[, "upr"] - r[, "lwr"] > {
         ci <- predict(e$fit, e$newx, interval = "confidence"); ci[, "upr"] - ci[, "lwr"] }))
  prc <- quote(predict(object = fit, newdata = newx, interval = "confidence"))
  bads("predict.moe_fit", "level", prc, c(K$number, "neg", "zero", "one", "huge"))
  good("predict.moe_fit", "level", quote(predict(fit, newx, interval = "confidence", level = 0.5)),
       function(r, e) all(r[, "upr"] - r[, "lwr"] < {
         ci <- predict(e$fit, e$newx, interval = "confidence"); ci[, "upr"] - ci[, "lwr"] }))
  bads("predict.moe_fit", "se.fit", pr, K$flag)
  good("predict.moe_fit", "se.fit", quote(predict(fit, newx, se.fit = TRUE)), function(r, e)
    all(r$se.fit >= 0) && {
      J <- moe_jacobian(e$fit$coefficients, e$newx)
      near(r$se.fit, sqrt(rowSums((J %*% vcov(e$fit)) * J)))
    })
  prp <- quote(predict(object = fit, newdata = newx, interval = "prediction"))
  bads("predict.moe_fit", "pred.weights", prp,
       c("chr", "na", "nan", "inf", "neg", "zero", "null", "lst", "vec2", "fn"))
  bad("predict.moe_fit", "pred.weights", quote(predict(fit, newx, pred.weights = "a")),
      label = "pred.weights = \"a\" without interval = \"prediction\"")
  good("predict.moe_fit", "pred.weights",
       quote(predict(fit, newx, interval = "prediction", pred.weights = 4)),
       function(r, e) all(r[, "upr"] - r[, "lwr"] < {
         p1 <- predict(e$fit, e$newx, interval = "prediction"); p1[, "upr"] - p1[, "lwr"] }))
  bad("predict.moe_fit", "offset", quote(predict(fit, newx, offset = 1)),
      label = "a fit without offset")
  bad("predict.moe_fit", "offset", quote(predict(fit, offset = "a")),
      label = "a fit without offset, no newdata")
  bad("predict.moe_fit", "offset", quote(predict(ofit, newx)),
      label = "a fit with offset, none given")
  bads("predict.moe_fit", "offset", quote(predict(ofit, newx, offset = c(0, 0, 0))),
       c("chr", "na", "nan", "inf", "lst", "vec2", "fn"))
  bad("predict.moe_fit", "offset", quote(predict(ffit, newdf, offset = 1)), label = "a formula fit")
  good("predict.moe_fit", "offset", quote(predict(ofit, newx, offset = c(1, 1, 1))),
       function(r, e) near(r, moe_mean(e$ofit$coefficients, e$newx) + 1))
  bad("predict.moe_fit", "...", quote(predict(fit, newx, bogus = 1)), expect = "bogus")

  # ---- confint, vcov ----
  good("confint.moe_fit", "parm", quote(confint(fit)), function(r, e)
    nrow(r) == e$fit$npar && near((r[, 1] + r[, 2]) / 2, e$fit$theta, 1e-6))
  bads("confint.moe_fit", "parm", quote(confint(fit, parm = 1)),
       c("chr", "na", "nan", "inf", "neg", "zero", "huge", "frac", "null", "lst", "lgl"))
  bad("confint.moe_fit", "parm", quote(confint(fit, parm = 9)), label = "parm = 9 of 8 parameters")
  good("confint.moe_fit", "parm", quote(confint(fit, parm = c("b[1]", "b[2]"))),
       function(r, e) identical(rownames(r), c("b[1]", "b[2]")))
  bads("confint.moe_fit", "level", quote(confint(fit)), c(K$number, "neg", "zero", "one", "huge"))
  good("confint.moe_fit", "level", quote(confint(fit, level = 0.5)), function(r, e)
    all(r[, 2] - r[, 1] < { ci <- confint(e$fit); ci[, 2] - ci[, 1] }))
  bad("confint.moe_fit", "...", quote(confint(fit, bogus = 1)), expect = "bogus")
  bad("confint.moe_fit", "...", quote(confint(fit, tol = "a")), expect = "tol")
  good("vcov.moe_fit", "tol", quote(vcov(fit)), function(r, e)
    near(r, solve(e$fit$jtj) * sigma(e$fit)^2, 1e-6) && isSymmetric(unname(r)))
  bads("vcov.moe_fit", "tol", quote(vcov(fit)), c(K$number, "neg"))
  good("vcov.moe_fit", "tol",
       quote(tryCatch(vcov(fit, tol = 2), sigmoe_singular_information = function(w) "warned")),
       function(r, e) identical(r, "warned"), label = "tol = 2 drops every direction and says so")
  good("vcov.moe_fit", "...", quote(vcov(fit, bogus = 1)), function(r, e) near(r, vcov(e$fit)),
       label = "ignored, as by the stats methods")

  # fits edited by hand must fail cleanly, not crash in C
  bad("predict.moe_fit", "object", quote(predict(forged_fit_theta, newx, se.fit = TRUE)), expect = NA,
      label = "forged_fit_theta (3 of 8 parameters)")
  bad("predict.moe_fit", "object", quote(predict(forged_fit_k, newx)), expect = NA,
      label = "forged_fit_k (k = 9 in the coefficients)")
  bad("vcov.moe_fit", "object", quote(vcov(forged_fit_jtj)), expect = NA, label = "forged_fit_jtj (a 2 x 2 J'J)")
  bad("confint.moe_fit", "object", quote(confint(forged_fit_theta)), expect = NA,
      label = "forged_fit_theta (3 of 8 parameters)")

  # ---- residuals, coef and the other accessors ----
  bads("residuals.moe_fit", "type", quote(residuals(fit)), c("chr", "na", "one", "lst", "chr2"))
  good("residuals.moe_fit", "type", quote(residuals(fit, type = "pearson")),
       function(r, e) near(r, (e$y - fitted(e$fit)) / sigma(e$fit)))
  good("residuals.moe_fit", "...", quote(residuals(fit, bogus = 1)),
       function(r, e) near(r, e$y - fitted(e$fit)))
  bads("coef.moe_fit", "type", quote(coef(fit)), c("chr", "na", "one", "lst", "chr2"))
  good("coef.moe_fit", "type", quote(coef(fit, type = "theta")), function(r, e) near(r, e$fit$theta))
  good("coef.moe_fit", "...", quote(coef(fit, bogus = 1)),
       function(r, e) inherits(r, "moe_params") && near(moe_mean(r, e$x), fitted(e$fit)))
  good("fitted.moe_fit", "...", quote(fitted(fit, bogus = 1)),
       function(r, e) near(r, ref_mean(e$fit$coefficients, e$x)))
  good("logLik.moe_fit", "...", quote(logLik(fit, bogus = 1)), function(r, e)
    near(as.numeric(r), -200 / 2 * (log(2 * pi * sum(residuals(e$fit)^2) / 200) + 1)) &&
      attr(r, "df") == 9L)
  good("sigma.moe_fit", "...", quote(sigma(fit, bogus = 1)),
       function(r, e) near(r, sqrt(sum(residuals(e$fit)^2) / (200 - 8))))
  good("nobs.moe_fit", "...", quote(nobs(fit, bogus = 1)), function(r, e) r == 200)
  good("simulate.moe_fit", "nsim", quote(simulate(fit, nsim = 3, seed = 1)),
       function(r, e) identical(dim(r), c(200L, 3L)) && all(is.finite(as.matrix(r))))
  bads("simulate.moe_fit", "nsim", quote(simulate(fit, seed = 1)), K$whole)
  good("simulate.moe_fit", "seed", quote(simulate(fit, seed = NULL)), function(r, e) nrow(r) == 200L)
  bads("simulate.moe_fit", "seed", quote(simulate(fit)),
       c("chr", "na", "nan", "inf", "lst", "vec2", "mat", "lgl", "fn"))
  good("simulate.moe_fit", "...", quote(simulate(fit, seed = 1, bogus = 1)), function(r, e) {
    set.seed(1)
    near(r$sim_1, fitted(e$fit) + sqrt(sum(residuals(e$fit)^2) / (200 - 8)) * rnorm(200))
  }, label = "ignored, as by the stats methods")
  good("deviance.moe_fit", "...", quote(deviance(fit, bogus = 1)),
       function(r, e) near(r, sum(residuals(e$fit)^2)))
  good("df.residual.moe_fit", "...", quote(df.residual(fit, bogus = 1)), function(r, e) r == 192)
  good("formula.moe_fit", "...", quote(formula(ffit, bogus = 1)),
       function(r, e) identical(deparse(r), "y ~ x1"))
  bad("formula.moe_fit", "x", quote(formula(fit)), label = "a fit without formula")
  good("model.frame.moe_fit", "...", quote(model.frame(ffit, bogus = 1)),
       function(r, e) nrow(r) == 200L && near(r$y, e$y))
  good("summary.moe_fit", "...", quote(summary(fit, bogus = 1)), function(r, e)
    near(r$coefficients[, "Std. Error"], sqrt(diag(vcov(e$fit)))))

  # ---- print methods ----
  printables <- list(print.moe_fit = quote(fit), print.moe_params = quote(truth),
                     print.moe_rate_table = quote(rt), print.moe_sample_size = quote(ss),
                     print.moe_selection = quote(sel), print.moe_table1 = quote(tb1),
                     print.moe_voronoi = quote(vl), print.summary.moe_fit = quote(sfit))
  for (m in names(printables)) {
    obj <- printables[[m]]
    good(m, "digits", bquote(print(.(obj), digits = 3)), function(r, e) !is.null(r))
    bads(m, "digits", bquote(print(x = .(obj))), c("chr", "na", "neg", "lst"))
    good(m, "...", bquote(print(.(obj), bogus = 1)), function(r, e) !is.null(r))
  }
  bads("print.summary.moe_fit", "signif.stars", quote(print(x = sfit)), c("chr", "na", "lst"))
  good("print.summary.moe_fit", "signif.stars", quote(print(sfit, signif.stars = FALSE)),
       function(r, e) !is.null(r))
  good("print.moe_study", "...", quote(print(study, bogus = 1)),
       function(r, e) inherits(r, "moe_study"))

  # ---- plot, autoplot of a fit ----
  good("plot.moe_fit", "which", quote(plot(fit)), function(r, e) inherits(r, "moe_fit"))
  bads("plot.moe_fit", "which", quote(plot(fit)),
       c("chr", "na", "nan", "inf", "neg", "zero", "huge", "frac", "lst", "lgl"))
  bad("plot.moe_fit", "which", quote(plot(fit, which = 5)))
  bad("plot.moe_fit", "which", quote(plot(fit, which = c(1, 1))))
  bad("plot.moe_fit", "which", quote(plot(fit2d, which = 1)), label = "which = 1 for d = 2")
  good("plot.moe_fit", "which", quote(plot(fit, which = 1:4)), function(r, e) inherits(r, "moe_fit"))
  good("plot.moe_fit", "which", quote(plot(fit2d)), function(r, e) inherits(r, "moe_fit"))
  bad("plot.moe_fit", "col", quote(plot(fit, col = "notacolour")))
  bads("plot.moe_fit", "col", quote(plot(fit)), c("lst", "fn"))
  good("plot.moe_fit", "col", quote(plot(fit, col = c("red", "blue"))),
       function(r, e) inherits(r, "moe_fit"))
  bads("plot.moe_fit", "legend", quote(plot(fit)), c("one", "na", "lgl", "lst", "chr2"))
  bad("plot.moe_fit", "legend", quote(plot(fit, legend = "nowhere")))
  good("plot.moe_fit", "legend", quote(plot(fit, legend = FALSE)),
       function(r, e) inherits(r, "moe_fit"))
  good("plot.moe_fit", "legend", quote(plot(fit, legend = "topleft")),
       function(r, e) inherits(r, "moe_fit"))
  bads("plot.moe_fit", "n_grid", quote(plot(fit)), c(K$whole, "one"))
  good("plot.moe_fit", "n_grid", quote(plot(fit, n_grid = 2)), function(r, e) inherits(r, "moe_fit"))
  good("plot.moe_fit", "...", quote(plot(fit, pch = 3)), function(r, e) inherits(r, "moe_fit"))
  if (requireNamespace("ggplot2", quietly = TRUE)) {
    good("autoplot.moe_fit", "n_grid", quote(ggplot2::autoplot(fit)),
         function(r, e) inherits(r, "ggplot"))
    bads("autoplot.moe_fit", "n_grid", quote(ggplot2::autoplot(fit)), c(K$whole, "one"))
    bad("autoplot.moe_fit", "...", quote(ggplot2::autoplot(fit, bogus = 1)), expect = "bogus")
    good("autoplot.moe_study", "loss", quote(ggplot2::autoplot(study)),
         function(r, e) inherits(r, "ggplot"))
    bads("autoplot.moe_study", "loss", quote(ggplot2::autoplot(study)),
         c("chr", "na", "one", "lst", "chr2"))
    bads("autoplot.moe_study", "stat", quote(ggplot2::autoplot(study)), K$choice)
    good("autoplot.moe_study", "stat", quote(ggplot2::autoplot(study, stat = "median")),
         function(r, e) inherits(r, "ggplot"))
    bad("autoplot.moe_study", "...", quote(ggplot2::autoplot(study, bogus = 1)), expect = "bogus")
  }

  # ---- anova ----
  good("anova.moe_fit", "...", quote(anova(fit1, fit)), function(r, e) {
    s1 <- deviance(e$fit1); s2 <- deviance(e$fit)
    f <- ((s1 - s2) / 4) / (s2 / 192)
    inherits(r, "anova") && near(r[2, "F value"], f) &&
      near(r[2, "Pr(>F)"], stats::pf(f, 4, 192, lower.tail = FALSE))
  })
  bad("anova.moe_fit", "...", quote(anova(fit)), expect = NA, label = "one fit")
  bad("anova.moe_fit", "...", quote(anova(fit, "a")), expect = "..1")
  bad("anova.moe_fit", "...", quote(anova(fit, 1)), expect = "..1")
  bad("anova.moe_fit", "...", quote(anova(fit, fit_other)), expect = "fit_other",
      label = "a fit of other data")
  bad("anova.moe_fit", "...", quote(anova(fit, bogus = fit1)), expect = "bogus")

  # ---- tidy, glance, augment ----
  good("tidy.moe_fit", "conf.int", quote(generics::tidy(fit, conf.int = TRUE)), function(r, e)
    nrow(r) == 8L && near(r$estimate, e$fit$theta) && near(cbind(r$conf.low, r$conf.high), confint(e$fit)))
  bads("tidy.moe_fit", "conf.int", quote(generics::tidy(fit)), K$flag)
  bads("tidy.moe_fit", "conf.level", quote(generics::tidy(fit, conf.int = TRUE)),
       c(K$number, "neg", "zero", "one"))
  good("tidy.moe_fit", "conf.level", quote(generics::tidy(fit, conf.int = TRUE, conf.level = 0.9)),
       function(r, e) near(cbind(r$conf.low, r$conf.high), confint(e$fit, level = 0.9)))
  bad("tidy.moe_fit", "...", quote(generics::tidy(fit, bogus = 1)), expect = "bogus")
  good("glance.moe_fit", "...", quote(generics::glance(fit)), function(r, e)
    nrow(r) == 1L && near(r$deviance, deviance(e$fit)) && near(r$AIC, stats::AIC(e$fit)) &&
      near(r$BIC, stats::BIC(e$fit)))
  bad("glance.moe_fit", "...", quote(generics::glance(fit, bogus = 1)), expect = "bogus")
  good("augment.moe_fit", "data", quote(generics::augment(fit)),
       function(r, e) nrow(r) == 200L && near(r$.fitted, fitted(e$fit)) && near(r$.resid, residuals(e$fit)))
  bads("augment.moe_fit", "data", quote(generics::augment(fit)), c("chr", "one", "lst", "mat", "fn"))
  bad("augment.moe_fit", "data", quote(generics::augment(fit, data = dat[1:10, ])),
      label = "10 rows for 200")
  bad("augment.moe_fit", "data", quote(generics::augment(fit, data = dat, newdata = newx)),
      expect = c("data", "newdata"), label = "both data and newdata")
  good("augment.moe_fit", "data", quote(generics::augment(ffit, data = dat)),
       function(r, e) near(r$.fitted, fitted(e$ffit)) && near(r$x1, e$x))
  bads("augment.moe_fit", "newdata", quote(generics::augment(fit, newdata = newx)),
       c("chr", "mat", "lgl", "fn"))
  good("augment.moe_fit", "newdata", quote(generics::augment(fit, newdata = newx)),
       function(r, e) nrow(r) == 3L && near(r$.fitted, predict(e$fit, e$newx)))
  bads("augment.moe_fit", "interval", quote(generics::augment(fit)), K$choice)
  good("augment.moe_fit", "interval",
       quote(generics::augment(fit, newdata = newx, interval = "confidence")),
       function(r, e) near(cbind(r$.lower, r$.upper),
                           predict(e$fit, e$newx, interval = "confidence")[, c("lwr", "upr")]))
  bads("augment.moe_fit", "conf.level", quote(generics::augment(fit, interval = "confidence")),
       c(K$number, "neg", "zero", "one"))
  bad("augment.moe_fit", "...", quote(generics::augment(fit, bogus = 1)), expect = "bogus")

  # ---- losses ----
  good("voronoi_loss", "fit", quote(voronoi_loss(truth, truth)),
       function(r, e) abs(as.numeric(r)) < 1e-12,
       label = "a mixing measure is at loss 0 from itself")
  good("voronoi_loss", "truth", quote(voronoi_loss(fit, truth)),
       function(r, e) is.finite(r) && r >= 0)
  vb <- quote(voronoi_loss(fit = fit, truth = truth))
  bads("voronoi_loss", "fit", vb, c("chr", "null", "lst", "one"))
  bad("voronoi_loss", "fit", quote(voronoi_loss(forged_k, truth)), expect = NA,
      label = "forged_k (hand-edited moe_params)")
  bads("voronoi_loss", "truth", vb, c("chr", "null", "lst", "one"))
  bad("voronoi_loss", "truth", quote(voronoi_loss(fit, fit)), label = "a moe_fit as truth")
  bad("voronoi_loss", "truth", quote(voronoi_loss(fit, truth_soft)), expect = c("fit", "truth"),
      label = "another gate")
  bad("voronoi_loss", "truth", quote(voronoi_loss(fit, truth_lin)), expect = c("fit", "truth"),
      label = "another expert")
  bad("voronoi_loss", "truth", quote(voronoi_loss(fit, truth2d)), expect = c("fit", "truth"),
      label = "another d")
  bads("voronoi_loss", "r_exact", vb, c(K$number, "neg", "zero"))
  bads("voronoi_loss", "r_over", vb, c(K$number, "neg", "zero"))
  good("voronoi_loss", "r_over", quote(voronoi_loss(fit, truth, r_exact = 2, r_over = 4)),
       function(r, e) is.finite(r) && r >= 0)
  bads("voronoi_loss", "align", vb, K$choice)
  good("voronoi_loss", "align", quote(voronoi_loss(truth, truth, align = "none")),
       function(r, e) abs(as.numeric(r)) < 1e-12)
  bad("voronoi_loss", "...", quote(voronoi_loss(fit, truth, bogus = 1)), expect = "bogus")
  for (f in c("expert_error", "cell_error")) {
    base <- as.call(list(as.name(f), fit = quote(fit), truth = quote(truth), x = quote(newx)))
    good(f, "fit", as.call(list(as.name(f), quote(truth), quote(truth))),
         function(r, e) all(abs(r) < 1e-12),
         label = "a mixing measure is at error 0 from itself")
    good(f, "x", base, function(r, e) length(r) == 2L && all(is.finite(r) & r >= 0))
    bads(f, "fit", base, c("chr", "null", "lst", "one"))
    bads(f, "truth", base, c("chr", "null", "lst", "one"))
    bad(f, "truth", as.call(list(as.name(f), quote(fit), quote(fit))), label = "a moe_fit as truth")
    bad(f, "truth", as.call(list(as.name(f), quote(fit), quote(truth2d))),
        expect = c("fit", "truth"), label = "another d")
    bads(f, "x", base, c("chr", "na", "nan", "inf", "lst", "mat", "fn", "lgl", "empty"))
  }
  good("cell_error", "truth", quote(cell_error(fit, truth_soft)),
       function(r, e) all(is.finite(r) & r >= 0),
       label = "cell errors compare gated outputs across gates")
  good("expert_error", "truth", quote(expert_error(fit, truth_soft)),
       function(r, e) all(is.finite(r)),
       label = "expert errors compare experts across gates")

  # ---- convergence_study ----
  # a tiny study: two sizes, one replicate, 200 evaluation points
  cs <- quote(convergence_study(truth = truth, n = c(40, 60), reps = 1, k = 3, sd = 0.1, seed = 1,
                                progress = FALSE, eval_n = 200))
  good("convergence_study", "truth", cs, function(r, e)
    inherits(r, "moe_study") && nrow(r$results) == 4L && all(is.finite(r$results$l2)))
  good("convergence_study", "gating", set(cs, gating = "sigmoid", expert = "relu",
           x_law = function(n, d) matrix(stats::runif(n * d, -0.5, 0.5), n, d),
           init = "near_truth", losses = list("l2", mine = function(fit, truth, x) nrow(x)),
           cache_dir = NULL, degree = NULL, split = 2, surplus = "dead", bounds = 50,
           init_sd = 0, nstart = 1, control = list(maxit = 50), eval_n = 100,
           progress = NULL, chunk_rows = Inf),
       function(r, e) all(r$results$gating == "sigmoid") && all(abs(r$x_eval) <= 0.5) &&
         nrow(r$x_eval) == 100L && all(r$results$mine == 100) && identical(r$setup$split, 2L) &&
         identical(r$setup$bounds$upper, 50) && all(r$results$iterations <= 50L) &&
         all(r$results$surplus == "dead") && !"voronoi" %in% names(r$results),
       label = "a good value of every argument")
  bads("convergence_study", "truth", cs, c("chr", "null", "lst", "one"))
  bad("convergence_study", "truth", set(cs, truth = fit), label = "a moe_fit as truth")
  bad("convergence_study", "truth", set(cs, truth = truth_c), label = "a truth with output weights")
  bad("convergence_study", "truth", set(cs, truth = forged_k), expect = NA,
      label = "forged_k (hand-edited moe_params)")
  for (a in c("truth", "n", "reps", "k", "sd", "seed")) {
    cl <- cs
    cl[[a]] <- NULL
    bad("convergence_study", a, cl, label = sprintf("%s missing", a))
  }
  bads("convergence_study", "n", cs,
       c("chr", "na", "nan", "inf", "neg", "zero", "frac", "huge", "null", "lst", "lgl", "empty"))
  bad("convergence_study", "n", set(cs, n = c(100, 100)), label = "a repeated size")
  bad("convergence_study", "n", set(cs, n = 5), label = "fewer rows than parameters")
  bads("convergence_study", "reps", cs, K$whole)
  bads("convergence_study", "k", cs, K$whole)
  bads("convergence_study", "gating", cs, c("chr", "na", "one", "null", "lst"))
  bad("convergence_study", "gating", set(cs, gating = c("sigmoid", "sigmoid")),
      label = "a repeated gate")
  bads("convergence_study", "expert", cs, c("chr", "na", "one", "lst"))
  bad("convergence_study", "expert", set(cs, expert = c("relu", "relu")),
      label = "a repeated expert")
  bad("convergence_study", "expert", set(cs, expert = "constant"),
      label = "constant experts for a truth with slopes")
  bads("convergence_study", "sd", cs, c(K$number, "neg"))
  bads("convergence_study", "x_law", cs, c("chr", "one", "lst", "lgl"))
  bad("convergence_study", "x_law", set(cs, x_law = function(n, d) 1),
      label = "a law returning one number")
  bad("convergence_study", "x_law", set(cs, x_law = function(n, d) matrix(NaN, n, d)),
      label = "a law returning NaN")
  bad("convergence_study", "x_law", set(cs, x_law = function(n, d) stop("boom")),
      label = "a law that fails")
  bads("convergence_study", "init", cs, K$choice)
  good("convergence_study", "init", set(cs, gating = "sigmoid", init = "multistart", nstart = 1),
       function(r, e) all(r$results$init == "multistart"))
  bads("convergence_study", "losses", cs, c("chr", "na", "one", "null", "lst", "lgl", "fn"))
  bad("convergence_study", "losses", set(cs, losses = list(function(fit, truth, x) 1)),
      label = "an unnamed function")
  bad("convergence_study", "losses", set(cs, losses = list(sse = function(fit, truth, x) 1)),
      label = "a function named like a column")
  bad("convergence_study", "losses", set(cs, losses = c("l2", "l2")), label = "a repeated loss")
  good("convergence_study", "losses",
       set(cs, gating = "sigmoid", losses = list("l2", boom = function(fit, truth, x) stop("boom"))),
       function(r, e) all(is.na(r$results$boom)) && all(grepl("boom", r$results$loss_error)),
       label = "a custom loss that fails is NA with its message")
  bads("convergence_study", "seed", cs,
       c("chr", "na", "nan", "inf", "frac", "huge", "null", "lst", "vec2", "lgl"))
  good("convergence_study", "seed",
       bquote(identical(.(set(cs, gating = "sigmoid", seed = 7))$results$l2,
                        .(set(cs, gating = "sigmoid", seed = 7))$results$l2)),
       function(r, e) isTRUE(r), label = "a seed reproduces the study")
  bads("convergence_study", "cache_dir", cs, c("one", "na", "chr2", "lst", "lgl"))
  bad("convergence_study", "cache_dir", set(cs, cache_dir = ""))
  bad("convergence_study", "cache_dir", set(cs, cache_dir = afile),
      label = "a file, not a directory")
  good("convergence_study", "cache_dir",
       bquote(list(a = .(set(cs, gating = "sigmoid", cache_dir = "cache")),
                   b = .(set(cs, gating = "sigmoid", cache_dir = "cache")))),
       function(r, e) r$a$computed == 2L && r$b$cached == 2L && r$b$computed == 0L &&
         identical(r$a$results$l2, r$b$results$l2), label = "a second run reads the cache")
  bad("convergence_study", "...", set(cs, bogus = 1), expect = "bogus")
  bads("convergence_study", "degree", cs, c("chr", "na", "zero", "neg", "frac", "lst", "vec2"))
  bad("convergence_study", "degree", set(cs, expert = "polynomial"),
      label = "polynomial experts without degree")
  bads("convergence_study", "split", cs, c("chr", "na", "zero", "neg", "frac", "lst", "vec2", "lgl"))
  bad("convergence_study", "split", set(cs, split = 3), label = "split = 3 of k* = 2 atoms")
  bad("convergence_study", "split", set(cs, k = 2, split = 1), label = "split with k = k*")
  bads("convergence_study", "surplus", cs, c("chr", "na", "one", "lst", "lgl"))
  bad("convergence_study", "surplus", set(cs, k = 2, surplus = "dead"),
      label = "surplus with k = k*")
  bad("convergence_study", "surplus", set(cs, init = "global", surplus = "dead"),
      label = "surplus with init = \"global\"")
  bad("convergence_study", "surplus", set(cs, surplus = c(bogus = "dead")),
      label = "named by a gate the study lacks")
  bad("convergence_study", "surplus", set(cs, surplus = "scaled"),
      label = "\"scaled\" for the softmax gate")
  good("convergence_study", "surplus", set(cs, gating = "sigmoid", surplus = "scaled"),
       function(r, e) all(r$results$surplus == "scaled"))
  bads("convergence_study", "bounds", cs,
       c("chr", "na", "nan", "inf", "neg", "zero", "lst", "vec2", "mat", "lgl", "fn"))
  bad("convergence_study", "bounds", set(cs, bounds = list(bogus = 1)))
  bad("convergence_study", "bounds", set(cs, bounds = list(lower = "a")))
  bad("convergence_study", "bounds", set(cs, bounds = 0.1), label = "a box without the truth")
  good("convergence_study", "bounds", set(cs, gating = "sigmoid", bounds = NULL),
       function(r, e) nrow(r$results) == 2L)
  bads("convergence_study", "init_sd", cs, c(K$number, "neg"))
  bads("convergence_study", "nstart", cs, K$whole)
  bads("convergence_study", "control", cs, c("chr", "one", "null", "lst"))
  bad("convergence_study", "control", set(cs, control = list(maxit = 0)), expect = "control$maxit")
  bad("convergence_study", "control", set(cs, control = list(bogus = 1)))
  bads("convergence_study", "eval_n", cs, K$whole)
  bad("convergence_study", "eval_n", set(cs, eval_n = 99))
  bads("convergence_study", "progress", cs, c("chr", "na", "one", "lst", "lgl2"))
  bads("convergence_study", "chunk_rows", cs,
       c("chr", "na", "nan", "ninf", "neg", "zero", "lst", "vec2", "lgl"))
  good("convergence_study", "chunk_rows",
       bquote(list(a = .(set(cs, gating = "sigmoid", chunk_rows = 50)),
                                                      b = .(set(cs, gating = "sigmoid")))),
       function(r, e) identical(r$a$results$l2, r$b$results$l2), label = "chunks do not change the results")

  # ---- rates ----
  rb <- quote(rate_table(study = study, B = 10))
  good("rate_table", "study", rb, function(r, e) {
    res <- e$study$results[e$study$results$gating == "sigmoid", ]
    m <- tapply(res$l2, res$n, mean)
    slope <- unname(stats::coef(stats::lm(log(m) ~ log(as.numeric(names(m)))))[2])
    near(r$slope[r$gating == "sigmoid" & r$loss == "l2"], slope)
  }, label = "the slope is that of lm(log(mean loss) ~ log(n))")
  bads("rate_table", "study", rb, c("chr", "null", "lst", "one"))
  bad("rate_table", "study", quote(rate_table(fit)), label = "a moe_fit as study")
  bad("rate_table", "study", quote(rate_table(forged_study)), expect = NA,
      label = "forged_study (a hand-made moe_study)")
  bads("rate_table", "losses", rb, c("chr", "na", "one", "lst", "lgl"))
  good("rate_table", "losses", quote(rate_table(study, losses = "l2", B = 10)),
       function(r, e) all(r$loss == "l2"))
  bads("rate_table", "stat", rb, K$choice)
  good("rate_table", "stat", quote(rate_table(study, stat = "median", B = 10)),
       function(r, e) all(r$stat == "median"))
  bads("rate_table", "level", rb, c(K$number, "neg", "zero", "one", "huge"))
  bads("rate_table", "B", rb, setdiff(K$whole, "zero"))
  good("rate_table", "B", quote(rate_table(study, B = 0)), function(r, e) all(is.na(r$lower)))
  bads("rate_table", "seed", rb,
       c("chr", "na", "nan", "inf", "frac", "huge", "null", "lst", "vec2", "lgl"))
  good("rate_table", "seed", quote(identical(rate_table(study, B = 50, seed = 3)$lower,
                       rate_table(study, B = 50, seed = 3)$lower)),
       function(r, e) isTRUE(r), label = "a seed reproduces the bootstrap")
  good("summary.moe_study", "...", quote(summary(study, B = 10)),
       function(r, e) inherits(r, "moe_rate_table"))
  bad("summary.moe_study", "...", quote(summary(study, B = -1)), expect = "B")
  bad("summary.moe_study", "...", quote(summary(study, bogus = 1)), expect = "bogus")
  sb <- quote(sample_size(study = study, eps = 0.01))
  good("sample_size", "eps", sb, function(r, e) {
    rt <- rate_table(e$study, losses = "voronoi", B = 0)
    near(r$n, ifelse(rt$slope < 0, exp((log(0.01) - rt$intercept) / rt$slope), Inf))
  }, label = "n is where the fitted line reaches eps")
  bads("sample_size", "study", sb, c("chr", "null", "lst", "one"))
  bads("sample_size", "eps", sb,
       c("chr", "na", "nan", "inf", "neg", "zero", "null", "lst", "lgl", "fn"))
  bad("sample_size", "eps", quote(sample_size(study)), label = "eps missing")
  bads("sample_size", "loss", sb, c("chr", "na", "one", "lst", "chr2", "lgl"))
  good("sample_size", "loss", quote(sample_size(study, eps = 0.01, loss = "l2")),
       function(r, e) all(r$loss == "l2"))
  bads("sample_size", "stat", sb, K$choice)
  good("sample_size", "stat", quote(sample_size(study, eps = 0.01, stat = "median")),
       function(r, e) all(r$stat == "median"))
  good("plot.moe_study", "loss", quote(plot(study)), function(r, e) inherits(r, "moe_study"))
  bads("plot.moe_study", "loss", quote(plot(study)), c("chr", "na", "one", "lst", "chr2"))
  good("plot.moe_study", "loss", quote(plot(study, loss = "l2")),
       function(r, e) inherits(r, "moe_study"))
  bads("plot.moe_study", "stat", quote(plot(study)), K$choice)
  good("plot.moe_study", "stat", quote(plot(study, stat = "median")),
       function(r, e) inherits(r, "moe_study"))
  good("plot.moe_study", "...", quote(plot(study, main = "a title")),
       function(r, e) inherits(r, "moe_study"))
  good("as.data.frame.moe_study", "row.names", quote(as.data.frame(study)),
       function(r, e) identical(r, e$study$results))
  bad("as.data.frame.moe_study", "row.names", quote(as.data.frame(study, row.names = "a")),
      label = "one name for 8 rows")
  good("as.data.frame.moe_study", "optional", quote(as.data.frame(study, optional = TRUE)),
       function(r, e) nrow(r) == 8L)
  good("as.data.frame.moe_study", "...", quote(as.data.frame(study, bogus = 1)),
       function(r, e) nrow(r) == 8L)
  # rows of a rate table keep its class; columns that print() needs do not
  good("[.moe_rate_table", "...", quote(rate_table(study, B = 10)[1:2, ]),
       function(r, e) inherits(r, "moe_rate_table") && nrow(r) == 2L &&
         length(utils::capture.output(print(r))) > 0L)
  good("[.moe_rate_table", "...", quote(rate_table(study, B = 10)[, c("gating", "slope")]),
       function(r, e) identical(class(r), "data.frame") && ncol(r) == 2L)

  # ---- study_replay ----
  sr <- quote(study_replay(study = study, gating = "sigmoid", n = 100, rep = 1))
  good("study_replay", "study", sr, function(r, e) {
    st <- e$study$results
    i <- which(st$gating == "sigmoid" & st$n == 100 & st$rep == 1)
    near(r$result$l2, st$l2[i], 1e-10) && near(r$result$sse, st$sse[i], 1e-10)
  }, label = "the replay reproduces the study's fit")
  bads("study_replay", "study", sr, c("chr", "null", "lst", "one"))
  bads("study_replay", "gating", sr, K$choice)
  bad("study_replay", "gating", quote(study_replay(study, "normalized_sigmoid", 100, 1)),
      label = "a gate the study lacks")
  bad("study_replay", "gating", quote(study_replay(study, n = 100, rep = 1)),
      label = "gating missing")
  bads("study_replay", "n", sr,
       c("chr", "na", "nan", "inf", "neg", "zero", "huge", "null", "lst", "vec2"))
  bad("study_replay", "n", quote(study_replay(study, "sigmoid", 999, 1)),
      label = "a size the study lacks")
  bad("study_replay", "n", quote(study_replay(study, "sigmoid", rep = 1)), label = "n missing")
  bads("study_replay", "rep", sr, K$whole)
  bad("study_replay", "rep", quote(study_replay(study, "sigmoid", 100, 3)), label = "rep 3 of 2")
  bad("study_replay", "rep", quote(study_replay(study, "sigmoid", 100)), label = "rep missing")
  bads("study_replay", "expert", sr, c("chr", "na", "one", "lst", "chr2"))
  bad("study_replay", "expert", quote(study_replay(study, "sigmoid", 100, 1, expert = "linear")),
      label = "an expert the study lacks")
  good("study_replay", "expert", quote(study_replay(study, "softmax", 150, 2, expert = "relu")),
       function(r, e) inherits(r$fit, "moe_fit"))

  # ---- the paper's experiments ----
  good("paper_truth", "design", quote(paper_truth()),
       function(r, e) r$gating == "softmax" && r$beta1[1, 1] == 3)
  good("paper_truth", "design", quote(paper_truth("zero_slope")), function(r, e) r$beta1[1, 1] == 0)
  bads("paper_truth", "design", quote(paper_truth()), K$choice)
  bads("paper_truth", "expert", quote(paper_truth()), K$choice)
  good("paper_truth", "expert", quote(paper_truth(expert = "constant")),
       function(r, e) all(r$a == 0))
  good("paper_truth", "degree", quote(paper_truth(expert = "polynomial")),
       function(r, e) identical(r$degree, 2L))
  bads("paper_truth", "degree", quote(paper_truth(expert = "polynomial")), setdiff(K$whole, "null"))
  good("paper_sizes", "sizes", quote(paper_sizes()), function(r, e)
    length(r) == 20L && r[1] == 1000 && r[20] == 1e5 && all(diff(r) > 0))
  bads("paper_sizes", "sizes", quote(paper_sizes()), c(K$whole, "one"))
  bads("paper_sizes", "from", quote(paper_sizes()), c(K$number, "neg", "zero"))
  bads("paper_sizes", "to", quote(paper_sizes()), c(K$number, "neg", "zero"))
  bad("paper_sizes", "to", quote(paper_sizes(from = 1000, to = 1000)), label = "to = from")
  good("paper_sizes", "to", quote(paper_sizes(5, 10, 1000)),
       function(r, e) identical(r, c(10, 32, 100, 316, 1000)))

  ps <- quote(paper_study(n = c(100, 150), reps = 1, x_law = trap, progress = FALSE))
  good("paper_study", "design",
       quote(paper_study(n = c(40, 60), reps = 1, expert = "relu", progress = FALSE, eval_n = 200)),
       function(r, e) inherits(r, "moe_study") && nrow(r$results) == 4L)
  bads("paper_study", "design", ps, K$choice)
  bads("paper_study", "expert", ps, c("chr", "na", "one", "null", "lst"))
  bad("paper_study", "expert", set(ps, expert = c("relu", "relu")), label = "a repeated expert")
  bads("paper_study", "n", ps, c("chr", "na", "neg", "zero", "frac", "null", "lst", "lgl"))
  bads("paper_study", "reps", ps, K$whole)
  bads("paper_study", "sd", ps, c(K$number, "neg"))
  bads("paper_study", "seed", ps, c("chr", "na", "frac", "huge", "null", "lst"))
  bads("paper_study", "cache_dir", ps, c("one", "na", "chr2", "lst", "lgl"))
  bads("paper_study", "progress", ps, c("chr", "na", "one", "lst"))
  bad("paper_study", "...", set(ps, bogus = 1), expect = "bogus")
  bad("paper_study", "...", set(ps, k = 2), expect = "k",
      label = "k, which the paper's design fixes")

  pf <- quote(paper_figure1(reps = 1, n = c(100, 150), file = NULL, x_law = trap, progress = FALSE))
  good("paper_figure1", "file",
       quote(paper_figure1(reps = 1, n = c(40, 60), expert = "relu", file = "figure1.png",
                           progress = FALSE, eval_n = 200)),
       function(r, e) inherits(r, "moe_study") && file.exists(file.path(e$tmp, "figure1.png")))
  # a file that cannot be written is found before the study runs (the trap
  # x_law would fire first otherwise)
  bad("paper_figure1", "file", set(pf, file = "/no/such/dir/figure1.png"),
      label = "a file in a directory that does not exist")
  bads("paper_figure1", "reps", pf, K$whole)
  bads("paper_figure1", "file", pf, c("one", "na", "chr2", "lst", "lgl"))
  bads("paper_figure1", "design", pf, K$choice)
  bads("paper_figure1", "expert", pf, c("chr", "na", "one", "null", "lst"))
  bad("paper_figure1", "expert", set(pf, expert = c("relu", "relu")), label = "a repeated expert")
  bads("paper_figure1", "n", pf, c("chr", "na", "neg", "zero", "frac", "null", "lst"))
  bads("paper_figure1", "loss", pf, K$choice)
  bads("paper_figure1", "eps", pf, c("chr", "na", "neg", "zero", "lst", "lgl"))
  good("paper_figure1", "eps",
       quote(paper_figure1(reps = 1, n = c(40, 60), expert = "relu", file = NULL, progress = FALSE,
                           eps = 0.01, eval_n = 200)),
       function(r, e) inherits(r, "moe_study"))
  bads("paper_figure1", "seed", pf, c("chr", "na", "frac", "null"))
  bads("paper_figure1", "cache_dir", pf, c("one", "chr2"))
  bads("paper_figure1", "progress", pf, c("chr", "na", "one"))
  bads("paper_figure1", "width", pf, c(setdiff(K$number, "null"), "neg", "zero"))
  bads("paper_figure1", "height", pf, c(K$number, "neg", "zero"))
  bads("paper_figure1", "res", pf, c(K$number, "neg", "zero"))
  bad("paper_figure1", "res", set(pf, res = 10), label = "res = 10 dpi")
  bad("paper_figure1", "...", set(pf, bogus = 1), expect = "bogus")

  pt <- quote(paper_table1(reps = 1, n = c(100, 150), x_law = trap, progress = FALSE))
  pts <- quote(paper_table1(experts = "relu", studies = pstudies, B = 10))
  good("paper_table1", "studies", pts, function(r, e) {
    rt <- rate_table(e$pst_zero, losses = "expert_error1", B = 10)
    inherits(r, "moe_table1") && nrow(r) == 3L &&
      near(r$slope[1], rt$slope[rt$gating == "sigmoid"])
  }, label = "the zero-slope row is the study's rate")
  bads("paper_table1", "reps", pt, K$whole)
  bads("paper_table1", "n", pt, c("chr", "na", "neg", "zero", "frac", "null", "lst"))
  bads("paper_table1", "experts", pt, c("chr", "na", "one", "null", "lst"))
  bad("paper_table1", "experts", set(pt, experts = c("relu", "relu")), label = "a repeated expert")
  bads("paper_table1", "loss", pt, K$choice)
  bads("paper_table1", "studies", pt, c("chr", "one", "lst", "lgl"))
  bad("paper_table1", "studies", quote(paper_table1(studies = list(study))),
      label = "an unnamed list")
  bad("paper_table1", "studies", quote(paper_table1(studies = list(zero_slope = 1))),
      label = "a list of numbers")
  bad("paper_table1", "studies",
      quote(paper_table1(experts = c("relu", "gelu"), studies = pstudies)),
      label = "no study of an expert")
  bads("paper_table1", "seed", pt, c("chr", "na", "frac", "null"))
  bads("paper_table1", "cache_dir", pt, c("one", "chr2", "lgl"))
  bads("paper_table1", "B", pts, setdiff(K$whole, "zero"))
  bad("paper_table1", "B", set(pt, B = -1), label = "B = -1, before the studies run")
  bad("paper_table1", "B", set(pt, B = "a"), label = "B = \"a\", before the studies run")
  bads("paper_table1", "progress", pt, c("chr", "na", "one"))
  bad("paper_table1", "...", set(pt, bogus = 1), expect = "bogus")

  # ---- threads, progress ----
  good("blas_threads", "n", quote(blas_threads()),
       function(r, e) is.na(r) || (is.numeric(r) && r >= 1))
  good("blas_threads", "n",
       quote(local({ p <- blas_threads(); q <- blas_threads(1); if (!is.na(p)) blas_threads(p); q })),
       function(r, e) is.na(r) || r >= 1, label = "set and restored")
  bads("blas_threads", "n", quote(blas_threads()), setdiff(K$whole, "null"))
  bad("blas_threads", "n", quote(blas_threads(1025)))
  mt <- quote(moe_threads())
  good("moe_threads", "threads", mt,
       function(r, e) is.integer(r) && r[["requested"]] == 1L && r[["available"]] == 1L)
  good("moe_threads", "threads", quote(moe_threads(threads = 2)),
       function(r, e) r[["requested"]] == 2L && r[["available"]] %in% 1:2)
  bads("moe_threads", "threads", mt, K$whole)
  bad("moe_threads", "threads", quote(moe_threads(threads = 1025)))
  good("moe_threads", "n", quote(moe_threads(threads = 2, n = 10)),
       function(r, e) r[["fit"]] == 1L && r[["eval"]] == 1L)
  good("moe_threads", "n", quote(moe_threads(n = 0)), function(r, e) r[["fit"]] == 1L)
  bads("moe_threads", "n", mt, setdiff(K$whole, c("null", "zero")))
  good("moe_threads", "npar", quote(moe_threads(n = 1e6, npar = 110)),
       function(r, e) r[["rows_fit"]] >= 1L && r[["rows_eval"]] >= 1L)
  bads("moe_threads", "npar", mt, K$whole)
  if (requireNamespace("progressr", quietly = TRUE)) {
    good("study_progress_handler", "interval", quote(study_progress_handler()),
         function(r, e) is.function(r))
    bads("study_progress_handler", "interval", quote(study_progress_handler()), c(K$number, "neg"))
    bads("study_progress_handler", "file", quote(study_progress_handler()),
         c("chr", "na", "one", "null", "lst", "lgl"))
    good("study_progress_handler", "file", quote(study_progress_handler(0, file = stdout())),
         function(r, e) is.function(r))
  }
  rows
}
