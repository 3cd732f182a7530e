# The cache of a study (R/study-cache.R): resuming, recomputing lost or
# damaged tasks, refusing a different study (also when study.rds is gone),
# atomic writes by concurrent processes, and the files killed writers leave.

# The sequential plan for the rest of the calling test.
local_sequential <- function(env = parent.frame()) {
  if (!requireNamespace("future", quietly = TRUE)) return(invisible())
  old <- future::plan(future::sequential)
  do.call(on.exit, list(bquote(future::plan(.(old))), add = TRUE), envir = env)
}

local_cache <- function(env = parent.frame()) {
  dir <- tempfile("study-cache-")
  do.call(on.exit, list(substitute(unlink(d, recursive = TRUE), list(d = dir)), add = TRUE),
          envir = env)
  dir
}

task_files <- function(dir) sort(list.files(dir, pattern = "^task-[0-9]+\\.rds$"))

# tiny_study() with another noise level
noisy_study <- function(sd, ...) {
  convergence_study(soft_truth(), n = c(150, 300), reps = 2, k = 3, sd = sd, seed = 11,
                    expert = c("relu", "linear"), ...)
}

test_that("an interrupted study resumes from its cache and equals an uninterrupted one", {
  full <- shared_study()
  dir <- local_cache()
  local_sequential()
  # a crash in the third task: an input law that fails on its fourth call
  # (the first draws the evaluation sample, then one call per task); the
  # other tasks finish and are cached
  hook <- new.env()
  hook$fail <- TRUE
  hook$calls <- 0
  law <- function(n, d) {
    hook$calls <- hook$calls + 1
    if (hook$fail && hook$calls == 4) stop("simulated crash")
    matrix(stats::runif(n * d, -1, 1), n, d)
  }
  environment(law) <- list2env(list(hook = hook), parent = globalenv())
  run <- function(...) tiny_study(cache_dir = dir, x_law = law, ...)
  expect_error(run(), "did not finish: task [0-9] .* failed: .*simulated crash.* holds the 7 tasks finished")
  expect_length(task_files(dir), 7L)
  expect_length(list.files(dir, pattern = "partial", all.files = TRUE), 0L)
  hook$fail <- FALSE
  resumed <- run()
  expect_identical(c(resumed$computed, resumed$cached), c(1L, 7L))
  expect_identical(no_time(resumed), no_time(full))

  # lost task files are recomputed, the others read back
  unlink(file.path(dir, c("task-000001.rds", "task-000008.rds")))
  again <- run()
  expect_identical(c(again$computed, again$cached), c(2L, 6L))
  expect_identical(no_time(again), no_time(full))

  # a different call on the same cache is an error, not a mix
  expect_error(run(init_sd = 0.1), "`cache_dir` \".*\" holds the results of a different study .*`init_sd`")
  expect_error(tiny_study(cache_dir = dir), "differs in `x_law`")
})

test_that("an input law from a function factory is told apart by what it draws", {
  dir <- local_cache()
  local_sequential()
  unif_law <- function(s) function(n, d) matrix(stats::runif(n * d, -s, s), n, d)
  a <- tiny_study(cache_dir = dir, x_law = unif_law(1))
  # the same code with another captured value: another study, not the cache's
  expect_error(tiny_study(cache_dir = dir, x_law = unif_law(3)), "differs in .*`x_law_sample`")
  # the same law again: read back
  again <- tiny_study(cache_dir = dir, x_law = unif_law(1))
  expect_identical(again$computed, 0L)
  expect_identical(no_time(again), no_time(a))
  # the default law adds nothing to the key
  expect_null(tiny_study()$settings$x_law_sample)
})

test_that("a cache whose study.rds was deleted is refused for a different design", {
  # before task files carried the design's key, the old results came back
  # silently: the seeds of the tasks do not depend on sd
  dir <- local_cache()
  local_sequential()
  a <- tiny_study(cache_dir = dir)
  unlink(file.path(dir, "study.rds"))
  expect_error(noisy_study(0.5, cache_dir = dir),
               paste0("`cache_dir` \"", normalizePath(dir), "\" holds the results of a different ",
                      "study: 8 task files .* carry the key of another design"), fixed = FALSE)
  # nothing was written in the refused directory
  expect_false(file.exists(file.path(dir, "study.rds")))
  # the same design finds its results again and writes study.rds anew
  b <- tiny_study(cache_dir = dir)
  expect_identical(c(b$computed, b$cached), c(0L, 8L))
  expect_identical(no_time(b), no_time(a))
  expect_true(file.exists(file.path(dir, "study.rds")))
  # a manifest of another design is refused whatever the task files say
  expect_error(noisy_study(0.5, cache_dir = dir), "differs in `sd`")
  # an unreadable manifest is written again, and said so once
  writeLines("garbage", file.path(dir, "study.rds"))
  said <- character(0)
  c2 <- withCallingHandlers(tiny_study(cache_dir = dir), warning = function(w) {
    said <<- c(said, conditionMessage(w))
    invokeRestart("muffleWarning")
  })
  expect_identical(length(grep("study.rds is unreadable and is written again", said)), 1L)
  expect_identical(no_time(c2), no_time(a))
  expect_type(readRDS(file.path(dir, "study.rds")), "list")
})

test_that("the design key sees every setting, and functions by their code", {
  local_sequential()
  st <- shared_study()
  key <- function(s) sigmoe:::study_design_key(s)
  s <- st$setup$settings
  expect_match(key(s), "^[0-9a-f]{32}$")
  expect_identical(key(s), key(s))
  for (f in c("sd", "seed", "init_sd", "eval_n", "nstart")) {
    t <- s
    t[[f]] <- t[[f]] + 1
    expect_false(identical(key(t), key(s)), info = f)
  }
  # a function's code counts, its enclosing environment and source do not
  law1 <- function(n, d) matrix(runif(n * d, -1, 1), n, d)
  law2 <- eval(parse(text = "function(n, d)   matrix(runif(n * d, -1, 1), n, d) # same code",
                     keep.source = TRUE))
  environment(law2) <- new.env()
  law3 <- function(n, d) matrix(runif(n * d, -2, 2), n, d)
  t1 <- s; t1$x_law <- law1
  t2 <- s; t2$x_law <- law2
  t3 <- s; t3$x_law <- law3
  expect_identical(key(t1), key(t2))
  expect_false(identical(key(t1), key(t3)))
  # the same key in a new session
  skip_on_cran()
  f <- tempfile(fileext = ".rds")
  on.exit(unlink(f), add = TRUE)
  saveRDS(t2, f)
  other <- system2(file.path(R.home("bin"), "Rscript"),
                   c("-e", shQuote(sprintf("cat(sigmoe:::study_design_key(readRDS('%s')))", f))),
                   stdout = TRUE, env = paste0("R_LIBS=", paste(.libPaths(), collapse = ":")))
  expect_identical(other, key(t1))
})

test_that("damaged task files are recomputed with a warning", {
  full <- shared_study()
  dir <- local_cache()
  local_sequential()
  tiny_study(cache_dir = dir)
  path <- function(id) file.path(dir, sprintf("task-%06d.rds", id))
  # truncated: half of the compressed bytes
  bytes <- readBin(path(1), "raw", file.size(path(1)))
  writeBin(bytes[seq_len(length(bytes) %/% 2)], path(1))
  # readable, but not a task file
  saveRDS(1, path(2))
  # another task's file under this task's name
  file.copy(path(4), path(3), overwrite = TRUE)
  # this study's key, the wrong columns
  obj <- readRDS(path(5))
  obj$rows$voronoi <- NULL
  saveRDS(obj, path(5))
  # this study's key, a column of the wrong length
  obj <- readRDS(path(6))
  obj$rows$sse <- obj$rows$sse[1]
  saveRDS(obj, path(6))
  expect_warning(st <- tiny_study(cache_dir = dir),
                 paste0("5 task files in `cache_dir` .* are unreadable or damaged and their tasks ",
                        "are computed again: task-000001.rds \\(unreadable.*task-000002.rds \\(no key\\), ",
                        "task-000003.rds \\(the key of another task\\) and 2 more"))
  expect_identical(c(st$computed, st$cached), c(5L, 3L))
  expect_identical(no_time(st), no_time(full))
  # and they are whole again
  expect_silent(again <- tiny_study(cache_dir = dir))
  expect_identical(again$cached, 8L)
})

test_that("a cache from an older sigmoe (no keys) is refused, not trusted", {
  dir <- local_cache()
  local_sequential()
  dir.create(dir)
  saveRDS(list(settings = shared_study()$settings, version = "0.0.9"), file.path(dir, "study.rds"))
  expect_error(tiny_study(cache_dir = dir), "`cache_dir` \".*\" was written by an older version")
})

test_that("files left by killed writers are removed when a run opens the cache, never read", {
  full <- shared_study()
  dir <- local_cache()
  local_sequential()
  tiny_study(cache_dir = dir)
  unlink(file.path(dir, "task-000002.rds"))
  # a writer killed before this run, and one still writing (newer than the run)
  old <- file.path(dir, ".partial-otherhost-123-task-000002.rds")
  new <- file.path(dir, ".partial-otherhost-456-task-000002.rds")
  writeBin(as.raw(1:10), old)
  Sys.setFileTime(old, Sys.time() - 3600)
  writeBin(as.raw(1:10), new)
  Sys.setFileTime(new, Sys.time() + 3600)
  st <- tiny_study(cache_dir = dir)
  expect_identical(c(st$computed, st$cached), c(1L, 7L))
  expect_false(file.exists(old))
  expect_true(file.exists(new))
  expect_identical(no_time(st), no_time(full))
  # a run's token goes with the run
  expect_length(list.files(dir, pattern = "^\\.run-", all.files = TRUE), 0L)
})

test_that("concurrent writers of the same task file never leave half a file", {
  skip_on_cran()
  skip_on_os("windows")
  dir <- local_cache()
  dir.create(dir)
  path <- file.path(dir, "task-000001.rds")
  # each process writes a large object many times over the same name
  big <- lapply(1:4, function(i) list(who = i, x = rep(as.numeric(i), 2e5)))
  ok <- parallel::mclapply(1:4, function(i) {
    for (r in 1:15) sigmoe:::cache_write_file(big[[i]], path)
    TRUE
  }, mc.cores = 4)
  expect_true(all(vapply(ok, isTRUE, logical(1))))
  got <- readRDS(path)
  expect_true(got$who %in% 1:4)
  expect_identical(got, big[[got$who]])
  expect_identical(list.files(dir, all.files = TRUE, no.. = TRUE), basename(path))
  # temporary names are unique to the host and process, and never task files
  tmp <- basename(sigmoe:::cache_temp_name(path))
  expect_match(tmp, sprintf("^\\.partial-.+-%d-task-000001\\.rds$", Sys.getpid()))
  expect_false(grepl("^task-[0-9]+\\.rds$", tmp))
})
