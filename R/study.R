# Convergence-rate studies: the design of a study, its validation and its
# table of tasks. The starts that represent the truth are built in
# R/study-starts.R and the box of every fit in R/study-box.R; the tasks run in
# R/study-run.R (one L'Ecuyer-CMRG stream per task, so the results do not
# depend on the plan or the number of workers), are cached task by task in
# R/study-cache.R, and the log-log lines of the mean losses are fitted in
# R/rates.R.

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
#' truth. Since \eqn{\sigma(z) + \sigma(-z) = 1}{sigma(z) + sigma(-z) = 1},
#' the normalized sigmoid gate with those opposite logits is the same model
#' again, and with one expert the softmax and normalized sigmoid gates are
#' both identically 1. In every other case no parameter of the other gate
#' gives the true regression function: that gate is still fitted, but it is
#' misspecified.
#' The study says so in a message, in the column `misspecified` and when
#' printed; its Voronoi loss is `NA` (the parameters are not comparable), its
#' expert error uses cells on the expert parameters alone, and it starts from
#' data-driven starts (`nstart`) instead of near the truth.
#'
#' @section The compact parameter set (`bounds`):
#' The theory is about the least-squares estimator over a compact parameter
#' set. Without one an over-specified fit can run off (gates turning into
#' steps, surplus weights or slopes growing without bound) and is then not
#' that estimator, so by default every fit of a study is made on a box, the
#' `lower` and `upper` of [moe_fit()], the same for every gate and expert
#' type. With `bounds = "auto"` (the default) the box is \eqn{[-c, c]} on
#' every free parameter, where c is the larger of 10 and twice the largest
#' absolute value of any parameter of the truth (in its own gate's and in
#' each fitted gate's parameterisation) and of every start the study builds
#' from the truth, before noise (the representations below), rounded up to a
#' whole number: the box holds the truth and every start with room to spare.
#' `bounds = c` gives the box \eqn{[-c, c]}; `list(lower = , upper = )` any
#' box in the forms of [moe_fit()] (each a number, or a named list of `beta0`,
#' `beta1`, `a`, `b`, each a number or an array of the parameter's size);
#' `NULL` no box at all. A box that does not hold the truth (every true atom
#' in the position of each of its copies) and every start before noise is an
#' error; noisy starts are projected into it. The box is stored in
#' `setup$bounds` and printed with the study, and the column `at_bound`
#' counts the free parameters of each fit that ended at a bound: such a fit
#' stopped on the edge of the box, not at an interior minimiser.
#'
#' @section Starts near the truth (`init = "near_truth"`):
#' The theory is about the global least-squares minimiser, and as in the
#' simulations of this line of work each fit is a single local search from a
#' start near the truth. With k = k* the start is the truth, with k < k* its
#' k heaviest atoms. With k > k* it represents the truth with more atoms than
#' the truth has: true atom j takes \eqn{m_j}{m_j} copies (the surplus atoms
#' copy the atoms `split`, by default 1, 2, ... in turn), and `surplus` says
#' how the copies enter:
#'
#' * `"split"`: m copies of the atom whose weights add up to its weight
#'   \eqn{w^*}{w*}, i.e. `beta0 = qlogis(plogis(beta0*) / m)` for the sigmoid
#'   gates and `beta0* - log(m)` for the softmax gate. It reproduces the
#'   truth's regression function exactly under the softmax gate at any gating
#'   slope, and under the sigmoid and normalized sigmoid gates when every split
#'   atom has gating slope zero in that gate's parameterisation. With a
#'   non-zero slope no sum of sigmoids of that slope is one sigmoid: under the
#'   sigmoid gates it is then not a representation of the truth at all.
#'
#' * `"dead"`: the atom itself, with its full weight, and m - 1 copies (same
#'   `beta1`, `a`, `b`) whose gate is switched off: `beta0 = -(8 + max |beta1'x|)`
#'   over the evaluation sample for the sigmoid gates, so that a copy's gate is
#'   at most \eqn{\sigma(-8) \approx 3.4 \times 10^{-4}}{sigma(-8) ~ 3.4e-4} on
#'   the support, and `beta0* - 8` for the softmax gate, so that a copy's gate
#'   is \eqn{e^{-8}}{e^-8} times the atom's. It is exact in the limit (as the
#'   margin 8 grows) for every gate, expert and slope: the regression function
#'   differs from the truth's by at most about \eqn{3.4 \times 10^{-4}}{3.4e-4}
#'   times the size of the copied expert per dead copy (under the normalized
#'   sigmoid gate, relative to the sum of the true gates). The margin keeps a
#'   copy invisible at the noise levels of a study while its gradient does not
#'   vanish, so a fit can still revive it.
#'
#' * `"scaled"`: m copies that keep the atom's full gate (same `beta0`,
#'   `beta1`) and carry fractions 1/m of its expert: `(a/m, b/m)` for linear
#'   and ReLU experts (positively homogeneous), \eqn{(a, b)/m^{1/p}}{(a, b) / m^(1/p)}
#'   for the polynomial expert \eqn{t^p}{t^p}, `b/m` for the constant expert.
#'   Exact under the sigmoid gate for these experts at any slope (and for any
#'   fractions in (0, 1) adding up to 1). It is no representation under the
#'   softmax and normalized sigmoid gates, whose normalisation counts every
#'   copy's gate again, nor for GELU, sigmoid and tanh experts, which are not
#'   homogeneous: asking for it there is an error.
#'
#' By default (`surplus = NULL`) each gate gets a representation that is
#' exact for the truth at hand: `"split"` for the softmax gate, and for the
#' sigmoid gates when every split atom has gating slope zero in their
#' parameterisation; `"dead"` otherwise. `surplus` may also name one per gate,
#' e.g. `c(sigmoid = "scaled", softmax = "split")`. The representation of each
#' gate is in `setup$surplus` and in the column `surplus`. The copies of the
#' softmax reference atom come last, and the softmax start is re-expressed
#' relative to the last atom (subtracting its `beta0` and `beta1` from every
#' atom), which leaves the model unchanged. Then every free parameter gets
#' independent Gaussian noise of standard deviation `init_sd` (default 0.05),
#' drawn from the gate's random stream, and the start is projected into the
#' box. With `init = "multistart"` every fit uses `nstart` data-driven starts
#' of [moe_fit()] instead, and knows nothing of the truth.
#'
#' @section The global search (`init = "global"`):
#' With surplus atoms the least-squares minimisers of the truth form a set,
#' and in the regime of non-zero slopes the representation a local search
#' starts near decides where it ends (and with it the Voronoi loss and the
#' expert error), while the SSEs of the ends can agree to within the noise.
#' With `init = "global"` every fit starts from each representation that is
#' exact or exact in the limit for its gate, expert and truth (`"split"`
#' where it is exact, `"dead"` always, `"scaled"` under the sigmoid gate with
#' linear, ReLU, polynomial and constant experts), each with its own noise
#' drawn in that order from the gate's stream, and from `nstart` data-driven
#' starts, and keeps the lowest SSE: the closest a study comes to the global
#' minimiser the theory is about. The column `start` says which kind of
#' start won, and `sse_gap` by how much: (the lowest SSE of the starts of the
#' other kinds - the winning SSE) / the winning SSE. A gap near 0 says that
#' the data cannot choose between the kinds. A fit costs one local search per
#' representation plus `nstart`, instead of one.
#'
#' @section Losses recorded:
#' One row per (expert, gating, n, replicate) with
#'
#' * `voronoi`: [voronoi_loss()] against the truth in that gate's
#'   parameterisation (`r_exact = 1`, `r_over = 2`);
#'
#' * `expert_error`: the largest [expert_error()] over the true experts, and
#'   `expert_error1`, ..., one per true expert;
#'
#' * `l2`: the \eqn{L^2(\mu)}{L2(mu)} distance between the fitted and the true
#'   regression functions;
#'
#' * any named function of `losses`, called as `f(fit, truth, x)` with the
#'   `moe_fit`, the truth (in the fitted gate's parameterisation when it
#'   exists) and the evaluation sample, returning one number;
#'
#' all computed on one evaluation sample of `eval_n` points from `x_law`,
#' drawn once from `seed`; and always
#'
#' * `misspecified`, `init` (`"near_truth"`, `"global"`, or `"multistart"`
#'   for fits from data-driven starts only);
#'
#' * `surplus`: the representation(s) the starts built from the truth used,
#'   joined by `"+"` for a global search (`NA` with k <= k* or without such
#'   starts);
#'
#' * `start`: the kind of start the fit ended from, `"split"`, `"dead"`,
#'   `"scaled"`, `"truth"` (k <= k*) or `"data"`, and `sse_gap`, its relative
#'   lead over the best start of another kind (`NA` when there is none, as
#'   with `"near_truth"` and `"multistart"`);
#'
#' * `sse`, the convergence `code`, `converged`, `iterations`, `at_bound`
#'   (the number of free parameters at a bound of the box, `NA` if the fit
#'   failed), the fit's `seconds`, `error` (the message if the fit failed,
#'   else `NA`), with custom losses `loss_error` (the messages of the custom
#'   losses that failed on this fit, `"name: message"` joined by `"; "`, else
#'   `NA`; the loss is `NA` there), and `seed`, the task's L'Ecuyer-CMRG
#'   `.Random.seed` as a comma-separated string ([study_replay()] reruns one
#'   cell from it).
#'
#' A custom loss that signals an error, or returns anything but one number,
#' does not stop the study: its value is `NA`, the message goes to
#' `loss_error`, and the study ends with one warning saying in how many fits
#' and tasks a loss failed, and the first message.
#'
#' @section Random numbers and parallel runs:
#' `seed` starts the L'Ecuyer-CMRG generator; the evaluation sample uses its
#' first stream and task t (tasks numbered by expert, then n, then replicate)
#' the t-th next stream ([parallel::nextRNGStream()]). Within a task the data
#' are drawn from the task's stream, and the start of gate g from its g-th
#' sub-stream, so a gate can be replayed without the other. The session's
#' own random number generator is left as it was.
#'
#' Tasks run as futures ([future::future()]) when future is installed (else
#' in a loop), under whatever [future::plan()] is set, so the same call runs
#' sequentially, on local cores, or elsewhere:
#' ```
#' future::plan(future::multisession, workers = 2)          # local cores
#' future::plan(future::cluster, workers = c("n1", "n2"))   # machines over ssh
#' future::plan(future.batchtools::batchtools_slurm,         # a Slurm cluster,
#'              template = system.file("templates", "slurm.tmpl", package = "sigmoe"),
#'              resources = list(walltime = 3600, memory = 2048, ncpus = 1))
#' ```
#' A future carries a chunk of tasks, run one after the other (see
#' `chunk_rows`). Results are identical, bit for bit, under every plan, any
#' number of workers and any chunking (all columns but `seconds`): every
#' task draws from its own stream, whatever chunk it travels in. Each fit is
#' single-threaded: every task sets the BLAS to one thread ([blas_threads()])
#' and the C core uses `control$threads` OpenMP threads (default 1), so the
#' processes times threads never exceed the workers of the plan; choose as
#' many workers as cores (the default of `multisession`).
#'
#' @section Running on a cluster:
#' On a batch scheduler every future is a job: with
#' [future.batchtools](https://future.batchtools.futureverse.org) and Slurm a
#' future costs about 2.5-4 s (submission, start of R, polling) before it
#' computes anything. `chunk_rows` makes each job carry enough work to pay for
#' that: by default about 2e7 rows fitted per job (some 20 to 45 s of one core
#' for fits with k = 3 and d = 1, by the machine's load), so that the paper's Figure 1 study (7.4e7 rows)
#' runs as 4 jobs. Take fewer rows per job to use more cores, more to pay
#' for a slower queue; a job must finish within its walltime.
#'
#' The template of the package, `system.file("templates", "slurm.tmpl",
#' package = "sigmoe")`, takes the resources `walltime` (seconds), `memory`
#' (MB), `ncpus`, `partition`, `account`, `qos`, extra `sbatch` options,
#' `libpaths` and `setup` lines (see the comments at its top); it pins the
#' job's BLAS and OpenMP threads to `ncpus` and gives the job the library
#' paths of the submitting session. Give `cache_dir` on a file system that
#' every node sees: each job writes every task it finishes there, so a job
#' killed for its walltime or by `scancel` loses only its unfinished tasks,
#' and the same call run again computes only those. A job that failed makes
#' the call end with an error that says so and how many tasks the cache
#' holds. `vignette("cluster", package = "sigmoe")` shows the whole recipe.
#'
#' @section Progress and caching:
#' Every finished task signals a [progressr::progressor()] step. A progress
#' bar is shown when `progress = TRUE`, or by default in interactive
#' sessions; otherwise the steps are silent unless the caller sets handlers
#' (e.g. `progressr::handlers(global = TRUE)` or wraps the call in
#' `progressr::with_progress()`).
#'
#' With `cache_dir`, the design of the call is stored in
#' `cache_dir/study.rds` and the worker that computes a task writes its rows
#' to `cache_dir/task-NNNNNN.rds` as soon as it finishes (to a temporary file
#' named after its host and process first, then renamed, so a file is either
#' complete or absent, also with many writers on a shared file system).
#' Running the same call again reads the finished tasks and computes only the
#' missing ones, so an interrupted or crashed study loses at most the tasks in
#' flight. Every file carries a key: a digest of the design (every setting
#' that decides a number; functions such as custom losses by their code, not
#' by the values they capture, and `x_law` by its code and by its draws of the
#' evaluation sample, so a law from a function factory is told apart by what
#' it captured) and the task's id and seed. A
#' call with another design pointing at the same directory is an error naming
#' `cache_dir`, never a mix of results, also when `study.rds` was deleted; a
#' task file that cannot be read or does not have this task's key or columns
#' is computed again, with a warning. Temporary files left by killed writers
#' are removed by the next run.
#'
#' An interrupt (Ctrl-C) ends the call at once. Workers on this machine, or
#' anywhere `cache_dir` is, finish the task in hand (or are interrupted with
#' it, as a terminal's Ctrl-C interrupts them too), write it if it finished,
#' and take no further task; jobs of a batch scheduler still queued or running
#' are cancelled. What was written is valid and is read by the next run.
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
#' @param init `"near_truth"` (default), `"global"` or `"multistart"`, see
#'   the sections on starts and on the global search.
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
#' @param surplus With `init = "near_truth"` and k > k*: how the surplus
#'   atoms enter the start, `"split"`, `"dead"` or `"scaled"` (see the section
#'   on starts), or such names by gate, e.g.
#'   `c(sigmoid = "dead", softmax = "split")`. `NULL` (default): a
#'   representation exact for the truth, per gate.
#' @param bounds The box of every fit: `"auto"` (default), a number c > 0
#'   (the box \eqn{[-c, c]} on every free parameter), `list(lower = , upper = )`
#'   in the forms of [moe_fit()], or `NULL` (no box); see the section on the
#'   compact parameter set.
#' @param init_sd Standard deviation of the noise added to near-truth
#'   starts, a number >= 0.
#' @param nstart Number of data-driven starts for `init = "multistart"`, for
#'   `init = "global"` (besides the representations) and for misspecified
#'   gates.
#' @param control Solver settings for every fit, see [moe_control()].
#' @param eval_n Size of the evaluation sample of the losses, a whole number
#'   of at least 100.
#' @param progress `NULL` (a progress bar in interactive sessions only),
#'   `TRUE` (always) or `FALSE` (never signal progress).
#' @param chunk_rows Rows fitted per future: the tasks are dealt into chunks
#'   of about this many rows (n times the local searches of a task, summed
#'   over its gates), largest first into the lightest chunk, one future each.
#'   `NULL` (default): two chunks per worker when the plan's workers outlive
#'   a future (sequential, multicore, multisession, cluster), else chunks of
#'   about 2e7 rows (a batch scheduler, where a future is a job). `Inf`: one
#'   future for the whole study. The chunking never changes the results.
#' @returns An object of class `moe_study`: a list with `results` (the data
#'   frame, also given by `as.data.frame()`), `truth`, `truths` (per expert
#'   type, the data-generating truth and the truth in each gate's
#'   parameterisation, `NULL` where misspecified), `misspecified` (per gate),
#'   `regime` (`"zero_slope"` or `"nonzero_slope"`: whether every split true
#'   atom has zero gating slope in the sigmoid parameterisation, or
#'   `"exact"` when k = k*, `"under_specified"` when k < k*, for which the
#'   theory states no rate), `settings`, `setup` (with `bounds`: the box's
#'   `lower`, `upper`, per gate in `gates`, and its one-line `label`; and
#'   `surplus`: the representation per gate), `x_eval`, `elapsed`,
#'   `computed` and `cached` (tasks computed by this call and read from
#'   `cache_dir`), `workers`, `chunks` (the futures the computed tasks
#'   travelled in), `cache_dir` and `call`. The results have the columns listed in the section on the
#'   losses recorded.
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
#' # every representation of the truth and two data-driven starts per fit
#' gl <- convergence_study(truth, n = c(200, 400), reps = 2, k = 3, sd = 0.1,
#'                         seed = 1, init = "global", nstart = 2)
#' as.data.frame(gl)[c("gating", "n", "surplus", "start", "sse_gap", "at_bound")]
#' @export
convergence_study <- function(truth, n, reps, k, gating = c("sigmoid", "softmax"),
                              expert = NULL, sd, x_law = NULL,
                              init = c("near_truth", "global", "multistart"),
                              losses = c("voronoi", "expert_error", "l2"),
                              seed, cache_dir = NULL, ...,
                              degree = NULL, split = NULL, surplus = NULL, bounds = "auto",
                              init_sd = 0.05,
                              nstart = 10L, control = moe_control(),
                              eval_n = 10000L, progress = NULL, chunk_rows = NULL) {
  cl <- match.call()
  check_dots_empty(...)
  if (missing(truth)) stop("`truth` must be given: a `moe_params` object.", call. = FALSE)
  if (missing(n)) stop("`n` must be given: a vector of sample sizes.", call. = FALSE)
  if (missing(reps)) stop("`reps` must be given: the number of replicates per sample size.", call. = FALSE)
  if (missing(k)) stop("`k` must be given: the number of experts of the fitted models.", call. = FALSE)
  if (missing(sd)) stop("`sd` must be given: the noise standard deviation.", call. = FALSE)
  if (missing(seed)) stop("`seed` must be given: a whole number that fixes the study.", call. = FALSE)
  if (!is.null(progress)) progress <- check_flag(progress, "progress")
  if (!is.null(chunk_rows) && !identical(chunk_rows, Inf))
    chunk_rows <- check_number(chunk_rows, "chunk_rows", min = 1)

  saved_rng <- rng_save()
  on.exit(rng_restore(saved_rng), add = TRUE)
  setup <- study_setup(truth = truth, n = n, reps = reps, k = k, gating = gating,
                       expert = expert, sd = sd, x_law = x_law, init = init,
                       losses = losses, seed = seed, degree = degree, split = split,
                       surplus = surplus, bounds = bounds, init_sd = init_sd, nstart = nstart,
                       control = control, eval_n = eval_n)
  for (g in names(setup$misspecified)[setup$misspecified])
    message(sprintf(paste0("The truth (%s gate, k* = %d) is not a model with the %s gate: the %s ",
                           "fits are misspecified (column `misspecified`; no Voronoi loss, ",
                           "data-driven starts)."), setup$truth$gating, setup$truth$k, g, g))

  tasks <- setup$tasks
  ids <- vapply(tasks, `[[`, integer(1), "id")
  started <- Sys.time()
  done <- list()
  if (!is.null(cache_dir)) {
    cache_dir <- check_cache_dir(cache_dir)
    key <- study_design_key(setup$settings)
    done <- cache_open(cache_dir, setup, key, started)
    setup$cache <- list(dir = cache_dir, key = key)
  }
  pending <- tasks[!(ids %in% as.integer(names(done)))]

  workers <- suppressWarnings(study_workers())  # NA for a plan with unlimited workers
  persistent <- study_plan_persistent()
  # the cores of this machine bound the workers of local plans only
  if (study_plan_local() && workers * setup$control$threads > study_cores())
    warning(sprintf(paste0("%d workers x %d threads (control$threads) exceed the %d available cores; ",
                           "use control = moe_control(threads = 1)."), workers,
                    setup$control$threads, study_cores()), call. = FALSE)
  chunks <- if (length(pending)) study_chunks(pending, setup, chunk_rows, workers, persistent)
            else list()
  t0 <- proc.time()[["elapsed"]]
  fresh <- list()
  if (length(pending)) {
    run <- study_run_start(cache_dir)
    on.exit(study_run_end(run), add = TRUE)
    fresh <- run_study_tasks(pending, setup, progress, chunks, run)
    study_run_end(run)
  }
  elapsed <- proc.time()[["elapsed"]] - t0
  all <- c(done, fresh)
  all <- all[as.character(ids)]
  results <- bind_rows_list(lapply(all, `[[`, "rows"))
  rownames(results) <- NULL
  study_warn_loss_errors(results)

  setup$cache <- NULL
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
    chunks = length(chunks),
    cache_dir = cache_dir,
    call = cl
  ), class = "moe_study")
}

# A custom loss that failed leaves NA and its message in `loss_error`; the
# study says how often, once.
study_warn_loss_errors <- function(results) {
  if (!"loss_error" %in% names(results)) return(invisible(NULL))
  bad <- !is.na(results$loss_error)
  if (!any(bad)) return(invisible(NULL))
  tasks <- length(unique(results$task[bad]))
  warning(sprintf(paste0("A custom loss failed in %d fit%s of %d task%s (the loss is NA there; see ",
                         "the column `loss_error`). The first: %s"),
                  sum(bad), if (sum(bad) > 1L) "s" else "", tasks, if (tasks > 1L) "s" else "",
                  results$loss_error[bad][1L]), call. = FALSE)
}

check_study <- function(x, arg = "study") {
  if (!inherits(x, "moe_study")) abort_arg(arg, "a `moe_study` object (see ?convergence_study)", x)
  invisible(x)
}
