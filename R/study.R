# Convergence-rate studies: the design of a study, its validation and its
# table of tasks. The tasks run in R/study-run.R (one L'Ecuyer-CMRG stream per
# task, so the results do not depend on the plan or the number of workers),
# are cached task by task in R/study-cache.R, and the log-log lines of the
# mean losses are fitted in R/rates.R.

study_builtin_losses <- c("voronoi", "expert_error", "l2")

#' Convergence-rate study of the least-squares estimator
#'
#' For every expert type, sample size in `n` and replicate, draws one data
#' set from the truth, fits a k-expert model with each gate in `gating` to
#' that same data set, and records the losses of the fit against the truth.
#' [rate_table()], [plot()][plot.moe_study], [sample_size()] and
#' `as.data.frame()` read the result.
#'
#' @section The truth and the two gates:
#' The data are always simulated from `truth` as given (its gate), with the
#' expert replaced by each type in `expert`. A gate of `gating` other than the
#' truth's is compared with the truth rewritten in its own parameterisation
#' where the two models coincide: a two-expert softmax truth with logits
#' \eqn{(z_1, 0)}{(z1, 0)} is the two-expert sigmoid truth with gates
#' \eqn{\sigma(z_1)}{sigma(z1)} and \eqn{\sigma(-z_1)}{sigma(-z1)}, i.e.
#' `beta0 = c(beta0[1], -beta0[1])`, `beta1 = rbind(beta1[1, ], -beta1[1, ])`
#' and the same experts; conversely a two-expert sigmoid truth with
#' `beta0[2] == -beta0[1]` and `beta1[2, ] == -beta1[1, ]` is a softmax
#' truth. In every other case no parameter of the other gate gives the true
#' regression function: that gate is still fitted, but it is misspecified.
#' The study says so in a message, in the column `misspecified` and when
#' printed; its Voronoi loss is `NA` (the parameters are not comparable), its
#' expert error uses cells on the expert parameters alone, and it starts from
#' data-driven starts (`nstart`) instead of near the truth.
#'
#' @section Starts near the truth (`init = "near_truth"`):
#' The theory is about the global least-squares minimiser, and as in the
#' simulations of this line of work each fit is a single local search from a
#' start near the truth. With k > k* surplus atoms are made by splitting true
#' atoms (`split`, by default atoms 1, 2, ... in turn) so that the weights add
#' up: an atom split into m copies has, in each copy, weight \eqn{w^*/m}{w*/m},
#' i.e. `beta0 = qlogis(plogis(beta0*) / m)` for the sigmoid gates and
#' `beta0* - log(m)` for the softmax gate. The copies of the softmax reference
#' atom come last, and the softmax start is re-expressed relative to the last
#' copy (subtracting its `beta0` and `beta1` from every atom), which leaves the
#' model unchanged. With k < k* the k heaviest true atoms are kept. Then every
#' free parameter gets independent Gaussian noise of standard deviation
#' `init_sd` (default 0.05), drawn from the task's random stream. With
#' `init = "multistart"` every fit uses `nstart` data-driven starts of
#' [moe_fit()] instead, and knows nothing of the truth.
#'
#' @section Losses recorded:
#' One row per (expert, gating, n, replicate) with
#' * `voronoi`: [voronoi_loss()] against the truth in that gate's
#'   parameterisation (`r_exact = 1`, `r_over = 2`);
#' * `expert_error`: the largest [expert_error()] over the true experts, and
#'   `expert_error1`, ..., one per true expert;
#' * `l2`: the \eqn{L^2(\mu)}{L2(mu)} distance between the fitted and the true
#'   regression functions;
#' * any named function of `losses`, called as `f(fit, truth, x)` with the
#'   `moe_fit`, the truth (in the fitted gate's parameterisation when it
#'   exists) and the evaluation sample, returning one number;
#'
#' all computed on one evaluation sample of `eval_n` points from `x_law`,
#' drawn once from `seed`; and always `sse`, the convergence `code`,
#' `converged`, `iterations`, the fit's `seconds`, `error` (the message if the
#' fit failed, else `NA`) and `seed`, the task's L'Ecuyer-CMRG `.Random.seed`
#' as a comma-separated string ([study_replay()] reruns one cell from it).
#'
#' @section Random numbers and parallel runs:
#' `seed` starts the L'Ecuyer-CMRG generator; the evaluation sample uses its
#' first stream and task t (tasks numbered by expert, then n, then replicate)
#' the t-th next stream ([parallel::nextRNGStream()]). Within a task the data
#' are drawn from the task's stream, and the start of gate g from its g-th
#' sub-stream, so a gate can be replayed without the other. The session's
#' own random number generator is left as it was.
#'
#' Tasks run through [future.apply::future_lapply()] when future.apply is
#' installed (else [lapply()]), under whatever [future::plan()] is set, so
#' the same call runs sequentially, on local cores, or elsewhere:
#' ```
#' future::plan(future::multisession, workers = 2)          # local cores
#' future::plan(future::cluster, workers = c("n1", "n2"))   # machines over ssh
#' future::plan(future.batchtools::batchtools_slurm,         # a Slurm cluster,
#'              template = "slurm.tmpl", resources = list(ncpus = 1))
#' ```
#' Results are identical, bit for bit, under every plan and any number of
#' workers (all columns but `seconds`). With a cluster plan, `cache_dir` must
#' be on a file system that every node sees. Each fit is single-threaded:
#' every task sets the BLAS to one thread ([blas_threads()]) and the C core
#' uses `control$threads` OpenMP threads (default 1), so the processes times
#' threads never exceed the workers of the plan; choose as many workers as
#' cores (the default of `multisession`).
#'
#' @section Progress and caching:
#' Every finished task signals a [progressr::progressor()] step. A progress
#' bar is shown when `progress = TRUE`, or by default in interactive
#' sessions; otherwise the steps are silent unless the caller sets handlers
#' (e.g. `progressr::handlers(global = TRUE)` or wraps the call in
#' `progressr::with_progress()`).
#'
#' With `cache_dir`, the settings of the call are stored in
#' `cache_dir/study.rds` and every task writes its rows to
#' `cache_dir/task-NNNNNN.rds` as soon as it finishes (to a temporary file
#' first, then renamed, so a file is either complete or absent). Running the
#' same call again reads the finished tasks and computes only the missing
#' ones, so an interrupted or crashed study loses at most the tasks in
#' flight. A call with different settings pointing at the same directory is
#' an error, never a mix of results. (Functions such as `x_law` are compared
#' by their code, not by the values they capture.)
#'
#' @param truth The true mixing measure, a [moe_params()] object, in either
#'   gate's parameterisation (see the section on the truth).
#' @param n Sample sizes: a vector of distinct whole numbers, each larger than
#'   the number of free parameters of the fitted models.
#' @param reps Replicates per sample size, a whole number >= 1 (>= 2 for the
#'   bootstrap of [rate_table()]).
#' @param k Number of experts of the fitted models, a whole number >= 1.
#' @param gating Gates to fit, a subset of `"sigmoid"`, `"softmax"`,
#'   `"normalized_sigmoid"` (default both the sigmoid and the softmax gate).
#' @param expert Expert types, a character vector (see [moe_params()]); the
#'   truth's atoms are used with each type. `NULL` means the truth's expert.
#' @param sd Noise standard deviation, a number >= 0.
#' @param x_law The input law mu: `NULL` (uniform on \eqn{[-1, 1]^d}) or a
#'   function `function(n, d)` returning an n x d numeric matrix, drawing
#'   from R's generator.
#' @param init `"near_truth"` (default) or `"multistart"`, see the section
#'   on starts.
#' @param losses Losses to record: a character vector of `"voronoi"`,
#'   `"expert_error"`, `"l2"`, or a list mixing these names with named
#'   functions `function(fit, truth, x)`.
#' @param seed A whole number, the seed of the study.
#' @param cache_dir `NULL`, or a directory (created if needed) where every
#'   finished task is stored, see the section on caching.
#' @param ... Not used; must be empty (it catches misspelt arguments).
#' @param degree Degree of the polynomial expert, when `expert` includes
#'   `"polynomial"` (default: the truth's degree).
#' @param split With `init = "near_truth"` and k > k*: which true atom each
#'   of the k - k* surplus atoms splits, a vector of k - k* atom numbers
#'   (repeats split an atom into more copies). Default atoms 1, 2, ...
#' @param init_sd Standard deviation of the noise added to near-truth
#'   starts, a number >= 0.
#' @param nstart Number of data-driven starts for `init = "multistart"` and
#'   for misspecified gates.
#' @param control Solver settings for every fit, see [moe_control()].
#' @param eval_n Size of the evaluation sample of the losses, a whole number
#'   >= 100.
#' @param progress `NULL` (a progress bar in interactive sessions only),
#'   `TRUE` (always) or `FALSE` (never signal progress).
#' @returns An object of class `moe_study`: a list with `results` (the data
#'   frame, also given by `as.data.frame()`), `truth`, `truths` (per expert
#'   type, the data-generating truth and the truth in each gate's
#'   parameterisation, `NULL` where misspecified), `misspecified` (per gate),
#'   `regime` (`"zero_slope"` or `"nonzero_slope"`: whether every split true
#'   atom has zero gating slope in the sigmoid parameterisation, or
#'   `"exact"` when k <= k*), `settings`, `x_eval`, `elapsed`, `workers` and
#'   `call`.
#' @seealso [rate_table()], [plot.moe_study()], [sample_size()],
#'   [study_replay()], [voronoi_loss()], [expert_error()].
#' @references Nguyen, H., Ho, N. and Rinaldo, A. (2024). Sigmoid gating is
#'   more sample efficient than softmax gating in mixture of experts. NeurIPS
#'   2024. arXiv:2405.13997.
#'
#'   Nguyen, H., Ho, N. and Rinaldo, A. (2024). On least squares estimation in
#'   softmax gating mixture of experts. ICML 2024. arXiv:2402.02952.
#' @examples
#' # a two-expert softmax truth, which is also a two-expert sigmoid truth
#' truth <- moe_params(beta0 = c(0.5, 0), beta1 = c(3, 0), a = c(1, -1),
#'                     b = c(0.2, 0.1), gating = "softmax", expert = "relu")
#' st <- convergence_study(truth, n = c(200, 400, 800), reps = 3, k = 3,
#'                         sd = 0.1, seed = 1)
#' st
#' head(as.data.frame(st))
#' rate_table(st, B = 100)
#' @export
convergence_study <- function(truth, n, reps, k, gating = c("sigmoid", "softmax"),
                              expert = NULL, sd, x_law = NULL,
                              init = c("near_truth", "multistart"),
                              losses = c("voronoi", "expert_error", "l2"),
                              seed, cache_dir = NULL, ...,
                              degree = NULL, split = NULL, init_sd = 0.05,
                              nstart = 10L, control = moe_control(),
                              eval_n = 10000L, progress = NULL) {
  cl <- match.call()
  check_dots_empty(...)
  if (missing(truth)) stop("`truth` must be given: a `moe_params` object.", call. = FALSE)
  if (missing(n)) stop("`n` must be given: a vector of sample sizes.", call. = FALSE)
  if (missing(reps)) stop("`reps` must be given: the number of replicates per sample size.", call. = FALSE)
  if (missing(k)) stop("`k` must be given: the number of experts of the fitted models.", call. = FALSE)
  if (missing(sd)) stop("`sd` must be given: the noise standard deviation.", call. = FALSE)
  if (missing(seed)) stop("`seed` must be given: a whole number that fixes the study.", call. = FALSE)
  if (!is.null(progress)) progress <- check_flag(progress, "progress")

  saved_rng <- rng_save()
  on.exit(rng_restore(saved_rng), add = TRUE)
  setup <- study_setup(truth = truth, n = n, reps = reps, k = k, gating = gating,
                       expert = expert, sd = sd, x_law = x_law, init = init,
                       losses = losses, seed = seed, degree = degree, split = split,
                       init_sd = init_sd, nstart = nstart, control = control,
                       eval_n = eval_n)
  for (g in names(setup$misspecified)[setup$misspecified])
    message(sprintf(paste0("The truth (%s gate, k* = %d) is not a model with the %s gate: the %s ",
                           "fits are misspecified (column `misspecified`; no Voronoi loss, ",
                           "data-driven starts)."), setup$truth$gating, setup$truth$k, g, g))

  tasks <- setup$tasks
  done <- list()
  if (!is.null(cache_dir)) {
    cache_dir <- check_cache_dir(cache_dir)
    done <- cache_open(cache_dir, setup)
  }
  setup$cache_dir <- cache_dir
  pending <- tasks[!(vapply(tasks, `[[`, integer(1), "id") %in% as.integer(names(done)))]

  workers <- study_workers()
  if (workers * setup$control$threads > study_cores())
    warning(sprintf(paste0("%d workers x %d threads (control$threads) exceed the %d available cores; ",
                           "use control = moe_control(threads = 1)."), workers,
                    setup$control$threads, study_cores()), call. = FALSE)
  t0 <- proc.time()[["elapsed"]]
  fresh <- if (length(pending)) run_study_tasks(pending, setup, progress) else list()
  elapsed <- proc.time()[["elapsed"]] - t0
  names(fresh) <- vapply(pending, function(t) as.character(t$id), character(1))
  all <- c(done, fresh)
  all <- all[as.character(vapply(tasks, `[[`, integer(1), "id"))]
  results <- bind_rows_list(lapply(all, `[[`, "rows"))
  rownames(results) <- NULL

  setup$cache_dir <- NULL
  structure(list(
    results = results,
    truth = setup$truth,
    truths = setup$truths,
    misspecified = setup$misspecified,
    regime = setup$regime,
    settings = setup$settings,
    setup = setup,
    x_eval = setup$x_eval,
    elapsed = elapsed,
    computed = length(pending),
    cached = length(done),
    workers = workers,
    cache_dir = cache_dir,
    call = cl
  ), class = "moe_study")
}

# ---- setup ---------------------------------------------------------------

study_setup <- function(truth, n, reps, k, gating, expert, sd, x_law, init, losses,
                        seed, degree, split, init_sd, nstart, control, eval_n) {
  check_params(truth, "truth")
  if (!is.numeric(n) || length(n) < 1L || anyNA(n) || !all(vapply(n, is_whole, logical(1))) ||
      any(n < 1))
    abort_arg("n", "a vector of whole numbers >= 1 (the sample sizes)", n)
  if (anyDuplicated(n))
    stop(sprintf("`n` must have distinct sample sizes; %s is repeated.",
                 format(n[anyDuplicated(n)])), call. = FALSE)
  if (any(n > .Machine$integer.max)) abort_arg("n", "sample sizes below 2^31", n)
  n <- as.integer(round(n))
  reps <- check_whole(reps, "reps", min = 1)
  k <- check_whole(k, "k", min = 1)
  if (!is.character(gating) || length(gating) < 1L || anyNA(gating))
    abort_arg("gating", sprintf("a character vector of gates among %s",
                                paste0("\"", gating_types, "\"", collapse = ", ")), gating)
  gating <- vapply(gating, check_choice, character(1), choices = gating_types, arg = "gating",
                   USE.NAMES = FALSE)
  if (anyDuplicated(gating))
    stop(sprintf("`gating` must not repeat a gate; \"%s\" is repeated.", gating[anyDuplicated(gating)]),
         call. = FALSE)
  if (is.null(expert)) expert <- truth$expert
  if (!is.character(expert) || length(expert) < 1L || anyNA(expert))
    abort_arg("expert", "NULL or a character vector of expert types", expert)
  expert <- vapply(expert, check_choice, character(1), choices = expert_types, arg = "expert",
                   USE.NAMES = FALSE)
  if (anyDuplicated(expert))
    stop(sprintf("`expert` must not repeat a type; \"%s\" is repeated.", expert[anyDuplicated(expert)]),
         call. = FALSE)
  if ("polynomial" %in% expert) {
    if (is.null(degree)) degree <- truth$degree
    if (is.null(degree))
      stop("`degree` must be given when `expert` includes \"polynomial\".", call. = FALSE)
    degree <- check_whole(degree, "degree", min = 1)
  } else if (!is.null(degree)) {
    degree <- check_whole(degree, "degree", min = 1)
  }
  sd <- check_number(sd, "sd", min = 0)
  if (!is.null(x_law) && !is.function(x_law))
    abort_arg("x_law", "NULL or a function(n, d) returning an n x d matrix", x_law)
  if (!is.character(init) || length(init) < 1L) abort_arg("init", "\"near_truth\" or \"multistart\"", init)
  init <- check_choice(init[1L], c("near_truth", "multistart"), "init")
  loss_spec <- check_study_losses(losses)
  seed <- check_whole(seed, "seed", min = -.Machine$integer.max, max = .Machine$integer.max)
  init_sd <- check_number(init_sd, "init_sd", min = 0)
  nstart <- check_whole(nstart, "nstart", min = 1)
  control <- check_control(control)
  eval_n <- check_whole(eval_n, "eval_n", min = 100)
  kt <- truth$k
  d <- truth$d
  if (!is.null(split)) {
    if (k <= kt)
      stop(sprintf("`split` is only used when k > k* (k = %d, k* = %d); leave it NULL.", k, kt),
           call. = FALSE)
    if (!is.numeric(split) || length(split) != k - kt || anyNA(split) ||
        !all(vapply(split, is_whole, logical(1))) || any(split < 1 | split > kt))
      abort_arg("split", sprintf("a vector of %d true atom number%s in 1..%d (one per surplus atom)",
                                 k - kt, if (k - kt > 1L) "s" else "", kt), split)
    split <- as.integer(round(split))
  } else if (k > kt) {
    split <- ((seq_len(k - kt) - 1L) %% kt) + 1L
  }

  npar <- max(vapply(gating, function(g) vapply(expert, function(e)
    n_free_params(k, d, g, e), numeric(1)), numeric(length(expert))))
  if (min(n) <= npar)
    stop(sprintf(paste0("`n` must have every sample size > %d, the number of free parameters of ",
                        "the fitted models; the smallest is %d."), npar, min(n)), call. = FALSE)

  truths <- lapply(stats::setNames(expert, expert), function(e) {
    data <- truth_with_expert(truth, e, degree)
    fit <- lapply(stats::setNames(gating, gating), function(g) truth_for_gate(data, g))
    list(data = data, fit = fit)
  })
  misspecified <- vapply(gating, function(g) is.null(truths[[1L]]$fit[[g]]), logical(1))
  names(misspecified) <- gating
  sig <- if (truth$gating == "sigmoid") truth else truth_for_gate(truth, "sigmoid")
  regime <- if (k <= kt) "exact" else if (is.null(sig)) NA_character_
            else if (all(sig$beta1[unique(split), ] == 0)) "zero_slope" else "nonzero_slope"

  # one L'Ecuyer-CMRG stream for the evaluation sample, then one per task
  x_law_fun <- if (is.null(x_law)) default_x_law else x_law
  s0 <- with_rng(seed, get(".Random.seed", envir = globalenv()))
  x_eval <- with_rng(s0, draw_inputs(x_law_fun, eval_n, d, "x_law"))
  grid <- expand.grid(rep = seq_len(reps), n = n, expert = expert, stringsAsFactors = FALSE)
  seeds <- vector("list", nrow(grid))
  s <- s0
  for (t in seq_len(nrow(grid))) {
    s <- parallel::nextRNGStream(s)
    seeds[[t]] <- s
  }
  tasks <- lapply(seq_len(nrow(grid)), function(t)
    list(id = t, expert = grid$expert[t], n = grid$n[t], rep = grid$rep[t], seed = seeds[[t]]))
  f_eval <- lapply(truths, function(tr) model_eval(tr$data, x_eval))

  settings <- list(truth = truth, n = n, reps = reps, k = k, gating = gating, expert = expert,
                   degree = degree, sd = sd, x_law = x_law, init = init, losses = losses,
                   seed = seed, split = split, init_sd = init_sd, nstart = nstart,
                   control = unclass(control)[setdiff(names(control), c("threads", "trace"))],
                   eval_n = eval_n)
  list(truth = truth, truths = truths, misspecified = misspecified, regime = regime,
       n = n, reps = reps, k = k, d = d, gating = gating, expert = expert, degree = degree,
       sd = sd, x_law = x_law_fun, init = init, losses = loss_spec, split = split,
       init_sd = init_sd, nstart = nstart, control = control, x_eval = x_eval,
       f_eval = f_eval, tasks = tasks, settings = settings)
}

default_x_law <- function(n, d) matrix(stats::runif(n * d, -1, 1), n, d)

draw_inputs <- function(law, n, d, arg) {
  x <- law(n, d)
  if (is.data.frame(x)) x <- as.matrix(x)
  if (is.null(dim(x)) && d == 1L && is.numeric(x)) x <- matrix(x, ncol = 1L)
  if (!is.matrix(x) || !is.numeric(x) || nrow(x) != n || ncol(x) != d)
    stop(sprintf("`%s` must return an n x d numeric matrix (n = %d, d = %d), not %s.", arg, n, d,
                 describe_value(x)), call. = FALSE)
  storage.mode(x) <- "double"
  if (!all_finite(x)) stop(sprintf("`%s` returned non-finite inputs.", arg), call. = FALSE)
  colnames(x) <- paste0("x", seq_len(d))
  x
}

check_study_losses <- function(losses) {
  expected <- sprintf("a character vector of %s, or a list of these names and named functions",
                      paste0("\"", study_builtin_losses, "\"", collapse = ", "))
  if (is.character(losses)) losses <- as.list(losses)
  if (!is.list(losses) || length(losses) < 1L) abort_arg("losses", expected, losses)
  nm <- names(losses)
  if (is.null(nm)) nm <- rep("", length(losses))
  builtin <- character(0)
  custom <- list()
  reserved <- c("expert", "gating", "n", "rep", "task", "misspecified", "init", "sse", "code",
                "converged", "iterations", "seconds", "error", "seed", study_builtin_losses)
  for (i in seq_along(losses)) {
    l <- losses[[i]]
    if (is.character(l) && length(l) == 1L && !is.na(l)) {
      if (!l %in% study_builtin_losses)
        stop(sprintf("`losses` must name built-in losses among %s, not \"%s\".",
                     paste0("\"", study_builtin_losses, "\"", collapse = ", "), l), call. = FALSE)
      builtin <- c(builtin, l)
    } else if (is.function(l)) {
      if (!nzchar(nm[i]) || !grepl("^[A-Za-z][A-Za-z0-9_.]*$", nm[i]))
        stop(sprintf("`losses[[%d]]` is a function and must have a syntactic name.", i), call. = FALSE)
      if (nm[i] %in% reserved || startsWith(nm[i], "expert_error"))
        stop(sprintf("`losses` has a function named \"%s\", the name of a column of the study.", nm[i]),
             call. = FALSE)
      custom[[nm[i]]] <- l
    } else {
      abort_arg("losses", expected, losses)
    }
  }
  if (anyDuplicated(c(builtin, names(custom))))
    stop("`losses` must not name a loss twice.", call. = FALSE)
  list(builtin = builtin, custom = custom)
}

# The truth's atoms with another expert type.
truth_with_expert <- function(truth, expert, degree) {
  if (identical(expert, truth$expert) && (expert != "polynomial" || identical(degree, truth$degree)))
    return(truth)
  if (expert == "constant" && any(truth$a != 0))
    stop(paste0("`expert` includes \"constant\" but the truth's experts have non-zero slopes `a`; ",
                "the constant expert ignores x. Give a truth with a = 0."), call. = FALSE)
  moe_params(beta0 = truth$beta0, beta1 = truth$beta1,
             a = if (expert == "constant") NULL else truth$a, b = truth$b,
             gating = truth$gating, expert = expert,
             degree = if (expert == "polynomial") degree else NULL)
}

# The truth in the parameterisation of gate g, or NULL when no model with
# that gate equals it (SPEC section 3: the two-expert softmax <-> sigmoid
# identity).
truth_for_gate <- function(truth, g) {
  if (identical(truth$gating, g)) return(truth)
  if (truth$k != 2L) return(NULL)
  make <- function(beta0, beta1)
    moe_params(beta0 = beta0, beta1 = beta1, a = if (truth$expert == "constant") NULL else truth$a,
               b = truth$b, gating = g, expert = truth$expert, degree = truth$degree)
  if (truth$gating == "softmax" && g == "sigmoid")
    return(make(c(truth$beta0[1L], -truth$beta0[1L]), rbind(truth$beta1[1L, ], -truth$beta1[1L, ])))
  if (truth$gating == "sigmoid" && g == "softmax") {
    tol <- 1e-12 * max(1, abs(truth$beta0), abs(truth$beta1))
    if (abs(truth$beta0[1L] + truth$beta0[2L]) <= tol &&
        all(abs(truth$beta1[1L, ] + truth$beta1[2L, ]) <= tol))
      return(make(c(truth$beta0[1L], 0), rbind(truth$beta1[1L, ], 0)))
  }
  NULL
}

check_study <- function(x, arg = "study") {
  if (!inherits(x, "moe_study")) abort_arg(arg, "a `moe_study` object (see ?convergence_study)", x)
  invisible(x)
}

# ---- methods -----------------------------------------------------------------

#' @export
as.data.frame.moe_study <- function(x, row.names = NULL, optional = FALSE, ...) {
  out <- x$results
  if (!is.null(row.names)) rownames(out) <- row.names
  out
}

#' @export
print.moe_study <- function(x, ...) {
  s <- x$setup
  cat(sprintf("Convergence study: k = %d fitted experts, truth k* = %d (%s gate), d = %d\n",
              s$k, s$truth$k, s$truth$gating, s$d))
  cat(sprintf("  gates: %s; experts: %s\n", paste(s$gating, collapse = ", "),
              paste(s$expert, collapse = ", ")))
  cat(sprintf("  n: %d sizes in [%d, %d]; %d replicates; sd = %s; init = %s; seed = %d\n",
              length(s$n), min(s$n), max(s$n), s$reps, format(s$sd), s$init, s$settings$seed))
  if (!is.na(x$regime)) cat(sprintf("  regime of the truth: %s\n", x$regime))
  cat(sprintf("  %d fits (%d tasks computed, %d from cache) in %.1f s on %d worker%s\n",
              nrow(x$results), x$computed, x$cached, x$elapsed, x$workers,
              if (x$workers == 1L) "" else "s"))
  bad <- sum(!x$results$converged)
  if (bad) cat(sprintf("  %d fit%s did not converge (see columns `code`, `error`)\n", bad,
                       if (bad == 1L) "" else "s"))
  for (g in names(x$misspecified)[x$misspecified])
    cat(sprintf("  NOTE: the %s gate is misspecified for this truth (no Voronoi loss).\n", g))
  cat("\n")
  print(rate_table(x, B = 200L))
  invisible(x)
}

#' @export
summary.moe_study <- function(object, ...) {
  rate_table(object, ...)
}
