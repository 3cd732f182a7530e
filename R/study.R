# Convergence-rate studies (SPEC sections 4 and 5): simulate from a truth over
# a grid of sample sizes and replicates, fit both gates to the same data, record
# the losses, and fit log-log lines to the mean losses. Tasks run through
# future.apply with one L'Ecuyer-CMRG stream per task, so the results do not
# depend on the plan or the number of workers, and can be cached task by task.

utils::globalVariables(".data") # the ggplot2 pronoun in autoplot()

study_builtin_losses <- c("voronoi", "expert_error", "l2")
study_gate_colours <- c(sigmoid = "blue", softmax = "green4", normalized_sigmoid = "purple")

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
  f_eval <- lapply(truths, function(tr) regression_values(tr$data, x_eval))

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

regression_values <- function(p, x) {
  .Call(C_model_eval, params_spec(p), params_theta(p), x, FALSE, 1L)
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

# ---- one task --------------------------------------------------------------

# The near-truth start of SPEC section 5 (see ?convergence_study).
near_truth_start <- function(truth, k, split, init_sd) {
  kt <- truth$k
  if (k >= kt) {
    copies <- rep(1L, kt)
    if (k > kt) copies <- copies + tabulate(split, nbins = kt)
    idx <- rep(seq_len(kt), copies)
    m <- copies[idx]
  } else {
    w <- atom_weights(truth)
    idx <- sort(order(-w, seq_len(kt))[seq_len(k)])
    m <- rep(1L, k)
  }
  beta0 <- truth$beta0[idx]
  beta1 <- truth$beta1[idx, , drop = FALSE]
  if (truth$gating == "softmax") {
    beta0 <- beta0 - log(m)
    beta0 <- beta0 - beta0[k]
    beta1 <- sweep(beta1, 2L, beta1[k, ])
  } else {
    beta0 <- stats::qlogis(stats::plogis(beta0) / m)
  }
  p <- moe_params(beta0 = beta0, beta1 = beta1,
                  a = if (truth$expert == "constant") NULL else truth$a[idx, , drop = FALSE],
                  b = truth$b[idx], gating = truth$gating, expert = truth$expert,
                  degree = truth$degree)
  if (init_sd > 0) {
    theta <- params_theta(p)
    p <- theta_params(theta + stats::rnorm(length(theta), 0, init_sd), p)
  }
  p
}

# The sub-stream of gate g within a task's stream.
gate_seed <- function(seed, g) {
  for (i in seq_len(gating_code(g))) seed <- parallel::nextRNGSubStream(seed)
  seed
}

# Run one task (all gates on one data set), store it in the cache and signal
# progress. Runs on the workers.
study_task_run <- function(task, setup, progressor = NULL) {
  rows <- study_task_compute(task, setup, setup$gating)$rows
  out <- list(id = task$id, expert = task$expert, n = task$n, rep = task$rep,
              seed = task$seed, rows = rows)
  if (!is.null(setup$cache_dir)) cache_write(setup$cache_dir, task$id, out)
  if (!is.null(progressor)) progressor()
  out
}

study_task_compute <- function(task, setup, gatings, keep = FALSE) {
  prev <- blas_threads(1L)
  if (!is.na(prev) && prev != 1L) on.exit(blas_threads(prev), add = TRUE)
  e <- task$expert
  tr <- setup$truths[[e]]
  n <- task$n
  rng_set(task$seed)
  x <- draw_inputs(setup$x_law, n, setup$d, "x_law")
  y <- regression_values(tr$data, x) + stats::rnorm(n, 0, setup$sd)
  kt <- tr$data$k
  cols <- list()
  fits <- list()
  seed_text <- paste(task$seed, collapse = ",")
  for (g in gatings) {
    rng_set(gate_seed(task$seed, g))
    tg <- tr$fit[[g]]
    near <- setup$init == "near_truth" && !is.null(tg)
    start <- if (near) near_truth_start(tg, setup$k, setup$split, setup$init_sd) else NULL
    t0 <- proc.time()[["elapsed"]]
    fit <- tryCatch(
      moe_fit(x, y, setup$k, gating = g, expert = e, degree = tr$data$degree, start = start,
              nstart = if (near) 0L else setup$nstart, control = setup$control),
      error = function(err) err)
    secs <- proc.time()[["elapsed"]] - t0
    row <- list(expert = e, gating = g, n = n, rep = task$rep, task = task$id,
                misspecified = is.null(tg), init = if (near) "near_truth" else "multistart")
    failed <- inherits(fit, "error")
    lb <- setup$losses$builtin
    if ("voronoi" %in% lb)
      row$voronoi <- if (failed || is.null(tg)) NA_real_
                     else as.numeric(voronoi_compute(fit$coefficients, tg))
    if ("expert_error" %in% lb) {
      ee <- if (failed) rep(NA_real_, kt)
            else as.numeric(expert_error_compute(fit$coefficients, if (is.null(tg)) tr$data else tg,
                                                 setup$x_eval))
      row$expert_error <- max(ee)
      for (j in seq_len(kt)) row[[paste0("expert_error", j)]] <- ee[j]
    }
    if ("l2" %in% lb)
      row$l2 <- if (failed) NA_real_
                else regression_error(fit$coefficients, setup$x_eval, setup$f_eval[[e]])
    for (nm in names(setup$losses$custom)) {
      v <- if (failed) NA_real_
           else setup$losses$custom[[nm]](fit, if (is.null(tg)) tr$data else tg, setup$x_eval)
      if (!is.numeric(v) || length(v) != 1L)
        stop(sprintf("The loss function `%s` must return one number, not %s.", nm, describe_value(v)),
             call. = FALSE)
      row[[nm]] <- as.numeric(v)
    }
    row$sse <- if (failed) NA_real_ else fit$sse
    row$code <- if (failed) NA_integer_ else as.integer(fit$convergence$code)
    row$converged <- if (failed) FALSE else isTRUE(fit$convergence$converged)
    row$iterations <- if (failed) NA_integer_ else as.integer(fit$convergence$iterations)
    row$seconds <- secs
    row$error <- if (failed) conditionMessage(fit) else NA_character_
    row$seed <- seed_text
    cols[[g]] <- row
    if (keep) fits[[g]] <- list(fit = fit, start = start)
  }
  # a list of columns, one element per gate: cheap to store and to bind
  nms <- names(cols[[1L]])
  rows <- lapply(nms, function(nm) unlist(lapply(cols, `[[`, nm), use.names = FALSE))
  names(rows) <- nms
  out <- list(rows = rows)
  if (keep) {
    out$fits <- fits
    out$data <- data.frame(x, y = y)
  }
  out
}

# Row-bind lists of equal-named columns (data frames or lists) quickly.
bind_rows_list <- function(parts) {
  parts <- parts[lengths(parts) > 0L]
  if (!length(parts)) return(data.frame())
  nms <- names(parts[[1L]])
  cols <- lapply(seq_along(nms), function(j) unlist(lapply(parts, `[[`, j), use.names = FALSE))
  names(cols) <- nms
  as.data.frame(cols, stringsAsFactors = FALSE, optional = TRUE)
}

# ---- running the tasks -------------------------------------------------------

study_workers <- function() {
  if (requireNamespace("future", quietly = TRUE)) as.integer(future::nbrOfWorkers()) else 1L
}

study_cores <- function() {
  if (requireNamespace("future", quietly = TRUE)) as.integer(future::availableCores())
  else max(1L, parallel::detectCores(), na.rm = TRUE)
}

run_study_tasks <- function(pending, setup, progress) {
  use_future <- requireNamespace("future.apply", quietly = TRUE)
  # the processing order deals every chunk a mix of sample sizes, so that the
  # chunks of the workers cost about the same; it never changes the results
  ord <- order(vapply(pending, `[[`, integer(1), "rep"),
               match(vapply(pending, `[[`, character(1), "expert"), setup$expert),
               -vapply(pending, `[[`, integer(1), "n"))
  run <- function(p) {
    if (use_future) {
      future.apply::future_lapply(
        pending, study_task_run, setup = setup, progressor = p,
        future.seed = lapply(pending, `[[`, "seed"),
        future.scheduling = structure(2, ordering = ord),
        future.packages = "sigmoe", future.label = "sigmoe-study-%d")
    } else {
      lapply(pending, study_task_run, setup = setup, progressor = p)
    }
  }
  if (isFALSE(progress) || !requireNamespace("progressr", quietly = TRUE)) return(run(NULL))
  body <- function() run(progressr::progressor(steps = length(pending)))
  # progressr itself stays silent in non-interactive sessions unless enabled
  if (isTRUE(progress) || (is.null(progress) && interactive()))
    progressr::with_progress(body(), enable = TRUE)
  else body()
}

# ---- cache -------------------------------------------------------------------

check_cache_dir <- function(cache_dir) {
  if (!is.character(cache_dir) || length(cache_dir) != 1L || is.na(cache_dir) || !nzchar(cache_dir))
    abort_arg("cache_dir", "NULL or a directory path", cache_dir)
  if (file.exists(cache_dir) && !dir.exists(cache_dir))
    stop(sprintf("`cache_dir` must be a directory, but \"%s\" is a file.", cache_dir), call. = FALSE)
  if (!dir.exists(cache_dir) && !dir.create(cache_dir, recursive = TRUE, showWarnings = FALSE))
    stop(sprintf("`cache_dir` \"%s\" could not be created.", cache_dir), call. = FALSE)
  normalizePath(cache_dir, mustWork = TRUE)
}

# Check that the cache holds this study (or nothing) and read its finished
# tasks, named by task id.
cache_open <- function(cache_dir, setup) {
  manifest <- file.path(cache_dir, "study.rds")
  mine <- list(settings = setup$settings, version = as.character(utils::packageVersion("sigmoe")))
  if (file.exists(manifest)) {
    theirs <- readRDS(manifest)
    a <- mine$settings
    b <- theirs$settings
    fields <- union(names(a), names(b))
    differ <- fields[!vapply(fields, function(f)
      identical(a[[f]], b[[f]], ignore.environment = TRUE), logical(1))]
    if (length(differ))
      stop(sprintf(paste0("`cache_dir` \"%s\" holds the results of a different study (it differs in %s); ",
                          "use another directory, or delete it to start again."), cache_dir,
                   paste0("`", differ, "`", collapse = ", ")), call. = FALSE)
    if (!identical(theirs$version, mine$version))
      warning(sprintf("`cache_dir` was written by sigmoe %s; this is sigmoe %s.", theirs$version,
                      mine$version), call. = FALSE)
  } else {
    cache_write_file(mine, manifest)
  }
  files <- list.files(cache_dir, pattern = "^task-[0-9]+\\.rds$", full.names = TRUE)
  planned <- setup$tasks
  ids <- vapply(planned, `[[`, integer(1), "id")
  done <- list()
  for (f in files) {
    id <- as.integer(sub("^task-([0-9]+)\\.rds$", "\\1", basename(f)))
    obj <- tryCatch(readRDS(f), error = function(e) NULL)
    if (is.null(obj)) {
      warning(sprintf("Cache file %s is unreadable; its task is computed again.", basename(f)),
              call. = FALSE)
      next
    }
    pos <- match(id, ids)
    t <- if (is.na(pos)) NULL else planned[[pos]]
    if (is.null(t) || !identical(obj$id, t$id) || !identical(obj$seed, t$seed) ||
        !identical(obj$n, t$n) || !identical(obj$expert, t$expert) || !identical(obj$rep, t$rep))
      stop(sprintf("Cache file %s in `cache_dir` does not belong to this study.", basename(f)),
           call. = FALSE)
    done[[as.character(id)]] <- obj
  }
  done
}

cache_write <- function(cache_dir, id, obj) {
  cache_write_file(obj, file.path(cache_dir, sprintf("task-%06d.rds", id)))
}

# Write then rename, so that a file is either complete or absent.
cache_write_file <- function(obj, path) {
  tmp <- tempfile(pattern = ".partial-", tmpdir = dirname(path), fileext = ".rds")
  saveRDS(obj, tmp)
  if (!file.rename(tmp, path)) {
    unlink(tmp)
    stop(sprintf("Could not write the cache file %s.", path), call. = FALSE)
  }
  invisible(path)
}

# ---- replay ------------------------------------------------------------------

#' Replay one cell of a convergence study
#'
#' Recomputes a single (expert, gating, n, replicate) cell of a
#' [convergence_study()] from its stored seed, alone, and returns the fit
#' with its data. Its row is identical to the study's row (all columns but
#' `seconds`).
#'
#' @param study A `moe_study` object.
#' @param gating The gate of the cell, one of the study's gates.
#' @param n The sample size of the cell, one of the study's sizes.
#' @param rep The replicate number of the cell.
#' @param expert The expert type of the cell; may be omitted when the study
#'   has one type.
#' @returns A list with `result` (the cell's row, a one-row data frame),
#'   `fit` (the `moe_fit`, or the error if the fit failed), `start` (the start
#'   of a near-truth fit, else `NULL`) and `data` (the simulated data frame).
#' @examples
#' truth <- moe_params(beta0 = c(0.5, 0), beta1 = c(3, 0), a = c(1, -1),
#'                     b = c(0.2, 0.1), gating = "softmax", expert = "relu")
#' st <- convergence_study(truth, n = c(200, 400), reps = 2, k = 3, sd = 0.1, seed = 1)
#' cell <- study_replay(st, gating = "softmax", n = 400, rep = 2)
#' cell$result
#' coef(cell$fit)
#' @export
study_replay <- function(study, gating, n, rep, expert = NULL) {
  check_study(study)
  setup <- study$setup
  gating <- check_choice(gating, setup$gating, "gating")
  if (!is_whole(n) || !(n %in% setup$n))
    abort_arg("n", sprintf("one of the study's sample sizes (%s)", paste(setup$n, collapse = ", ")), n)
  rep <- check_whole(rep, "rep", min = 1, max = setup$reps)
  if (is.null(expert)) {
    if (length(setup$expert) > 1L)
      stop(sprintf("`expert` must be given: the study has several expert types (%s).",
                   paste(setup$expert, collapse = ", ")), call. = FALSE)
    expert <- setup$expert
  }
  expert <- check_choice(expert, setup$expert, "expert")
  task <- Find(function(t) t$expert == expert && t$n == n && t$rep == rep, setup$tasks)
  saved <- rng_save()
  on.exit(rng_restore(saved), add = TRUE)
  out <- study_task_compute(task, setup, gating, keep = TRUE)
  list(result = bind_rows_list(list(out$rows)), fit = out$fits[[gating]]$fit,
       start = out$fits[[gating]]$start, data = out$data)
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

# ---- rates ---------------------------------------------------------------------

# Loss columns of a study: the built-in ones and the custom ones.
study_loss_columns <- function(study, per_expert = FALSE) {
  s <- study$setup
  cols <- character(0)
  for (l in s$losses$builtin) {
    cols <- c(cols, l)
    if (l == "expert_error" && per_expert) cols <- c(cols, paste0("expert_error", seq_len(s$truth$k)))
  }
  c(cols, names(s$losses$custom))
}

check_study_loss_names <- function(study, losses, arg = "losses") {
  avail <- c(study_loss_columns(study, per_expert = TRUE), "sse")
  if (!is.character(losses) || length(losses) < 1L || anyNA(losses))
    abort_arg(arg, sprintf("a character vector of the study's losses (%s)",
                           paste0("\"", avail, "\"", collapse = ", ")), losses)
  bad <- setdiff(losses, avail)
  if (length(bad))
    stop(sprintf("`%s` must name losses the study recorded (%s), not \"%s\".", arg,
                 paste0("\"", avail, "\"", collapse = ", "), bad[1L]), call. = FALSE)
  losses
}

# The rate SPEC section 4 predicts for a loss (up to log factors), as a slope
# of log loss on log n and a label.
theory_rate <- function(loss, gating, expert, k, kt, misspecified, init, split) {
  none <- function(why) list(slope = NA_real_, label = why)
  if (misspecified) return(none("none (misspecified)"))
  if (loss == "l2") return(list(slope = -0.5, label = "n^-1/2"))
  if (!loss %in% c("voronoi", "expert_error") && !startsWith(loss, "expert_error"))
    return(none("none"))
  if (gating == "normalized_sigmoid") return(none("none stated"))
  over <- k > kt
  if (startsWith(loss, "expert_error") && loss != "expert_error") {
    if (init != "near_truth") return(none("none (cells not designed)"))
    j <- as.integer(sub("expert_error", "", loss))
    over <- over && j %in% split
  }
  if (!over) return(list(slope = -0.5, label = "n^-1/2 (exact atoms)"))
  interacting <- expert %in% c("linear", "polynomial")
  identifiable <- expert %in% c("relu", "gelu", "sigmoid", "tanh")
  if (gating == "softmax" && interacting)
    return(list(slope = 0, label = "slower than any power"))
  if (!identifiable) return(none("none stated"))
  if (loss == "voronoi") return(list(slope = -0.5, label = "n^-1/2 (squared over terms)"))
  list(slope = -0.25, label = "n^-1/4 (over-specified)")
}

# Mean loss, standard error and count per (gating, expert, n).
study_means <- function(study, loss) {
  r <- study$results
  v <- r[[loss]]
  key <- interaction(r$gating, r$expert, r$n, drop = TRUE, lex.order = TRUE)
  parts <- split(seq_len(nrow(r)), key)
  out <- do.call(rbind, lapply(parts, function(idx) {
    vv <- v[idx]
    vv <- vv[is.finite(vv)]
    data.frame(gating = r$gating[idx[1L]], expert = r$expert[idx[1L]], n = r$n[idx[1L]],
               mean = if (length(vv)) mean(vv) else NA_real_,
               se = if (length(vv) > 1L) stats::sd(vv) / sqrt(length(vv)) else NA_real_,
               reps = length(vv), stringsAsFactors = FALSE)
  }))
  rownames(out) <- NULL
  out
}

#' Convergence rates measured by a study
#'
#' For every gate, expert type and loss of a [convergence_study()], averages
#' the loss over the replicates at each sample size and fits
#' \eqn{\log(\bar L_n) = c + s \log n}{log(mean loss) = c + s log(n)} by least
#' squares (the red dash-dotted lines of the paper's Figure 1). The
#' confidence interval of the slope s comes from a bootstrap over replicates:
#' the replicates are resampled with replacement within each n, and the
#' percentile interval of the refitted slopes is reported.
#'
#' Beside every measured slope is the rate the theory predicts (SPEC section
#' 4, up to log factors), in `theory_slope` and `theory`: \eqn{n^{-1/2}}{n^-1/2}
#' for the regression function (`l2`) and for the Voronoi loss, whose
#' exponents make the \eqn{n^{-1/4}}{n^-1/4} rate of over-specified atoms
#' count as \eqn{n^{-1/2}}{n^-1/2}; for the expert error \eqn{n^{-1/2}}{n^-1/2}
#' for exact-specified atoms and \eqn{n^{-1/4}}{n^-1/4} for over-specified
#' atoms with second-order identifiable experts (ReLU, GELU, sigmoid, tanh);
#' and, for linear and polynomial experts under the softmax gate, slower than
#' any power (slope 0). These are predictions, printed next to the
#' measurements, never in their place; `NA` where the specification states
#' none.
#'
#' @param study A `moe_study` object.
#' @param losses Losses to cover, a character vector of the study's loss
#'   columns; default every recorded loss (not the per-expert errors).
#' @param level Confidence level of the interval, in (0, 1).
#' @param B Number of bootstrap resamples, a whole number >= 0 (0: no
#'   interval).
#' @param seed Seed of the bootstrap (the session's generator is left as it
#'   was).
#' @returns A data frame of class `moe_rate_table` with one row per gate x
#'   expert x loss: `gating`, `expert`, `loss`, `slope`, `lower`, `upper`,
#'   `intercept`, `n_min`, `n_max`, `sizes` (number of sample sizes used),
#'   `reps` (replicates per size), `theory_slope` and `theory`. It prints as a
#'   table.
#' @seealso [convergence_study()], [sample_size()], [plot.moe_study()].
#' @examples
#' truth <- moe_params(beta0 = c(0.5, 0), beta1 = c(3, 0), a = c(1, -1),
#'                     b = c(0.2, 0.1), gating = "softmax", expert = "relu")
#' st <- convergence_study(truth, n = c(200, 400, 800), reps = 3, k = 3,
#'                         sd = 0.1, seed = 1)
#' rt <- rate_table(st, B = 200)
#' rt
#' rt$slope
#' @export
rate_table <- function(study, losses = NULL, level = 0.95, B = 1000L, seed = 1L) {
  check_study(study)
  losses <- if (is.null(losses)) study_loss_columns(study) else check_study_loss_names(study, losses)
  level <- check_number(level, "level", min = 0, max = 1)
  if (level <= 0 || level >= 1) abort_arg("level", "a number in (0, 1)", level)
  B <- check_whole(B, "B", min = 0)
  seed <- check_whole(seed, "seed", min = -.Machine$integer.max, max = .Machine$integer.max)
  s <- study$setup
  r <- study$results
  rows <- list()
  with_rng(seed, {
    for (g in s$gating) for (e in s$expert) for (l in losses) {
      sub <- r[r$gating == g & r$expert == e, , drop = FALSE]
      fitl <- rate_fit(sub$n, sub[[l]], B, level)
      th <- theory_rate(l, g, e, s$k, s$truth$k, s$misspecified[[g]], s$init, s$split)
      rows[[length(rows) + 1L]] <- data.frame(
        gating = g, expert = e, loss = l, slope = fitl$slope, lower = fitl$lower,
        upper = fitl$upper, intercept = fitl$intercept, n_min = fitl$n_min, n_max = fitl$n_max,
        sizes = fitl$sizes, reps = fitl$reps, theory_slope = th$slope, theory = th$label,
        stringsAsFactors = FALSE)
    }
  })
  out <- do.call(rbind, rows)
  rownames(out) <- NULL
  structure(out, class = c("moe_rate_table", "data.frame"), level = level, B = B)
}

# Least-squares line of log(mean loss) on log(n), and a bootstrap of its
# slope over replicates within each n.
rate_fit <- function(n, v, B, level) {
  ok <- is.finite(v)
  n <- n[ok]
  v <- v[ok]
  sizes <- sort(unique(n))
  empty <- list(slope = NA_real_, lower = NA_real_, upper = NA_real_, intercept = NA_real_,
                n_min = NA_integer_, n_max = NA_integer_, sizes = 0L, reps = 0L)
  if (!length(sizes)) return(empty)
  groups <- lapply(sizes, function(m) v[n == m])
  means <- vapply(groups, mean, numeric(1))
  use <- means > 0
  if (sum(use) < 2L) {
    empty$sizes <- sum(use)
    return(empty)
  }
  lx <- log(sizes[use])
  ly <- log(means[use])
  cx <- lx - mean(lx)
  slope <- sum(cx * (ly - mean(ly))) / sum(cx^2)
  intercept <- mean(ly) - slope * mean(lx)
  lower <- upper <- NA_real_
  if (B > 0L && all(lengths(groups[use]) >= 2L)) {
    boot <- vapply(groups[use], function(g) {
      idx <- matrix(sample.int(length(g), length(g) * B, replace = TRUE), nrow = B)
      rowMeans(matrix(g[idx], nrow = B))
    }, numeric(B))
    boot <- matrix(boot, nrow = B)
    lb <- log(boot)
    okb <- rowSums(!is.finite(lb)) == 0L
    if (any(okb)) {
      lb <- lb[okb, , drop = FALSE]
      sb <- drop((lb - rowMeans(lb)) %*% cx) / sum(cx^2)
      a <- (1 - level) / 2
      q <- stats::quantile(sb, c(a, 1 - a), names = FALSE, type = 7)
      lower <- q[1L]
      upper <- q[2L]
    }
  }
  list(slope = slope, lower = lower, upper = upper, intercept = intercept,
       n_min = as.integer(min(sizes[use])), n_max = as.integer(max(sizes[use])),
       sizes = sum(use), reps = as.integer(stats::median(lengths(groups[use]))))
}

#' @export
print.moe_rate_table <- function(x, digits = 3L, ...) {
  lev <- attr(x, "level")
  B <- attr(x, "B")
  cat(sprintf("Convergence rates: slope of log(mean loss) on log(n)%s\n",
              if (isTRUE(B > 0)) sprintf(", %g%% bootstrap CI over replicates (B = %d)",
                                          100 * lev, B) else ""))
  df <- as.data.frame(unclass(x), stringsAsFactors = FALSE)
  show <- data.frame(
    gating = df$gating, expert = df$expert, loss = df$loss,
    slope = formatC(df$slope, digits = digits, format = "f"),
    CI = ifelse(is.na(df$lower), "", sprintf("[%s, %s]", formatC(df$lower, digits = digits, format = "f"),
                                             formatC(df$upper, digits = digits, format = "f"))),
    intercept = formatC(df$intercept, digits = digits, format = "f"),
    n = ifelse(is.na(df$n_min), "", sprintf("%d..%d (%d)", df$n_min, df$n_max, df$sizes)),
    theory = ifelse(is.na(df$theory_slope), df$theory,
                    sprintf("%s: %s", formatC(df$theory_slope, digits = 2, format = "f"), df$theory)),
    stringsAsFactors = FALSE)
  show$slope[is.na(df$slope)] <- "NA"
  show$intercept[is.na(df$intercept)] <- "NA"
  print(show, row.names = FALSE, right = FALSE)
  cat("theory: the slope SPEC section 4 predicts (up to log factors), a prediction, not a measurement;\n",
      "        \"none stated\": the specification gives no rate for this case.\n", sep = "")
  invisible(x)
}

#' Sample size needed to reach a loss
#'
#' From the fitted lines of [rate_table()], \eqn{\log(\bar L_n) = c + s \log
#' n}{log(mean loss) = c + s log(n)}, the sample size at which each gate (and
#' expert type) reaches the mean loss `eps`: \eqn{n = \exp((\log \epsilon -
#' c) / s)}{n = exp((log(eps) - c) / s)}. A line that does not decrease
#' (s >= 0) never reaches a smaller loss: its n is `Inf`.
#'
#' @param study A `moe_study` object.
#' @param eps Target mean loss(es), a vector of numbers > 0.
#' @param loss The loss, one of the study's loss columns (default
#'   `"voronoi"`, else the first one recorded).
#' @returns A data frame with one row per gate x expert x `eps`: `gating`,
#'   `expert`, `loss`, `eps`, `slope`, `intercept`, `n` (the sample size
#'   needed) and `extrapolated` (`TRUE` when n lies outside the range of
#'   sample sizes the line was fitted on).
#' @seealso [rate_table()].
#' @examples
#' truth <- moe_params(beta0 = c(0.5, 0), beta1 = c(3, 0), a = c(1, -1),
#'                     b = c(0.2, 0.1), gating = "softmax", expert = "relu")
#' st <- convergence_study(truth, n = c(200, 400, 800), reps = 3, k = 3,
#'                         sd = 0.1, seed = 1)
#' sample_size(st, eps = c(0.05, 0.01), loss = "l2")
#' @export
sample_size <- function(study, eps, loss = NULL) {
  check_study(study)
  if (!is.numeric(eps) || length(eps) < 1L || anyNA(eps) || any(!is.finite(eps)) || any(eps <= 0))
    abort_arg("eps", "a vector of numbers > 0 (target losses)", eps)
  if (is.null(loss)) {
    avail <- study_loss_columns(study)
    loss <- if ("voronoi" %in% avail) "voronoi" else avail[1L]
  }
  if (!is.character(loss) || length(loss) != 1L) abort_arg("loss", "the name of one loss of the study", loss)
  loss <- check_study_loss_names(study, loss, "loss")
  rt <- rate_table(study, losses = loss, B = 0L)
  rows <- lapply(eps, function(ep) {
    nn <- ifelse(is.na(rt$slope), NA_real_,
                 ifelse(rt$slope < 0, exp((log(ep) - rt$intercept) / rt$slope), Inf))
    data.frame(gating = rt$gating, expert = rt$expert, loss = rt$loss, eps = ep,
               slope = rt$slope, intercept = rt$intercept, n = nn,
               extrapolated = !is.na(nn) & (nn < rt$n_min | nn > rt$n_max),
               stringsAsFactors = FALSE)
  })
  out <- do.call(rbind, rows)
  rownames(out) <- NULL
  out
}

# ---- plots ---------------------------------------------------------------------

#' Plot the convergence of a study
#'
#' Log-log plot of the mean loss against n for every gate, with error bars
#' of plus or minus two standard errors over the replicates, and the fitted
#' lines of [rate_table()] red and dash-dotted, their slopes in the legend,
#' as in Figure 1 of Nguyen, Ho and Rinaldo (2024): the sigmoid gate in blue,
#' the softmax gate in green (the normalized sigmoid in purple). One panel
#' per expert type. `autoplot()` draws the same with ggplot2, when it is
#' installed.
#'
#' @param x,object A `moe_study` object.
#' @param loss The loss to plot, one of the study's loss columns (default
#'   `"voronoi"`, else the first one recorded).
#' @param ... Further graphical parameters passed to [plot.default()] for
#'   every panel (e.g. `main`, `ylab`).
#' @returns `plot()`: the study, invisibly. `autoplot()`: a ggplot object.
#' @seealso [rate_table()].
#' @examples
#' truth <- moe_params(beta0 = c(0.5, 0), beta1 = c(3, 0), a = c(1, -1),
#'                     b = c(0.2, 0.1), gating = "softmax", expert = "relu")
#' st <- convergence_study(truth, n = c(200, 400, 800), reps = 3, k = 3,
#'                         sd = 0.1, seed = 1)
#' plot(st, loss = "l2")
#' if (requireNamespace("ggplot2", quietly = TRUE)) ggplot2::autoplot(st)
#' @export
plot.moe_study <- function(x, loss = NULL, ...) {
  pd <- study_plot_data(x, loss)
  experts <- x$setup$expert
  op <- graphics::par(mfrow = c(1L, length(experts)))
  on.exit(graphics::par(op), add = TRUE)
  dots <- list(...)
  for (e in experts) {
    m <- pd$means[pd$means$expert == e & is.finite(pd$means$mean) & pd$means$mean > 0, , drop = FALSE]
    lo <- pmax(m$mean - 2 * ifelse(is.finite(m$se), m$se, 0), m$mean / 10)
    hi <- m$mean + 2 * ifelse(is.finite(m$se), m$se, 0)
    ylim <- if (nrow(m)) range(lo, hi) else c(0.1, 1)
    # head room for the legend
    ylim[2L] <- ylim[2L] * (ylim[2L] / ylim[1L])^0.4
    xlim <- range(x$setup$n)
    args <- utils::modifyList(list(x = 1, y = 1, type = "n", log = "xy", xlim = xlim, ylim = ylim,
                                   xlab = "n", ylab = pd$loss, main = sprintf("%s experts", e)), dots)
    do.call(graphics::plot, args)
    legend_text <- character(0)
    legend_col <- character(0)
    for (g in x$setup$gating) {
      mg <- m[m$gating == g, , drop = FALSE]
      if (!nrow(mg)) next
      col <- study_gate_colours[[g]]
      lg <- lo[m$gating == g]
      hg <- hi[m$gating == g]
      graphics::arrows(mg$n, lg, mg$n, hg, angle = 90, code = 3, length = 0.03, col = col)
      graphics::points(mg$n, mg$mean, pch = 19, col = col)
      rt <- pd$rates[pd$rates$gating == g & pd$rates$expert == e, , drop = FALSE]
      if (nrow(rt) && is.finite(rt$slope)) {
        nn <- c(rt$n_min, rt$n_max)
        graphics::lines(nn, exp(rt$intercept + rt$slope * log(nn)), col = "red", lty = "dotdash",
                        lwd = 2)
        legend_text <- c(legend_text, sprintf("%s (slope %.2f)", g, rt$slope))
      } else {
        legend_text <- c(legend_text, g)
      }
      legend_col <- c(legend_col, col)
    }
    if (length(legend_text))
      graphics::legend("topright", legend = c(legend_text, "fitted lines"),
                       col = c(legend_col, "red"), pch = c(rep(19, length(legend_col)), NA),
                       lty = c(rep(NA, length(legend_col)), 4), lwd = c(rep(1, length(legend_col)), 2),
                       bty = "n", cex = 0.85)
  }
  invisible(x)
}

study_plot_data <- function(x, loss) {
  check_study(x, "x")
  if (is.null(loss)) {
    avail <- study_loss_columns(x)
    loss <- if ("voronoi" %in% avail) "voronoi" else avail[1L]
  }
  if (!is.character(loss) || length(loss) != 1L) abort_arg("loss", "the name of one loss of the study", loss)
  loss <- check_study_loss_names(x, loss, "loss")
  list(loss = loss, means = study_means(x, loss), rates = rate_table(x, losses = loss, B = 0L))
}

#' @rdname plot.moe_study
#' @exportS3Method ggplot2::autoplot
autoplot.moe_study <- function(object, loss = NULL, ...) {
  if (!requireNamespace("ggplot2", quietly = TRUE))
    stop("autoplot() of a study needs the ggplot2 package.", call. = FALSE)
  pd <- study_plot_data(object, loss)
  m <- pd$means[is.finite(pd$means$mean) & pd$means$mean > 0, , drop = FALSE]
  m$lo <- pmax(m$mean - 2 * ifelse(is.finite(m$se), m$se, 0), m$mean / 10)
  m$hi <- m$mean + 2 * ifelse(is.finite(m$se), m$se, 0)
  rt <- pd$rates[is.finite(pd$rates$slope), , drop = FALSE]
  lines <- do.call(rbind, lapply(seq_len(nrow(rt)), function(i) {
    nn <- exp(seq(log(rt$n_min[i]), log(rt$n_max[i]), length.out = 20L))
    data.frame(expert = rt$expert[i], gating = rt$gating[i], n = nn,
               mean = exp(rt$intercept[i] + rt$slope[i] * log(nn)),
               label = sprintf("%s: slope %.2f", rt$gating[i], rt$slope[i]))
  }))
  cols <- study_gate_colours[unique(m$gating)]
  facet <- function(d) {
    d$expert <- factor(paste(d$expert, "experts"), levels = paste(object$setup$expert, "experts"))
    d
  }
  m <- facet(m)
  p <- ggplot2::ggplot(m, ggplot2::aes(x = .data$n, y = .data$mean, colour = .data$gating)) +
    ggplot2::geom_errorbar(ggplot2::aes(ymin = .data$lo, ymax = .data$hi), width = 0.03) +
    ggplot2::geom_point() +
    ggplot2::scale_x_log10() + ggplot2::scale_y_log10() +
    ggplot2::scale_colour_manual(values = cols) +
    ggplot2::facet_wrap(~expert) +
    ggplot2::labs(x = "n", y = pd$loss, colour = "gate",
                  caption = "red dash-dotted: least-squares lines of log(mean loss) on log(n)")
  if (!is.null(lines) && nrow(lines)) {
    p <- p + ggplot2::geom_line(data = facet(lines),
                                ggplot2::aes(x = .data$n, y = .data$mean, group = .data$gating),
                                colour = "red", linetype = "dotdash", linewidth = 0.8,
                                inherit.aes = FALSE)
    # slopes written in each panel, top right, in the colour of their gate
    top <- max(m$hi)
    labels <- facet(data.frame(expert = rt$expert, gating = rt$gating,
                               label = sprintf("%s: slope %.2f", rt$gating, rt$slope)))
    labels$rank <- stats::ave(seq_len(nrow(labels)), labels$expert, FUN = seq_along)
    labels$n <- max(object$setup$n)
    labels$mean <- top * 1.6^(2 - labels$rank)
    p <- p + ggplot2::geom_text(data = labels,
                                ggplot2::aes(x = .data$n, y = .data$mean, label = .data$label,
                                             colour = .data$gating),
                                hjust = 1, size = 3.5, inherit.aes = FALSE, show.legend = FALSE)
  }
  p
}
