# Running the tasks of a study (R/study-run.R): the same results under any
# plan, the same numbers as a plain loop of fits, the kind of start that won
# and the random stream of each gate.

test_that("results are identical under sequential and multisession plans and any chunking", {
  skip_on_cran()
  skip_if_not_installed("future")
  # the workers must find this installation of sigmoe
  old_libs <- Sys.getenv("R_LIBS")
  Sys.setenv(R_LIBS = paste(.libPaths(), collapse = .Platform$path.sep))
  old_plan <- future::plan(future::sequential)
  on.exit({
    future::plan(old_plan)
    Sys.setenv(R_LIBS = old_libs)
  }, add = TRUE)
  a <- shared_study()
  # one task per chunk, two chunks, one chunk
  for (rows in c(1, 1800, Inf)) {
    s <- tiny_study(chunk_rows = rows)
    expect_identical(no_time(s), no_time(a), info = rows)
  }
  expect_identical(tiny_study(chunk_rows = 1)$chunks, 8L)
  expect_identical(tiny_study(chunk_rows = 1800)$chunks, 2L)
  expect_identical(tiny_study(chunk_rows = Inf)$chunks, 1L)
  future::plan(future::multisession, workers = 2)
  b <- tiny_study()
  expect_identical(b$workers, 2L)
  expect_identical(b$chunks, 4L)
  expect_identical(no_time(a), no_time(b))
  expect_identical(no_time(tiny_study(chunk_rows = 1)), no_time(a))
  expect_identical(no_time(tiny_study(chunk_rows = Inf)), no_time(a))
  # the session's random numbers are left alone by the study and its chunks
  set.seed(5)
  before <- .Random.seed
  tiny_study(chunk_rows = 1000)
  expect_identical(.Random.seed, before)
})

test_that("tasks are dealt into chunks of about equal rows", {
  st <- shared_study()
  setup <- st$setup
  tasks <- setup$tasks
  # rows fitted by a task: n times the local searches of its gates
  expect_identical(vapply(tasks, sigmoe:::study_task_rows, numeric(1), setup = setup),
                   2 * vapply(tasks, function(t) as.numeric(t$n), numeric(1)))
  g <- setup
  g$init <- "global"
  g$nstart <- 3L
  # global: every representation (sigmoid: dead + scaled, softmax: split + dead) and nstart each
  g$starts <- lapply(setup$starts, function(e) list(sigmoid = list(dead = 1, scaled = 2),
                                                    softmax = list(split = 1, dead = 2)))
  expect_identical(sigmoe:::study_task_rows(tasks[[1]], g), 150 * (2 * (2 + 3)))
  chunk <- function(...) sigmoe:::study_chunks(tasks, setup, ...)
  # persistent workers: two chunks per worker
  expect_length(chunk(NULL, 2L, TRUE), 4L)
  expect_length(chunk(NULL, 1L, TRUE), 2L)
  expect_length(chunk(NULL, 100L, TRUE), 8L)  # never more chunks than tasks
  # otherwise chunks of at most about chunk_rows rows
  expect_length(chunk(NULL, 100L, FALSE), 1L)  # 3,600 rows, far below the default
  expect_length(chunk(1000, 100L, FALSE), 4L)
  expect_length(chunk(1000, 2L, TRUE), 4L)     # chunk_rows wins over the plan
  ch <- chunk(1200, 100L, FALSE)
  expect_identical(sort(unlist(ch)), 1:8)
  expect_identical(attr(ch, "rows"), c(1200, 1200, 1200))
  # with many unequal tasks the chunks are balanced
  big <- lapply(seq_len(200), function(i) list(id = i, expert = "relu", n = round(10^(3 + 2 * (i %% 20) / 19)),
                                               rep = i %/% 20))
  ch <- sigmoe:::study_chunks(big, setup, NULL, 8L, TRUE)
  expect_length(ch, 16L)
  expect_identical(sort(unlist(ch)), 1:200)
  expect_lt(max(attr(ch, "rows")) / min(attr(ch, "rows")), 1.05)
  expect_error(tiny_study(chunk_rows = 0), "`chunk_rows` must be a single finite number >= 1")
  expect_error(tiny_study(chunk_rows = "a"), "`chunk_rows`")
})

test_that("a custom loss that fails is recorded per fit and reported once, not fatal", {
  old <- if (requireNamespace("future", quietly = TRUE)) future::plan(future::sequential)
  on.exit(if (!is.null(old)) future::plan(old), add = TRUE)
  picky <- function(fit, truth, x) {
    if (nobs(fit) > 200) stop("no large samples")
    1
  }
  vague <- function(fit, truth, x) c(1, 2)
  losses <- list("voronoi", "expert_error", "l2", picky = picky, vague = vague)
  expect_warning(st <- tiny_study(losses = losses),
                 paste0("A custom loss failed in 16 fits of 8 tasks .*`loss_error`.*The first: ",
                        "vague: must return one number, not"))
  d <- as.data.frame(st)
  big <- d$n == 300
  expect_identical(d$picky, ifelse(big, NA_real_, 1))
  expect_identical(d$vague, rep(NA_real_, 16))
  expect_match(d$loss_error[big], "^picky: no large samples; vague: must return one number")
  expect_match(d$loss_error[!big], "^vague: must return one number")
  # the fits and the other losses are untouched
  ref <- no_time(shared_study())
  expect_identical(no_time(st)[names(ref)], ref)
  expect_identical(names(d), sigmoe:::study_columns(st$setup))
  expect_identical(names(d)[match(c("l2", "picky", "vague"), names(d))], c("l2", "picky", "vague"))
  # one failing loss, one message
  expect_warning(tiny_study(losses = list("voronoi", picky = picky)),
                 "failed in 8 fits of 4 tasks .* The first: picky: no large samples")
  # without custom losses there is no column `loss_error`
  expect_false("loss_error" %in% names(as.data.frame(shared_study())))
  # the replayed cell has the same row
  cell <- study_replay(st, gating = "softmax", n = 300, rep = 2, expert = "linear")
  row <- no_time(st)[d$gating == "softmax" & d$n == 300 & d$rep == 2 & d$expert == "linear", ]
  rownames(row) <- NULL
  expect_identical(cell$result[names(row)], row)
})

test_that("workers stop before their next task once the run's token is gone", {
  old <- if (requireNamespace("future", quietly = TRUE)) future::plan(future::sequential)
  on.exit(if (!is.null(old)) future::plan(old), add = TRUE)
  dir <- tempfile("study-token-")
  on.exit(unlink(dir, recursive = TRUE), add = TRUE)
  # a loss that removes the run's token during the third task it sees
  hook <- new.env()
  hook$calls <- 0
  hook$dir <- dir
  cut <- function(fit, truth, x) {
    hook$calls <- hook$calls + 1
    if (hook$calls == 5) unlink(list.files(hook$dir, pattern = "^\\.run-", all.files = TRUE,
                                           full.names = TRUE))
    0
  }
  environment(cut) <- list2env(list(hook = hook), parent = globalenv())
  # one chunk: the three tasks before the cut are cached, then the chunk stops
  expect_error(tiny_study(cache_dir = dir, losses = list("voronoi", cut = cut), chunk_rows = Inf),
               "workers skipped 5 tasks: they could not find the run's token .*`cache_dir` must be on a file system")
  expect_length(list.files(dir, pattern = "^task-"), 3L)
  expect_length(list.files(dir, pattern = "^\\.(run|partial)-", all.files = TRUE), 0L)

  # a chunk sent by a run that has ended computes nothing
  st <- shared_study()
  setup <- st$setup
  run <- list(token = file.path(tempdir(), ".run-gone"), pid = Sys.getpid())
  res <- sigmoe:::study_chunk_run(setup$tasks[1:3], setup, run)
  expect_identical(res$skipped, 1:3)
  expect_true(res$cancelled)
  expect_length(res$done, 0L)
  # a token in a directory the worker does not see is no signal (another machine)
  run$token <- file.path(tempfile("elsewhere-"), ".run-x")
  res <- sigmoe:::study_chunk_run(setup$tasks[1:2], setup, run)
  expect_identical(names(res$done), c("1", "2"))
  saved <- sigmoe:::rng_save()  # the task sets its own stream
  want <- sigmoe:::study_task_compute(setup$tasks[[1]], setup, setup$gating)$rows
  sigmoe:::rng_restore(saved)
  expect_identical(res$done[["1"]]$rows[names(want) != "seconds"], want[names(want) != "seconds"])
})

test_that("an interrupted worker returns what it has; the session's own interrupt is not caught", {
  st <- shared_study()
  setup <- st$setup
  # a custom loss that signals an interrupt on its third call (the second task)
  hook <- new.env()
  hook$calls <- 0
  setup$losses$custom <- list(stop_here = function(fit, truth, x) {
    hook$calls <- hook$calls + 1
    if (hook$calls == 3) signalCondition(structure(class = c("interrupt", "condition"),
                                                   list(message = "", call = NULL)))
    0
  })
  dir <- tempfile("study-int-")
  dir.create(dir)
  on.exit(unlink(dir, recursive = TRUE), add = TRUE)
  setup$cache <- list(dir = dir, key = "k")
  token <- file.path(dir, ".run-test")
  file.create(token)
  # in a worker (another process than the run's): the chunk returns
  res <- sigmoe:::study_chunk_run(setup$tasks[1:3], setup, list(token = token, pid = -1L))
  expect_true(res$interrupted)
  expect_identical(names(res$done), "1")
  expect_identical(res$skipped, 2:3)
  expect_identical(list.files(dir, all.files = TRUE, no.. = TRUE), c(".run-test", "task-000001.rds"))
  # in the session that started the run: the interrupt goes through
  hook$calls <- 0
  got <- tryCatch(sigmoe:::study_chunk_run(setup$tasks[1:3], setup, list(token = token, pid = Sys.getpid())),
                  interrupt = function(i) "interrupted")
  expect_identical(got, "interrupted")
})

test_that("split starts divide an atom's weight among its copies", {
  x <- seq(-1, 1, by = 0.05)
  soft <- soft_truth()
  sig <- sigmoe:::truth_for_gate(soft, "sigmoid")
  # splitting the softmax reference atom, re-expressed relative to its last copy
  s1 <- sigmoe:::surplus_start(soft, 4, split = c(2, 2))
  expect_identical(s1$k, 4L)
  expect_equal(moe_mean(s1, x), moe_mean(soft, x))
  expect_equal(s1$beta0, c(0.5 + log(3), 0, 0, 0))
  expect_equal(as.numeric(voronoi_loss(s1, soft)), 0, tolerance = 1e-14)
  # sigmoid: two copies with half the weight each
  s2 <- sigmoe:::surplus_start(sig, 3, split = 1)
  expect_equal(plogis(s2$beta0[1:2]), rep(plogis(sig$beta0[1]) / 2, 2))
  expect_equal(unname(s2$beta1[1:2, 1]), rep(unname(sig$beta1[1, 1]), 2))
  expect_equal(as.numeric(voronoi_loss(s2, sig)), 0, tolerance = 1e-14)
  # noise comes from the RNG, and a box takes the noisy start back in
  set.seed(1)
  s3 <- sigmoe:::noisy_start(s2, init_sd = 0.05)
  expect_false(isTRUE(all.equal(s3$b, s2$b)))
  set.seed(1)
  s4 <- sigmoe:::noisy_start(s2, init_sd = 0.5, lower = -3, upper = 3)
  expect_true(all(abs(sigmoe:::params_theta(s4)) <= 3))
  expect_true(any(abs(sigmoe:::params_theta(s4)) == 3))
})

test_that("with bounds = NULL and split starts a study is a plain loop of unbounded fits", {
  # Everything below is written out from the documented design, not from the
  # study's code: the L'Ecuyer-CMRG streams, the evaluation sample, the data,
  # today's split start with its noise, one unbounded local search per fit.
  tr <- soft_truth()
  sizes <- c(150, 300)
  reps <- 2L
  st <- convergence_study(tr, n = sizes, reps = reps, k = 3, sd = 0.1, seed = 7, eval_n = 500,
                          bounds = NULL, surplus = "split")
  got <- as.data.frame(st)

  saved <- get0(".Random.seed", envir = globalenv(), inherits = FALSE)
  kinds <- RNGkind()
  on.exit({
    RNGkind(kinds[1L], kinds[2L], kinds[3L])
    if (is.null(saved)) rm(".Random.seed", envir = globalenv())
    else assign(".Random.seed", saved, envir = globalenv())
  }, add = TRUE)
  set.seed(7, kind = "L'Ecuyer-CMRG", normal.kind = "Inversion", sample.kind = "Rejection")
  s0 <- .Random.seed
  x_eval <- matrix(runif(500, -1, 1), ncol = 1)
  truths <- list(
    sigmoid = moe_params(beta0 = c(0.5, -0.5), beta1 = c(3, -3), a = c(1, -1), b = c(0.2, 0.1),
                         gating = "sigmoid", expert = "relu"),
    softmax = tr)
  starts <- list(
    sigmoid = moe_params(beta0 = qlogis(plogis(c(0.5, 0.5, -0.5)) / c(2, 2, 1)), beta1 = c(3, 3, -3),
                         a = c(1, 1, -1), b = c(0.2, 0.2, 0.1), gating = "sigmoid", expert = "relu"),
    softmax = moe_params(beta0 = c(0.5 - log(2), 0.5 - log(2), 0), beta1 = c(3, 3, 0),
                         a = c(1, 1, -1), b = c(0.2, 0.2, 0.1), gating = "softmax", expert = "relu"))
  s <- s0
  want <- NULL
  for (n in sizes) for (r in seq_len(reps)) {
    s <- parallel::nextRNGStream(s)
    assign(".Random.seed", s, envir = globalenv())
    x <- matrix(runif(n, -1, 1), ncol = 1)
    y <- moe_mean(tr, x) + rnorm(n, 0, 0.1)
    sub <- s
    for (g in c("sigmoid", "softmax")) {
      sub <- parallel::nextRNGSubStream(sub)
      assign(".Random.seed", sub, envir = globalenv())
      theta <- sigmoe:::params_theta(starts[[g]])
      start <- sigmoe:::theta_params(theta + rnorm(length(theta), 0, 0.05), starts[[g]])
      fit <- suppressWarnings(moe_fit(x, y, 3, gating = g, expert = "relu", start = start, nstart = 0),
                              classes = "sigmoe_fit_warning")
      want <- rbind(want, data.frame(
        gating = g, n = n, rep = r, sse = fit$sse,
        voronoi = as.numeric(voronoi_loss(fit, truths[[g]])),
        expert_error = max(expert_error(fit, truths[[g]], x_eval))))
    }
  }
  got <- got[order(got$n, got$rep, got$gating), c("gating", "n", "rep", "sse", "voronoi", "expert_error")]
  want <- want[order(want$n, want$rep, want$gating), ]
  rownames(got) <- rownames(want) <- NULL
  expect_equal(got$n, want$n)
  expect_identical(got$sse, want$sse)
  expect_identical(got$voronoi, want$voronoi)
  expect_identical(got$expert_error, want$expert_error)
  expect_identical(unique(as.data.frame(st)$at_bound), 0L)
  expect_identical(sigmoe:::study_box_label(st), "no box (unbounded)")
})

test_that("a global search records which kind of start won and by how much", {
  st <- tiny_study(init = "global", nstart = 2)
  d <- as.data.frame(st)
  expect_identical(unique(d$init), "global")
  expect_identical(st$setup$surplus, c(sigmoid = "dead+scaled", softmax = "split+dead"))
  # linear and ReLU experts are homogeneous: both run the scaled copies
  expect_identical(unique(d$surplus[d$gating == "sigmoid"]), "dead+scaled")
  expect_true(all(d$start %in% c("split", "dead", "scaled", "data")))
  expect_true(all(d$start[d$gating == "softmax"] %in% c("split", "dead", "data")))
  expect_true(all(is.finite(d$sse_gap) & d$sse_gap >= 0))
  # the winner is the fit's lowest SSE; the gap is measured to the best other kind
  cell <- study_replay(st, gating = "sigmoid", n = 300, rep = 1, expert = "relu")
  fs <- cell$fit$starts
  kinds <- c(names(cell$start), rep("data", 2L))
  best <- which.min(fs$sse)
  expect_identical(cell$result$start, kinds[best])
  other <- kinds != kinds[best]
  expect_equal(cell$result$sse_gap, (min(fs$sse[other]) - fs$sse[best]) / fs$sse[best])
  expect_identical(fs$source, c("user", "user", "data", "data"))
  expect_identical(cell$fit$sse, min(fs$sse))
})

test_that("near-truth and multistart rows name their start and have no gap", {
  d <- as.data.frame(shared_study())
  expect_identical(d$start, d$surplus)
  expect_identical(unique(d$start[d$gating == "sigmoid"]), "dead")
  expect_identical(unique(d$start[d$gating == "softmax"]), "split")
  expect_true(all(is.na(d$sse_gap)))
  expect_true(all(d$at_bound >= 0L))
  m <- as.data.frame(tiny_study(init = "multistart", nstart = 2))
  expect_identical(unique(m$start), "data")
  expect_true(all(is.na(m$surplus)) && all(is.na(m$sse_gap)))
})

test_that("gate g starts from the g-th sub-stream of its task's stream", {
  s <- sigmoe:::with_rng(1L, .Random.seed)
  substream <- function(seed, times) {
    for (i in seq_len(times)) seed <- parallel::nextRNGSubStream(seed)
    seed
  }
  expect_identical(sigmoe:::gate_seed(s, "sigmoid"), substream(s, 1L))
  expect_identical(sigmoe:::gate_seed(s, "softmax"), substream(s, 2L))
  expect_identical(sigmoe:::gate_seed(s, "normalized_sigmoid"), substream(s, 3L))
})

test_that("Ctrl-C under multisession: workers stop after the task in hand, the session can resume", {
  skip_on_cran()
  skip_on_os("windows")
  skip_if_not_installed("future")
  skip_if(Sys.which("setsid") == "" || Sys.which("kill") == "",
          "no setsid and kill programs to start and signal a process group")
  # A child session runs a study on two multisession workers, in its own
  # process group, and gets SIGINT like a terminal's Ctrl-C: the session and
  # both workers at once. Then it counts what was written, resumes in the
  # same session and compares with a sequential run.
  work <- tempfile("study-ctrl-c-")
  dir.create(work)
  on.exit(unlink(work, recursive = TRUE), add = TRUE)
  script <- file.path(work, "child.R")
  writeLines(c(
    "library(sigmoe)",
    "args <- commandArgs(TRUE); work <- args[1]",
    "future::plan(future::multisession, workers = 2)",
    "writeLines(as.character(Sys.getpid()), file.path(work, 'pid'))",
    "slow <- function(fit, truth, x) { if (file.exists(flag)) Sys.sleep(0.3); 0 }",
    "environment(slow) <- list2env(list(flag = file.path(work, 'slow')), parent = globalenv())",
    "file.create(file.path(work, 'slow'))",
    "cache <- file.path(work, 'cache')",
    "truth <- moe_params(beta0 = c(0.5, 0), beta1 = c(3, 0), a = c(1, -1), b = c(0.2, 0.1),",
    "                    gating = 'softmax', expert = 'relu')",
    "run <- function(...) convergence_study(truth, n = c(150, 300), reps = 8, k = 3, sd = 0.1,",
    "  seed = 3, losses = list('voronoi', slow = slow), progress = FALSE, chunk_rows = 3600, ...)",
    "got <- tryCatch(run(cache_dir = cache), interrupt = function(i) 'interrupted')",
    "n_tasks <- function() length(list.files(cache, pattern = '^task-'))",
    "at_int <- n_tasks(); Sys.sleep(3); after <- n_tasks()",
    "unlink(file.path(work, 'slow'))",
    "t0 <- Sys.time(); st <- run(cache_dir = cache); took <- as.numeric(Sys.time() - t0, units = 'secs')",
    "future::plan(future::sequential)",
    "ref <- run()",
    "no_time <- function(s) { d <- as.data.frame(s); d[setdiff(names(d), 'seconds')] }",
    "saveRDS(list(got = got, at_int = at_int, after = after, computed = st$computed, cached = st$cached,",
    "             took = took, same = identical(no_time(st), no_time(ref)),",
    "             left = list.files(cache, pattern = '^[.](partial|run)-', all.files = TRUE)),",
    "        file.path(work, 'result.tmp'))",
    "file.rename(file.path(work, 'result.tmp'), file.path(work, 'result.rds'))"), script)
  libs <- paste(.libPaths(), collapse = .Platform$path.sep)
  system(sprintf("R_LIBS=%s setsid %s %s %s > %s 2>&1", shQuote(libs),
                 shQuote(file.path(R.home("bin"), "Rscript")), shQuote(script), shQuote(work),
                 shQuote(file.path(work, "log"))), wait = FALSE)
  wait_for <- function(cond, secs) {
    end <- Sys.time() + secs
    while (!cond() && Sys.time() < end) Sys.sleep(0.05)
    cond()
  }
  cache <- file.path(work, "cache")
  ok <- wait_for(function() length(list.files(cache, pattern = "^task-")) >= 2L, 90)
  log <- function() paste(readLines(file.path(work, "log")), collapse = "\n")
  expect_true(ok, info = log())
  before <- length(list.files(cache, pattern = "^task-"))
  pid <- as.integer(readLines(file.path(work, "pid")))
  # the kill program (sh's builtin may not take a process group)
  system2(Sys.which("kill"), c("-INT", "--", paste0("-", pid)))
  expect_true(wait_for(function() file.exists(file.path(work, "result.rds")), 120), info = log())
  r <- readRDS(file.path(work, "result.rds"))
  expect_identical(r$got, "interrupted")
  # each of the two workers was interrupted in its task, or finished it just
  # before: no task was begun after the interrupt
  expect_lte(r$after - before, 2L)
  expect_lte(r$after - r$at_int, 2L)
  expect_identical(r$computed + r$cached, 16L)
  expect_identical(r$cached, r$after)
  expect_true(r$same)
  expect_length(r$left, 0L)
})
