# The cache of a convergence study: a manifest naming the study's design and
# one file per finished task, written by the worker that computed it, so
# that a study interrupted anywhere (Ctrl-C, a crash, a job killed by its
# scheduler) resumes where it stopped.
#
# Every file carries a key: the cache format, a digest of the design (the
# settings that decide every number of the study, functions compared by their
# code) and, in a task file, the task's id and seed. A file is trusted only
# when its key is this study's: a key of another design is an error naming
# `cache_dir` (never a mix of results), and a file that cannot be read, has
# no key, the key of another task or the wrong columns is computed again with
# a warning. Files appear atomically: a worker writes a temporary file named
# after its host and process (`.partial-<host>-<pid>-task-NNNNNN.rds`, never
# read as a task file) and renames it, so concurrent writers on a shared file
# system never see half a file. Temporary files older than a run are left by
# killed writers and removed when the next run opens the cache.
#
# A run also leaves a token, `.run-<host>-<pid>-<time>`, in the cache for as
# long as it lasts; workers stop before their next task once it is gone, so a
# run that was interrupted does not keep workers busy (see
# study_run_cancelled()).

cache_format <- "sigmoe-study-cache/2"

check_cache_dir <- function(cache_dir) {
  if (!is.character(cache_dir) || length(cache_dir) != 1L || is.na(cache_dir) || !nzchar(cache_dir))
    abort_arg("cache_dir", "NULL or a directory path", cache_dir)
  if (file.exists(cache_dir) && !dir.exists(cache_dir))
    stop(sprintf("`cache_dir` must be a directory, but \"%s\" is a file.", cache_dir), call. = FALSE)
  if (!dir.exists(cache_dir) && !dir.create(cache_dir, recursive = TRUE, showWarnings = FALSE))
    stop(sprintf("`cache_dir` \"%s\" could not be created.", cache_dir), call. = FALSE)
  normalizePath(cache_dir, mustWork = TRUE)
}

# ---- the key ----------------------------------------------------------------

# The settings as the key sees them: functions (x_law, custom losses) by
# their code, without source references or enclosing environments, so that the
# same call in another session has the same key.
cache_normalize <- function(x) {
  if (is.function(x)) {
    code <- deparse(x, width.cutoff = 500L,
                    control = c("keepNA", "keepInteger", "niceNames", "showAttributes"))
    return(structure(code, class = "sigmoe_function_code"))
  }
  if (is.environment(x)) return("<environment>")
  if (is.list(x)) x[] <- lapply(x, cache_normalize)
  x
}

# An MD5 digest of an R object (serialization format 2, which has no
# locale in its header, so every node computes the same key).
cache_digest <- function(obj) {
  f <- tempfile("sigmoe-key-")
  on.exit(unlink(f), add = TRUE)
  con <- file(f, "wb")
  serialize(obj, con, version = 2L)
  close(con)
  unname(tools::md5sum(f))
}

# The key of a study's design: the digest of its normalized settings.
study_design_key <- function(settings) {
  cache_digest(list(format = cache_format, settings = cache_normalize(settings)))
}

# ---- opening ----------------------------------------------------------------

# Check that the cache holds this study (or nothing), remove what killed
# writers left, and read the finished tasks, named by task id. `key` is the
# design key, `started` the time the run began.
cache_open <- function(cache_dir, setup, key, started = Sys.time()) {
  cache_sweep(cache_dir, started)
  manifest <- file.path(cache_dir, "study.rds")
  mine <- list(format = cache_format, key = key, settings = cache_normalize(setup$settings),
               version = as.character(utils::packageVersion("sigmoe")))
  theirs <- if (file.exists(manifest)) cache_read_manifest(manifest, cache_dir)
  if (!is.null(theirs)) cache_check_manifest(theirs, mine, cache_dir)

  files <- list.files(cache_dir, pattern = "^task-[0-9]+\\.rds$", full.names = TRUE)
  planned <- setup$tasks
  ids <- vapply(planned, `[[`, integer(1), "id")
  columns <- study_columns(setup)
  done <- list()
  damaged <- character(0)
  foreign <- character(0)
  for (f in files) {
    id <- as.integer(sub("^task-([0-9]+)\\.rds$", "\\1", basename(f)))
    obj <- tryCatch(readRDS(f), error = function(e) e)
    verdict <- cache_check_task(obj, id, planned[[match(id, ids)]], key, columns, length(setup$gating))
    if (identical(verdict, "ok")) {
      done[[as.character(id)]] <- obj
    } else if (identical(verdict, "foreign")) {
      foreign <- c(foreign, basename(f))
    } else {
      damaged <- c(damaged, sprintf("%s (%s)", basename(f), verdict))
    }
  }
  if (length(foreign))
    stop(sprintf(paste0("`cache_dir` \"%s\" holds the results of a different study: %d task file%s ",
                        "(%s) carr%s the key of another design%s. Use another directory, or ",
                        "delete it to start again."),
                 cache_dir, length(foreign), if (length(foreign) > 1L) "s" else "",
                 cache_list(foreign), if (length(foreign) > 1L) "y" else "ies",
                 if (is.null(theirs)) " (and there is no study.rds to say which)" else ""),
         call. = FALSE)
  if (length(damaged))
    warning(sprintf(paste0("%d task file%s in `cache_dir` \"%s\" %s unreadable or damaged and ",
                           "%s computed again: %s."),
                    length(damaged), if (length(damaged) > 1L) "s" else "", cache_dir,
                    if (length(damaged) > 1L) "are" else "is",
                    if (length(damaged) > 1L) "their tasks are" else "its task is",
                    cache_list(damaged)), call. = FALSE)
  if (is.null(theirs)) cache_create_manifest(mine, manifest, cache_dir)
  done
}

# The first few names of a list of files, for a message.
cache_list <- function(x, max = 3L) {
  if (length(x) <= max) paste(x, collapse = ", ")
  else sprintf("%s and %d more", paste(x[seq_len(max)], collapse = ", "), length(x) - max)
}

# Read study.rds; NULL (with a warning) when it cannot be read, so that it is
# written again: the task files' own keys still guard against a mix.
cache_read_manifest <- function(manifest, cache_dir) {
  theirs <- tryCatch(readRDS(manifest), error = function(e) e)
  if (inherits(theirs, "error") || !is.list(theirs)) {
    warning(sprintf("`cache_dir` \"%s\": study.rds is unreadable and is written again.", cache_dir),
            call. = FALSE)
    # removed, so that it is written again (and not read and reported twice)
    unlink(manifest)
    return(NULL)
  }
  theirs
}

cache_check_manifest <- function(theirs, mine, cache_dir) {
  if (!identical(theirs$format, cache_format) || !is.character(theirs$key))
    stop(sprintf(paste0("`cache_dir` \"%s\" was written by an older version of sigmoe, whose ",
                        "task files carry no key and cannot be checked; use another directory, ",
                        "or delete it to start again."), cache_dir), call. = FALSE)
  if (!identical(theirs$key, mine$key)) {
    a <- mine$settings
    b <- theirs$settings
    fields <- union(names(a), names(b))
    differ <- fields[!vapply(fields, function(f) identical(a[[f]], b[[f]]), logical(1))]
    stop(sprintf(paste0("`cache_dir` \"%s\" holds the results of a different study (it differs in %s); ",
                        "use another directory, or delete it to start again."), cache_dir,
                 if (length(differ)) paste0("`", differ, "`", collapse = ", ") else "its key"),
         call. = FALSE)
  }
  if (!identical(theirs$version, mine$version))
    warning(sprintf("`cache_dir` was written by sigmoe %s; this is sigmoe %s.", theirs$version,
                    mine$version), call. = FALSE)
  invisible(TRUE)
}

# Write study.rds unless another run has just written it: a hard link fails
# when the name exists, so of two runs opening an empty cache at once one
# writes and the other reads and compares.
cache_create_manifest <- function(mine, manifest, cache_dir) {
  tmp <- cache_temp_name(manifest)
  saveRDS(mine, tmp)
  on.exit(unlink(tmp), add = TRUE)
  linked <- suppressWarnings(file.link(tmp, manifest))
  if (!linked) {
    if (file.exists(manifest)) {
      theirs <- cache_read_manifest(manifest, cache_dir)
      if (!is.null(theirs)) return(cache_check_manifest(theirs, mine, cache_dir))
    }
    # no hard links on this file system: rename (atomic, but last writer wins)
    if (!file.rename(tmp, manifest))
      stop(sprintf("Could not write %s in `cache_dir`.", manifest), call. = FALSE)
  }
  invisible(TRUE)
}

# "ok", "foreign" (a valid key of another design), or why the file is damaged.
cache_check_task <- function(obj, id, task, key, columns, ngates) {
  if (inherits(obj, "error")) return(sprintf("unreadable: %s", conditionMessage(obj)))
  k <- if (is.list(obj)) obj$key
  if (!is.list(k) || !is.character(k$format) || length(k$format) != 1L) return("no key")
  if (!identical(k$format, cache_format) || !identical(k$design, key)) return("foreign")
  if (is.null(task)) return(sprintf("task %d is not in this study", id))
  if (!identical(k$task, task$id) || !identical(k$seed, task$seed) || !identical(obj$id, task$id) ||
      !identical(obj$seed, task$seed))
    return(sprintf("the key of another task"))
  rows <- obj$rows
  if (!is.list(rows) || !identical(names(rows), columns) ||
      !all(lengths(rows) == ngates))
    return("wrong columns")
  "ok"
}

# Remove the temporary files of writers killed before this run began; newer
# ones may belong to writers still running (a late worker of an interrupted
# run) and are left for the next run. Tokens of runs on this host whose
# process is gone go too.
cache_sweep <- function(cache_dir, started) {
  partial <- list.files(cache_dir, pattern = "^\\.partial-", all.files = TRUE, full.names = TRUE,
                        no.. = TRUE)
  if (length(partial)) {
    old <- partial[!is.na(file.mtime(partial)) & file.mtime(partial) < started]
    unlink(old)
  }
  if (.Platform$OS.type == "unix") {
    tokens <- list.files(cache_dir, pattern = "^\\.run-", all.files = TRUE, no.. = TRUE)
    host <- cache_host()
    for (t in tokens) {
      parts <- regmatches(t, regexec("^\\.run-(.*)-([0-9]+)-[0-9]+$", t))[[1L]]
      if (length(parts) == 3L && parts[2L] == host && !tools::pskill(as.integer(parts[3L]), 0L))
        unlink(file.path(cache_dir, t))
    }
  }
  invisible(NULL)
}

# ---- writing ------------------------------------------------------------------

cache_host <- function() gsub("[^A-Za-z0-9_.]", "_", Sys.info()[["nodename"]])

# A temporary name next to `path`, unique to this host and process (and to
# the file: one process writes one file at a time), never matched as a task
# file.
cache_temp_name <- function(path) {
  file.path(dirname(path), sprintf(".partial-%s-%d-%s", cache_host(), Sys.getpid(), basename(path)))
}

# Write a finished task; runs on the workers.
cache_write <- function(cache, task, out) {
  out$key <- list(format = cache_format, design = cache$key, task = task$id, seed = task$seed)
  cache_write_file(out, file.path(cache$dir, sprintf("task-%06d.rds", task$id)))
}

# Write then rename, so that a file is either complete or absent.
cache_write_file <- function(obj, path) {
  tmp <- cache_temp_name(path)
  ok <- FALSE
  on.exit(if (!ok) unlink(tmp), add = TRUE)
  saveRDS(obj, tmp)
  if (!file.rename(tmp, path))
    stop(sprintf("Could not write the cache file %s.", path), call. = FALSE)
  ok <- TRUE
  invisible(path)
}

# ---- the run token --------------------------------------------------------------

# A file that exists while a run lasts, in `cache_dir` (which every worker
# sees) or else in this session's temporary directory (seen by workers on
# this machine only; elsewhere the directory does not exist and the token is
# ignored).
study_run_start <- function(cache_dir) {
  dir <- if (is.null(cache_dir)) tempdir() else cache_dir
  # named by host, process and time (not by a random number: the session's
  # generator is left alone)
  stamp <- gsub("[^0-9]", "", format(Sys.time(), "%Y%m%d%H%M%OS6"))
  token <- file.path(dir, sprintf(".run-%s-%d-%s", cache_host(), Sys.getpid(), stamp))
  if (!file.create(token, showWarnings = FALSE)) token <- NULL
  list(token = token, pid = Sys.getpid())
}

study_run_end <- function(run) {
  if (!is.null(run$token)) unlink(run$token)
  invisible(NULL)
}

# TRUE when the run that launched this worker has ended (or was interrupted):
# its token is gone from a directory this worker sees.
study_run_cancelled <- function(run) {
  tok <- run$token
  !is.null(tok) && dir.exists(dirname(tok)) && !file.exists(tok)
}
