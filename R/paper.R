# The paper's experiments: the two designs, Figure 1 and the measured Table 1.

#' The designs of the paper's experiments
#'
#' The true mixing measures of the Figure 1 and Table 1 studies. Both are
#' two-expert softmax models, which are also two-expert sigmoid models (a
#' softmax with logits \eqn{(z, 0)} has gates \eqn{\sigma(z)} and
#' \eqn{\sigma(-z)}), so both gates are fitted to the same data and both are
#' well specified.
#'
#' * `"same_data"`: `beta0 = c(0.5, 0)`, `beta1 = c(3, 0)`; in the sigmoid
#'   parameterisation the gating slopes are \eqn{\pm 3}: the over-specified
#'   atom has a non-zero slope (regime `"nonzero_slope"`).
#' * `"zero_slope"`: the same with `beta1 = c(0, 0)`: constant gates
#'   \eqn{\sigma(0.5)} and \eqn{\sigma(-0.5)}, so the over-specified atom has
#'   gating slope zero (regime `"zero_slope"`).
#'
#' The experts are \eqn{h(1.5 x + 0.3)} and \eqn{h(-x + 0.2)} for the chosen
#' expert type h (the constant expert keeps b = 0.3 and 0.2). The paper does
#' not publish its simulation settings; these are ours.
#'
#' @param design `"same_data"` or `"zero_slope"`.
#' @param expert The expert type (see [moe_params()]).
#' @param degree Degree of the polynomial expert (default 2).
#' @returns A [moe_params()] object with the softmax gate.
#' @seealso [paper_study()], [paper_figure1()], [paper_table1()].
#' @examples
#' paper_truth("same_data", "relu")
#' paper_truth("zero_slope", "linear")
#' @export
paper_truth <- function(design = c("same_data", "zero_slope"), expert = "relu", degree = NULL) {
  design <- check_choice(design[1L], c("same_data", "zero_slope"), "design")
  expert <- check_choice(expert, expert_types, "expert")
  if (expert == "polynomial" && is.null(degree)) degree <- 2L
  slope <- if (design == "same_data") 3 else 0
  moe_params(beta0 = c(0.5, 0), beta1 = c(slope, 0),
             a = if (expert == "constant") NULL else c(1.5, -1), b = c(0.3, 0.2),
             gating = "softmax", expert = expert, degree = degree)
}

#' Sample sizes of the paper's studies
#'
#' @param sizes Number of sample sizes.
#' @param from,to Smallest and largest sample size.
#' @returns `sizes` whole numbers log-spaced from `from` to `to`.
#' @examples
#' paper_sizes(5)
#' @export
paper_sizes <- function(sizes = 20L, from = 1e3, to = 1e5) {
  sizes <- check_whole(sizes, "sizes", min = 2)
  from <- check_number(from, "from", min = 1)
  to <- check_number(to, "to", min = from, open_min = TRUE)
  unique(round(10^seq(log10(from), log10(to), length.out = sizes)))
}

#' Run one of the paper's convergence studies
#'
#' Runs [convergence_study()] on a design of [paper_truth()], fitting k = 3
#' experts (one surplus atom, made by splitting true atom 1) with the sigmoid
#' and the softmax gate to the same data: inputs uniform on \[-1, 1\], noise
#' sd 0.1, starts near the truth (`init_sd = 0.05`), Voronoi loss exponents
#' `r_exact = 1`, `r_over = 2`. Besides the Voronoi loss, the expert error
#' and the regression error it records `cell_error`, the largest
#' [cell_error()] over the true atoms. When no parallel [future::plan()] is
#' set it uses all cores for the duration of the call (set
#' `options(sigmoe.all_cores = FALSE)` to run in the current session instead).
#'
#' @param design `"same_data"` or `"zero_slope"`, see [paper_truth()].
#' @param expert Expert types, one panel or column each.
#' @param n Sample sizes (default 20 sizes from 1e3 to 1e5).
#' @param reps Replicates per sample size.
#' @param sd Noise standard deviation.
#' @param seed Seed of the study.
#' @param cache_dir Optional directory to keep finished tasks in, so that an
#'   interrupted run resumes (see [convergence_study()]).
#' @param progress Show a progress bar (default: in interactive sessions).
#' @param ... Further arguments to [convergence_study()], such as `control`.
#' @returns A `moe_study` object.
#' @seealso [paper_figure1()], [paper_table1()].
#' @examples
#' \donttest{
#' st <- paper_study("zero_slope", "relu", n = c(500, 1000), reps = 2)
#' rate_table(st, B = 50)
#' }
#' @export
paper_study <- function(design = c("same_data", "zero_slope"), expert = c("relu", "linear"),
                        n = paper_sizes(), reps = 40L, sd = 0.1, seed = 20240513L,
                        cache_dir = NULL, progress = NULL, ...) {
  design <- check_choice(design[1L], c("same_data", "zero_slope"), "design")
  if (!is.character(expert) || length(expert) < 1L)
    abort_arg("expert", "a character vector of expert types", expert)
  check_paper_fixed(names(list(...)))
  truth <- paper_truth(design, expert[1L])
  degree <- if ("polynomial" %in% expert) 2L else NULL
  with_all_cores(
    convergence_study(truth, n = n, reps = reps, k = 3L, gating = c("sigmoid", "softmax"),
                      expert = expert, degree = degree, sd = sd, seed = seed,
                      init = "near_truth", split = 1L, init_sd = 0.05,
                      losses = list("voronoi", "expert_error", "l2", cell_error = paper_cell_error),
                      cache_dir = cache_dir, progress = progress, ...)
  )
}

# What the paper's design fixes, as paper_study() passes it to
# convergence_study(): given again in `...` it is an error that says so,
# rather than R's "formal argument matched by multiple actual arguments".
paper_fixed <- c(truth = "the design's truth, see paper_truth()", k = "3 (one surplus expert)",
                 gating = "c(\"sigmoid\", \"softmax\")", degree = "2 for polynomial experts",
                 init = "\"near_truth\"", split = "1 (true atom 1 is split)", init_sd = "0.05",
                 losses = "the Voronoi loss, expert, cell and L2 errors")

check_paper_fixed <- function(dots) {
  fixed <- intersect(dots, names(paper_fixed))
  if (length(fixed))
    stop(sprintf(paste0("`%s` is fixed at %s by paper_study(), the paper's design; call ",
                        "convergence_study() to choose it."), fixed[1L], paper_fixed[[fixed[1L]]]),
         call. = FALSE)
}

# The largest cell error over the true atoms (see cell_error()), as a study loss.
paper_cell_error <- function(fit, truth, x) max(cell_error(fit, truth, x))

# Evaluate expr under a multisession plan on all cores when the current plan
# is sequential (the default) and future is installed; otherwise as it is.
with_all_cores <- function(expr) {
  if (isTRUE(getOption("sigmoe.all_cores", TRUE)) &&
      requireNamespace("future", quietly = TRUE) &&
      requireNamespace("future.apply", quietly = TRUE) &&
      inherits(future::plan(), "sequential")) {
    cores <- future::availableCores()
    if (cores > 1L) {
      old <- future::plan(future::multisession, workers = cores)
      on.exit(future::plan(old), add = TRUE)
    }
  }
  expr
}

#' Reproduce the paper's Figure 1
#'
#' The main job of the package: runs the full-size Figure 1 study (by
#' default ReLU and linear experts as in the paper, sigmoid and softmax gates
#' on the same data, k* = 2, k = 3, 20 sample sizes from 1e3 to 1e5, `reps`
#' replicates), writes the figure (mean loss against n on log-log axes,
#' sigmoid in blue, softmax in green, fitted lines red and dash-dotted with
#' their slopes in the legend, one panel per expert type; see
#' [plot.moe_study()]) and prints the rate table, the sample sizes each gate
#' needs (extrapolated ones marked `*`) and how to read them. It runs
#' through the [future::plan()] in force, or on all cores when none is set.
#'
#' Means are the paper's statistic; the printed rate table counts the fits
#' that stopped at the iteration cap or at a bound, and
#' `rate_table(st, stat = "median")` and `plot(st, stat = "median")` give
#' the medians beside them.
#'
#' @inheritParams paper_study
#' @param expert Expert types, one panel each: a character vector of distinct
#'   types of [moe_params()]; default the paper's two, `c("relu", "linear")`;
#'   `c("relu", "linear", "gelu")` adds a GELU panel.
#' @param file Where to write the figure (PNG), or `NULL` to draw on the
#'   current device.
#' @param loss The loss on the vertical axis: `"voronoi"` (as in the paper),
#'   `"expert_error"`, `"cell_error"` or `"l2"`.
#' @param eps Loss levels for [sample_size()]; default: for each expert type,
#'   the geometric mean of the two gates' mean losses at the largest n.
#' @param progress Report progress: `NULL` (a progress bar in interactive
#'   sessions only), `TRUE` (always, through the progressr handlers in force,
#'   see [study_progress_handler()] for one that writes lines to a log) or
#'   `FALSE`.
#' @param width,height,res Size (inches) and resolution of the PNG; the
#'   default width is 5 inches per panel.
#' @returns The `moe_study`, invisibly.
#' @seealso [paper_table1()], [study_progress_handler()], the vignette
#'   `vignette("figure1", package = "sigmoe")`.
#' @examples
#' \donttest{
#' paper_figure1(reps = 2, n = c(500, 1000, 2000), file = NULL)
#' }
#' @export
paper_figure1 <- function(reps = 40L, file = "figure1.png", design = "same_data",
                          expert = c("relu", "linear"), n = paper_sizes(), loss = "voronoi",
                          eps = NULL, seed = 20240513L, cache_dir = NULL, progress = NULL,
                          width = NULL, height = 4.5, res = 150, ...) {
  # every argument is checked before the study runs, so that a typo costs
  # seconds, not the hours of the study (the study checks its own first)
  design <- check_choice(design[1L], c("same_data", "zero_slope"), "design")
  loss <- check_choice(loss, c("voronoi", "expert_error", "cell_error", "l2"), "loss")
  expert <- check_expert_types(expert, "expert")
  if (!is.null(eps) && (!is.numeric(eps) || !is.null(dim(eps)) || length(eps) < 1L ||
                        any(!is.finite(eps) | eps <= 0)))
    abort_arg("eps", "NULL or a vector of numbers > 0 (target losses)", eps)
  check_paper_fixed(names(list(...)))
  if (!is.null(file) && (!is.character(file) || length(file) != 1L || is.na(file) || !nzchar(file)))
    abort_arg("file", "NULL or a file name", file)
  if (!is.null(file)) check_writable_dir(file, "file")
  width <- if (is.null(width)) 5 * length(expert) else check_number(width, "width", min = 1)
  height <- check_number(height, "height", min = 1)
  res <- check_number(res, "res", min = 30)
  st <- paper_study(design, expert = expert, n = n, reps = reps, seed = seed,
                    cache_dir = cache_dir, progress = progress, ...)
  if (!is.null(file)) {
    grDevices::png(file, width = width, height = height, units = "in", res = res)
    on.exit(grDevices::dev.off(), add = TRUE)
  }
  graphics::plot(st, loss = loss)
  if (!is.null(file)) {
    # closed now, so that the file is complete when we say where it is
    grDevices::dev.off()
    on.exit()
  }
  cat(sprintf("Figure 1 (%s design, %s loss, %s experts): %d fits in %.1f s\n\n", design, loss,
              paste(expert, collapse = ", "), nrow(st$results), st$elapsed))
  print(rate_table(st, losses = loss))
  cat("\n")
  print(figure1_sample_sizes(st, loss, eps))
  cat("\n", figure1_reading_guide(loss), sep = "")
  if (!is.null(file)) cat(sprintf("\nFigure written to %s\n", normalizePath(file, mustWork = FALSE)))
  invisible(st)
}

# The directory of a file to be written must exist and be writable: checked
# before a long computation, not after it.
check_writable_dir <- function(file, arg) {
  dir <- dirname(path.expand(file))
  if (!dir.exists(dir))
    stop(sprintf("`%s` must be in an existing directory; \"%s\" does not exist.", arg, dir),
         call. = FALSE)
  if (file.access(dir, 2L) != 0L)
    stop(sprintf("`%s` must be in a directory you can write to; \"%s\" is not writable.", arg, dir),
         call. = FALSE)
  invisible(file)
}

#' A progress handler that writes lines to a log
#'
#' A [progressr](https://progressr.futureverse.org) handler for long studies
#' run in batch (`Rscript`, a scheduler): instead of a bar redrawn with
#' carriage returns, which a log file shows as one unreadable line, it writes
#' one line at the start, then at most one every `interval` seconds, and one
#' at the end: tasks done out of all, time elapsed and an estimate of the
#' time left (from the mean time per finished task so far). A task is one
#' data set fitted with every gate.
#'
#' Set it with `progressr::handlers(study_progress_handler())` in a script
#' (package functions never set handlers), then run the study with
#' `progress = TRUE`, as `inst/scripts/figure1.R` does.
#'
#' @param interval Least number of seconds between two lines, a number >= 0.
#' @param file Where to write: `""` (the default, standard output, or the
#'   [sink()] in force, which a log or [capture.output()] collects) or a
#'   connection.
#' @returns A progressr progression handler.
#' @seealso [convergence_study()], [paper_figure1()].
#' @examples
#' if (requireNamespace("progressr", quietly = TRUE)) {
#'   truth <- moe_params(beta0 = c(0.5, 0), beta1 = c(3, 0), a = c(1, -1),
#'                       b = c(0.2, 0.1), gating = "softmax", expert = "relu")
#'   op <- options(progressr.handlers = NULL)
#'   progressr::handlers(study_progress_handler(interval = 0))
#'   st <- convergence_study(truth, n = c(200, 400), reps = 2, k = 3, sd = 0.1,
#'                           seed = 1, progress = TRUE)
#'   options(op)
#' }
#' @export
study_progress_handler <- function(interval = 10, file = "") {
  if (!requireNamespace("progressr", quietly = TRUE))
    stop("study_progress_handler() needs the progressr package.", call. = FALSE)
  interval <- check_number(interval, "interval", min = 0)
  if (!identical(file, "") && !inherits(file, "connection"))
    abort_arg("file", "\"\" (standard output) or a connection", file)
  t0 <- NULL
  last <- -Inf
  say <- function(done, total, final = FALSE) {
    now <- proc.time()[["elapsed"]]
    spent <- now - t0
    left <- if (final) "done"
            else if (done > 0) sprintf("~%s left", format_seconds(spent / done * (total - done)))
            else "estimating the time left"
    cat(sprintf("  %d/%d tasks, %s elapsed, %s\n", done, total, format_seconds(spent), left),
        file = file)
    last <<- now
  }
  reporter <- list(
    initiate = function(config, state, progression, ...) {
      t0 <<- last <<- proc.time()[["elapsed"]]
      cat(sprintf("  0/%d tasks, started at %s\n", config$max_steps, format(Sys.time(), "%H:%M:%S")),
          file = file)
    },
    update = function(config, state, progression, ...) {
      if (is.null(t0)) t0 <<- proc.time()[["elapsed"]]
      if (proc.time()[["elapsed"]] - last >= interval && state$step < config$max_steps)
        say(state$step, config$max_steps)
    },
    finish = function(config, state, progression, ...) {
      if (is.null(t0)) return(invisible())
      if (state$step >= config$max_steps) {
        say(state$step, config$max_steps, final = TRUE)
      } else {
        # an error or an interrupt ends the study early: no time left to guess
        cat(sprintf("  stopped after %d/%d tasks, %s elapsed\n", state$step, config$max_steps,
                    format_seconds(proc.time()[["elapsed"]] - t0)), file = file)
      }
      t0 <<- NULL
    })
  # not target "terminal": progressr would then hold back the study's output,
  # messages and warnings until the end to keep a bar intact, which lines
  # written one after another do not need
  progressr::make_progression_handler("sigmoe_lines", reporter, enable = TRUE, target = "gui")
}

# "4 s", "3 min 10 s", "2 h 5 min": durations as a log reader wants them.
format_seconds <- function(s) {
  s <- max(0, round(s))
  if (s < 60) return(sprintf("%d s", s))
  if (s < 3600) return(sprintf("%d min %d s", s %/% 60, s %% 60))
  sprintf("%d h %d min", s %/% 3600, (s %% 3600) %/% 60)
}

# Distinct expert types, or an error naming the argument.
check_expert_types <- function(x, arg) {
  if (!is.character(x) || length(x) < 1L || anyNA(x) || !all(x %in% expert_types))
    abort_arg(arg, sprintf("a character vector of distinct expert types (%s)",
                           paste0("\"", expert_types, "\"", collapse = ", ")), x)
  if (anyDuplicated(x))
    stop(sprintf("`%s` must not repeat a type; \"%s\" is repeated.", arg, x[anyDuplicated(x)]),
         call. = FALSE)
  x
}

# How to read what paper_figure1() prints, in a few plain lines.
figure1_reading_guide <- function(loss) {
  paste0(
    "How to read these tables:\n",
    sprintf("  slope: the least-squares slope of log(mean %s loss) on log(n) over the studied n\n", loss),
    "    (the red dash-dotted lines of the figure); CI: a bootstrap over replicates.\n",
    "  theory: the slope the theory predicts, a prediction beside the measurement, not a result;\n",
    "    see ", theory_source, ".\n",
    "  maxit, bound, failed: fits that stopped at the iteration cap, ended at a bound or failed.\n",
    "  Means are the paper's statistic; medians, which such fits move less, are in\n",
    "    rate_table(st, stat = \"median\") and plot(st, stat = \"median\"),\n",
    "    st being the study returned.\n",
    "  n: the sample size at which the gate's line reaches eps; * marks an extrapolation.\n")
}

# Sample sizes each gate needs to reach loss levels eps; by default, for each
# expert type, one level: the geometric mean of the two gates' mean losses at
# the largest n (the panels' losses differ by orders of magnitude, so one
# level for all would be meaningless for some).
figure1_sample_sizes <- function(st, loss, eps = NULL) {
  if (!is.null(eps)) return(sample_size(st, eps = eps, loss = loss))
  m <- study_means(st, loss)
  parts <- lapply(st$setup$expert, function(e) {
    v <- m$mean[m$expert == e & m$n == max(m$n) & is.finite(m$mean) & m$mean > 0]
    if (!length(v)) return(NULL)
    ss <- sample_size(st, eps = signif(exp(mean(log(v))), 2), loss = loss)
    ss[ss$expert == e, , drop = FALSE]
  })
  new_sample_size(do.call(rbind, parts))
}

#' The paper's Table 1, measured
#'
#' Measures the rate at which the least-squares estimator recovers the
#' over-specified expert (the expert error of true atom 1, which the fits
#' split in two) for each expert type, in three settings: the sigmoid gate
#' when the over-specified true atom has gating slope zero (design
#' `"zero_slope"`), the sigmoid gate when it has a non-zero slope (design
#' `"same_data"`), and the softmax gate (design `"same_data"`). Each cell is
#' the fitted log-log slope with its bootstrap confidence interval, beside the
#' rate the theory predicts (`vignette("theory", package = "sigmoe")`,
#' arXiv:2405.13997 and arXiv:2402.02952; `NA` where they state none).
#'
#' @inheritParams paper_study
#' @param experts Expert types, the columns of the table.
#' @param loss The loss whose rate is measured (default `"expert_error1"`,
#'   the over-specified atom's expert error).
#' @param studies Optional named list of `moe_study` objects from
#'   [paper_study()] (as in the attribute `"studies"` of an earlier result),
#'   to build the table without running the studies again. For each design
#'   and expert the first study whose name starts with the design and that
#'   covers the expert is used.
#' @param B Bootstrap replicates for the confidence intervals.
#' @returns A data frame of class `moe_table1`, one row per (setting,
#'   expert), with the measured slope, its interval, and the predicted rate;
#'   it prints as the table. The studies are in attribute `"studies"`: per
#'   design one for the experts that use x and one for the constant expert
#'   (whose truth has a = 0).
#' @seealso [paper_figure1()], the vignette `vignette("table1", package = "sigmoe")`.
#' @examples
#' \donttest{
#' tab <- paper_table1(reps = 2, n = c(500, 1000, 2000), experts = c("relu", "linear"), B = 50)
#' tab
#' }
#' @export
paper_table1 <- function(reps = 40L, n = paper_sizes(),
                         experts = c("relu", "gelu", "polynomial", "constant", "linear"),
                         loss = "expert_error1", studies = NULL, seed = 20240513L,
                         cache_dir = NULL, B = 1000L, progress = NULL, ...) {
  # checked before any study runs, so that a typo costs nothing
  experts <- check_expert_types(experts, "experts")
  paper_losses <- c("expert_error1", "expert_error2", "expert_error", "voronoi", "cell_error", "l2")
  loss <- check_choice(loss, paper_losses, "loss")
  B <- check_whole(B, "B", min = 0)
  # the studies get file.path(cache_dir, design): a number or TRUE would make
  # a directory "1" or "TRUE" in the working directory
  if (!is.null(cache_dir) && (!is.character(cache_dir) || length(cache_dir) != 1L ||
                              is.na(cache_dir) || !nzchar(cache_dir)))
    abort_arg("cache_dir", "NULL or a directory path", cache_dir)
  if (!is.null(cache_dir) && file.exists(cache_dir) && !dir.exists(cache_dir))
    stop(sprintf("`cache_dir` must be a directory, but \"%s\" is a file.", cache_dir), call. = FALSE)
  check_paper_fixed(names(list(...)))
  if (is.null(studies)) {
    # the constant expert ignores x, so its truth (a = 0) is a study of its own
    groups <- list(experts[experts != "constant"], intersect(experts, "constant"))
    groups <- groups[lengths(groups) > 0L]
    studies <- list()
    for (des in c("zero_slope", "same_data")) for (g in groups) {
      id <- if (identical(g, "constant")) paste0(des, "_constant") else des
      studies[[id]] <- paper_study(des, expert = g, n = n, reps = reps, seed = seed,
                                   cache_dir = if (is.null(cache_dir)) NULL else file.path(cache_dir, id),
                                   progress = progress, ...)
    }
  } else if (!is.list(studies) || is.null(names(studies)) ||
             !all(vapply(studies, inherits, logical(1), "moe_study"))) {
    abort_arg("studies", "a named list of `moe_study` objects from paper_study()", studies)
  }
  settings <- data.frame(
    setting = c("sigmoid, zero slope", "sigmoid, non-zero slope", "softmax"),
    design = c("zero_slope", "same_data", "same_data"),
    gating = c("sigmoid", "sigmoid", "softmax"), stringsAsFactors = FALSE)
  rows <- list()
  for (s in seq_len(nrow(settings))) for (e in experts) {
    st <- find_paper_study(studies, settings$design[s], e)
    rt <- rate_table(st, losses = loss, B = B)
    rt <- rt[rt$gating == settings$gating[s] & rt$expert == e, , drop = FALSE]
    rows[[length(rows) + 1L]] <-
      data.frame(setting = settings$setting[s], regime = st$regime, expert = e,
                 slope = rt$slope, lower = rt$lower, upper = rt$upper, n_min = rt$n_min,
                 n_max = rt$n_max, theory_slope = rt$theory_slope, theory = rt$theory,
                 stringsAsFactors = FALSE)
  }
  out <- do.call(rbind, rows)
  out$expert <- factor(out$expert, levels = experts)
  out <- out[order(match(out$setting, settings$setting), out$expert), ]
  rownames(out) <- NULL
  structure(out, class = c("moe_table1", "data.frame"), loss = loss,
            level = attr(rt, "level"), studies = studies)
}

find_paper_study <- function(studies, design, expert) {
  for (nm in names(studies)) {
    st <- studies[[nm]]
    if (startsWith(nm, design) && inherits(st, "moe_study") && expert %in% st$setup$expert)
      return(st)
  }
  stop(sprintf("`studies` has no study of the %s design with the %s expert.", design, expert),
       call. = FALSE)
}

#' @export
print.moe_table1 <- function(x, digits = 2L, ...) {
  # decimal places of formatC(format = "f"): 0 shows whole numbers
  digits <- check_digits(digits, min = 0)
  cells <- sprintf("%s [%s, %s]", formatC(x$slope, digits = digits, format = "f"),
                   formatC(x$lower, digits = digits, format = "f"),
                   formatC(x$upper, digits = digits, format = "f"))
  pred <- ifelse(is.na(x$theory_slope), "-", formatC(x$theory_slope, digits = 2, format = "f"))
  settings <- unique(x$setting)
  experts <- levels(x$expert)
  measured <- matrix("", length(settings), length(experts), dimnames = list(settings, experts))
  theory <- measured
  for (i in seq_len(nrow(x))) {
    measured[x$setting[i], as.character(x$expert[i])] <- cells[i]
    theory[x$setting[i], as.character(x$expert[i])] <- pred[i]
  }
  lev <- attr(x, "level")
  cat(sprintf("Measured rate exponents of %s (slope of log mean loss on log n, %s%% bootstrap CI)\n",
              attr(x, "loss"), if (is.null(lev)) "95" else format(100 * lev)))
  cat(sprintf("n from %s to %s\n\n", format(min(x$n_min)), format(max(x$n_max))))
  print(noquote(measured))
  cat("\nPredicted by the theory (up to log factors; '-' where it states none, 0 = slower than any power):\n\n")
  print(noquote(theory))
  invisible(x)
}
