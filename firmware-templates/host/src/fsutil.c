/*
 * fsutil.c - write-temp, fsync, rename, fsync-dir: how the twin makes a
 * power cut (SIGKILL) leave either the old or the new file.
 */
#define _POSIX_C_SOURCE 200809L
#include "fsutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int join(char *out, size_t size, const char *dir, const char *name, const char *suffix)
{
    int n = snprintf(out, size, "%s/%s%s", dir, name, suffix);
    if (n < 0 || (size_t)n >= size) {
        errno = ENAMETOOLONG;
        return -1;
    }
    return 0;
}

int twin_fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    int rc = -1;
    if (fd >= 0) {
        rc = fsync(fd);
        close(fd);
    }
    return rc;
}

int twin_atomic_write(const char *dir, const char *name, const void *data, size_t len, mode_t mode)
{
    char tmp[4096];
    char dst[4096];
    const unsigned char *p = data;
    size_t done = 0;
    int fd = -1;

    if (join(tmp, sizeof(tmp), dir, name, ".tmp") != 0 || join(dst, sizeof(dst), dir, name, "") != 0) {
        return -1;
    }
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0) {
        return -1;
    }
    (void)fchmod(fd, mode); /* umask must not widen a key file's mode */
    while (done < len) {
        ssize_t n = write(fd, p + done, len - done);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            close(fd);
            unlink(tmp);
            return -1;
        }
        done += (size_t)n;
    }
    if (fsync(fd) != 0) {
        close(fd);
        unlink(tmp);
        return -1;
    }
    close(fd);
    if (rename(tmp, dst) != 0) {
        unlink(tmp);
        return -1;
    }
    return twin_fsync_dir(dir);
}

ssize_t twin_read_file(const char *dir, const char *name, void *buf, size_t size)
{
    char path[4096];
    size_t done = 0;
    int fd = -1;

    if (join(path, sizeof(path), dir, name, "") != 0) {
        return -1;
    }
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return -1;
    }
    for (;;) {
        ssize_t n = 0;
        if (done == size) {
            char extra = 0;
            n = read(fd, &extra, 1);
            close(fd);
            return (n == 0) ? (ssize_t)done : -2;
        }
        n = read(fd, (char *)buf + done, size - done);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            close(fd);
            return -1;
        }
        if (n == 0) {
            break;
        }
        done += (size_t)n;
    }
    close(fd);
    return (ssize_t)done;
}

int twin_remove(const char *dir, const char *name)
{
    char path[4096];
    if (join(path, sizeof(path), dir, name, "") != 0) {
        return -1;
    }
    if (unlink(path) != 0 && errno != ENOENT) {
        return -1;
    }
    return twin_fsync_dir(dir);
}

int twin_rename(const char *dir, const char *from, const char *to)
{
    char a[4096];
    char b[4096];
    if (join(a, sizeof(a), dir, from, "") != 0 || join(b, sizeof(b), dir, to, "") != 0) {
        return -1;
    }
    if (rename(a, b) != 0) {
        return -1;
    }
    return twin_fsync_dir(dir);
}

void twin_remove_temp_files(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e = NULL;
    if (d == NULL) {
        return;
    }
    while ((e = readdir(d)) != NULL) {
        size_t n = strlen(e->d_name);
        if (n > 4 && strcmp(e->d_name + n - 4, ".tmp") == 0) {
            char path[4096];
            if (join(path, sizeof(path), dir, e->d_name, "") == 0) {
                (void)unlink(path);
            }
        }
    }
    closedir(d);
    (void)twin_fsync_dir(dir);
}
