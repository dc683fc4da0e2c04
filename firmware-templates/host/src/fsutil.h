/*
 * fsutil.h - the twin's "flash": files replaced atomically.
 */
#ifndef TWIN_FSUTIL_H
#define TWIN_FSUTIL_H

#include <stddef.h>
#include <sys/types.h>

/*
 * Replace dir/name with data, atomically and durably: write dir/name.tmp
 * (mode), fsync it, rename over dir/name, fsync dir. A crash at any moment
 * leaves the old file or the new one. Returns 0, or -1 with errno set.
 */
int twin_atomic_write(const char *dir, const char *name, const void *data, size_t len, mode_t mode);

/* Read dir/name into buf (at most size bytes). Returns bytes read, -1 (errno; ENOENT = missing), -2 too large. */
ssize_t twin_read_file(const char *dir, const char *name, void *buf, size_t size);

/* Remove dir/name (missing is fine) and fsync dir. Returns 0 or -1. */
int twin_remove(const char *dir, const char *name);

/* Rename dir/from to dir/to and fsync dir. Returns 0 or -1. */
int twin_rename(const char *dir, const char *from, const char *to);

/* fsync a directory. Returns 0 or -1. */
int twin_fsync_dir(const char *dir);

/* Delete leftover *.tmp files of an interrupted write (boot). */
void twin_remove_temp_files(const char *dir);

#endif /* TWIN_FSUTIL_H */
