# The cache of a convergence study: a manifest of its settings and one file
# per finished task, so that an interrupted study resumes where it stopped.

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
