# The design of a convergence study, checked and laid out before anything
# runs: the arguments of convergence_study() validated, the truth in each
# gate's parameterisation, the box, the representations used as starts, the
# evaluation sample, the task table with one random stream per task, and the
# plans of the fits and losses (R/study-fit.R).

study_setup <- function(truth, n, reps, k, gating, expert, sd, x_law, init, losses,
                        seed, degree, split, surplus, bounds, init_sd, nstart, control, eval_n) {
  check_params(truth, "truth")
  check_no_output_weights(truth, "truth")
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
  init_types <- c("near_truth", "global", "multistart")
  if (!is.character(init) || length(init) < 1L)
    abort_arg("init", sprintf("one of %s", paste0("\"", init_types, "\"", collapse = ", ")), init)
  init <- check_choice(init[1L], init_types, "init")
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
  regime <- if (k < kt) "under_specified" else if (k == kt) "exact" else if (is.null(sig)) NA_character_
            else if (split_zero_slope(sig, split)) "zero_slope" else "nonzero_slope"
  surplus <- check_study_surplus(surplus, init, k, kt, gating, expert, truths, misspecified, split)

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
  plan <- list(truths = truths, init = init, k = k, split = split, surplus = surplus,
               x_eval = x_eval)
  starts <- lapply(stats::setNames(expert, expert), function(e)
    lapply(stats::setNames(gating, gating), function(g) study_gate_starts(plan, e, g)))
  box <- study_bounds(bounds, truths, starts, k, d, gating, expert, degree, split)

  settings <- list(truth = truth, n = n, reps = reps, k = k, gating = gating, expert = expert,
                   degree = degree, sd = sd, x_law = x_law, init = init, losses = losses,
                   seed = seed, split = split, surplus = surplus,
                   bounds = list(lower = box$lower, upper = box$upper), init_sd = init_sd,
                   nstart = nstart,
                   control = study_key_control(control),
                   eval_n = eval_n)
  # a user's law is also known by what it draws: a law from a factory
  # (function(n, d) runif(n * d, -s, s) for some captured s) has the same
  # code for every s
  if (!is.null(x_law)) settings$x_law_sample <- cache_digest(x_eval)
  setup <- list(truth = truth, truths = truths, misspecified = misspecified, regime = regime,
                n = n, reps = reps, k = k, d = d, gating = gating, expert = expert, degree = degree,
                sd = sd, x_law = x_law_fun, init = init, losses = loss_spec, split = split,
                surplus = surplus, bounds = box, starts = starts, init_sd = init_sd, nstart = nstart,
                control = control, x_eval = x_eval, f_eval = f_eval, tasks = tasks, settings = settings)
  # what the fits and losses of every task share, validated and laid out once
  setup$plans <- study_fit_plans(setup)
  setup
}


# The solver settings that make a study's design: all but the threads and the
# trace, which change no result, and the settings added later while they keep
# the values that reproduce the solver before them, so that the design (and
# the cache key) of a study that does not use them is what it was.
study_key_control <- function(control) {
  v <- unclass(control)[setdiff(names(control), c("threads", "trace"))]
  old <- vapply(names(legacy_control), function(nm) isTRUE(v[[nm]] == legacy_control[[nm]]),
                logical(1))
  # with the valley rule off, its look-back changes nothing either
  v[setdiff(names(v), c(names(legacy_control)[old], if (isTRUE(v$valley_tol == 0)) "valley_m"))]
}
