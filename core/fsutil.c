/* File helpers whose failure modes matter: the run log and the catalog
 * must never be left half-written. */

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runnable/plugin.h"

static int errno_code(int e)
{
    switch (e) {
    case ENOENT: return RN_ENOENT;
    case EEXIST: return RN_EEXIST;
    case ENOMEM: return RN_ENOMEM;
    default: return RN_EIO;
    }
}

int rn_mkdir_p(const char *path, unsigned mode)
{
    if (!path || !*path)
        return rn_error_set(RN_EINVAL, "cannot create a folder with an empty name");
    struct stat st0;
    if (stat(path, &st0) == 0 && S_ISDIR(st0.st_mode))
        return 0; /* the common case: one system call */
    char *p = strdup(path);
    if (!p)
        return rn_error_set(RN_ENOMEM, "out of memory");

    int rc = 0;
    size_t len = strlen(p);
    /* Walk each prefix ending before a '/', then the whole path. */
    for (size_t i = 1; i <= len && !rc; i++) {
        if (i < len && p[i] != '/')
            continue;
        if (i < len && p[i - 1] == '/')
            continue; /* "a//b" */
        char saved = p[i];
        p[i] = '\0';
        if (mkdir(p, (mode_t)mode) != 0) {
            int e = errno;
            struct stat st;
            /* Whatever mkdir said (EEXIST, or EACCES/EROFS on a parent
             * that is already there), a folder in place is success. */
            if (stat(p, &st) != 0)
                rc = rn_error_set(RN_EIO, "cannot create folder %s: %s", p, strerror(e));
            else if (!S_ISDIR(st.st_mode))
                rc = rn_error_set(RN_EIO, "cannot create folder %s: %s exists and is not a folder",
                                  path, p);
        }
        p[i] = saved;
    }
    free(p);
    return rc;
}

static int write_all(int fd, const void *data, size_t len)
{
    const char *p = data;
    while (len) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Split "a/b/c" into its folder ("a/b", or "." for a bare name) and base. */
static char *dir_of(const char *path, const char **base)
{
    const char *slash = strrchr(path, '/');
    if (!slash) {
        *base = path;
        return strdup(".");
    }
    *base = slash + 1;
    if (slash == path)
        return strdup("/");
    return strndup(path, (size_t)(slash - path));
}

/*
 * mkstemp() would create the file 0600 and leave no thread-safe way to
 * learn the umask for a later fchmod(); run logs and catalog files must get
 * the usual 0666 & ~umask, so the unique name is made here with O_EXCL.
 */
static int open_temp(const char *dir, const char *base, char **out_path)
{
    static const char alphabet[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    size_t n = strlen(dir) + strlen(base) + 16;
    char *tmp = malloc(n);
    if (!tmp)
        return -ENOMEM;
    for (int attempt = 0; attempt < 100; attempt++) {
        unsigned char rnd[6];
        if (getrandom(rnd, sizeof rnd, GRND_NONBLOCK) != (ssize_t)sizeof rnd) {
            unsigned long x = (unsigned long)getpid() * 2654435761u + (unsigned long)attempt * 40503u +
                              (unsigned long)(size_t)&rnd;
            for (size_t i = 0; i < sizeof rnd; i++, x >>= 5)
                rnd[i] = (unsigned char)x;
        }
        char suffix[7];
        for (size_t i = 0; i < 6; i++)
            suffix[i] = alphabet[rnd[i] % (sizeof alphabet - 1)];
        suffix[6] = '\0';
        snprintf(tmp, n, "%s/.%s.tmp%s", dir, base, suffix);
        int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd >= 0) {
            *out_path = tmp;
            return fd;
        }
        if (errno != EEXIST) {
            int e = errno;
            free(tmp);
            return -e;
        }
    }
    free(tmp);
    return -EEXIST;
}

static int fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int r = fsync(fd);
    close(fd);
    return r;
}

int rn_write_file_atomic(const char *path, const void *data, size_t len, int fsync_it)
{
    const char *base;
    char *dir = dir_of(path, &base);
    if (!dir)
        return rn_error_set(RN_ENOMEM, "out of memory");
    if (!*base) {
        free(dir);
        return rn_error_set(RN_EINVAL, "cannot write %s: it names a folder", path);
    }

    char *tmp = NULL;
    int fd = open_temp(dir, base, &tmp);
    if (fd < 0) {
        free(dir);
        return rn_error_set(fd == -ENOMEM ? RN_ENOMEM : errno_code(-fd),
                            "cannot create a temporary file for %s: %s", path, strerror(-fd));
    }

    int rc = 0;
    if (write_all(fd, data, len) != 0)
        rc = rn_error_set(RN_EIO, "cannot write %s: %s", tmp, strerror(errno));
    else if (fsync_it && fsync(fd) != 0)
        rc = rn_error_set(RN_EIO, "cannot sync %s: %s", tmp, strerror(errno));
    if (close(fd) != 0 && !rc)
        rc = rn_error_set(RN_EIO, "cannot write %s: %s", tmp, strerror(errno));
    if (!rc && rename(tmp, path) != 0)
        rc = rn_error_set(RN_EIO, "cannot rename %s to %s: %s", tmp, path, strerror(errno));
    if (rc)
        unlink(tmp);
    else if (fsync_it && fsync_dir(dir) != 0)
        rc = rn_error_set(RN_EIO, "cannot sync folder %s: %s", dir, strerror(errno));
    free(tmp);
    free(dir);
    return rc;
}

int rn_read_file(const char *path, char **out, size_t *out_len)
{
    *out = NULL;
    if (out_len)
        *out_len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return rn_error_set(errno_code(errno), "cannot open %s: %s", path, strerror(errno));

    struct stat st;
    size_t cap = 0;
    /* Files under /proc report size 0: start small and grow. */
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0)
        cap = (size_t)st.st_size + 1;
    if (cap < 4096)
        cap = 4096;
    char *buf = malloc(cap);
    size_t len = 0;
    int rc = 0;
    if (!buf)
        rc = rn_error_set(RN_ENOMEM, "out of memory reading %s", path);
    while (!rc) {
        if (len + 1 >= cap) {
            size_t ncap = cap * 2;
            char *nb = realloc(buf, ncap);
            if (!nb) {
                rc = rn_error_set(RN_ENOMEM, "out of memory reading %s", path);
                break;
            }
            buf = nb;
            cap = ncap;
        }
        ssize_t n = read(fd, buf + len, cap - len - 1);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            rc = rn_error_set(RN_EIO, "cannot read %s: %s", path, strerror(errno));
        } else if (n == 0) {
            break;
        } else {
            len += (size_t)n;
        }
    }
    close(fd);
    if (rc) {
        free(buf);
        return rc;
    }
    buf[len] = '\0';
    *out = buf;
    if (out_len)
        *out_len = len;
    return 0;
}

static int copy_data(int in, int out)
{
    /* copy_file_range lets the kernel (or a reflink-capable file system)
     * do the work; older kernels and some file-system pairs refuse it. */
    for (int first = 1;; first = 0) {
        ssize_t n = copy_file_range(in, NULL, out, NULL, (size_t)1 << 30, 0);
        /* Pseudo-files (procfs, sysfs) claim size 0 and copy nothing:
         * let read() decide whether the source is really empty. */
        if (n == 0 && first)
            break;
        if (n == 0)
            return 0;
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EXDEV || errno == ENOSYS || errno == EINVAL || errno == EOPNOTSUPP ||
                errno == EPERM)
                break;
            return -1;
        }
    }
    /* Resumes from the current offsets should copy_file_range have
     * stopped midway. */
    char buf[64 * 1024];
    for (;;) {
        ssize_t n = read(in, buf, sizeof buf);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        if (n == 0)
            return 0;
        if (write_all(out, buf, (size_t)n) != 0)
            return -1;
    }
}

/* Like shutil.copy (which runnable uses): contents and permission bits. */
int rn_copy_file(const char *src, const char *dst)
{
    int in = open(src, O_RDONLY | O_CLOEXEC);
    if (in < 0)
        return rn_error_set(errno_code(errno), "cannot open %s: %s", src, strerror(errno));
    struct stat sst, dst_st;
    if (fstat(in, &sst) != 0 || !S_ISREG(sst.st_mode)) {
        close(in);
        return rn_error_set(RN_EIO, "cannot copy %s: not a regular file", src);
    }
    if (stat(dst, &dst_st) == 0 && dst_st.st_dev == sst.st_dev && dst_st.st_ino == sst.st_ino) {
        close(in);
        return rn_error_set(RN_EINVAL, "cannot copy %s onto itself (%s)", src, dst);
    }

    const char *base;
    char *dir = dir_of(dst, &base);
    if (!dir) {
        close(in);
        return rn_error_set(RN_ENOMEM, "out of memory");
    }
    int rc = rn_mkdir_p(dir, 0777);
    free(dir);
    if (rc) {
        close(in);
        return rc;
    }

    int out = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, sst.st_mode & 0777);
    if (out < 0) {
        rc = rn_error_set(errno_code(errno), "cannot create %s: %s", dst, strerror(errno));
        close(in);
        return rc;
    }
    if (copy_data(in, out) != 0)
        rc = rn_error_set(RN_EIO, "cannot copy %s to %s: %s", src, dst, strerror(errno));
    else if (fchmod(out, sst.st_mode & 07777) != 0)
        rc = rn_error_set(RN_EIO, "cannot set the mode of %s: %s", dst, strerror(errno));
    if (close(out) != 0 && !rc)
        rc = rn_error_set(RN_EIO, "cannot write %s: %s", dst, strerror(errno));
    close(in);
    return rc;
}
