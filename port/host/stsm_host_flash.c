#include "stsm_host_flash.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define CHUNK 4096u

/* pwrite or pread of all `len` bytes at `at`. */
static bool transfer_all(int fd, uint8_t *p, size_t len, off_t at, bool write)
{
    while (len > 0) {
        ssize_t n = write ? pwrite(fd, p, len, at) : pread(fd, p, len, at);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return false;
        }
        p += n;
        len -= (size_t)n;
        at += n;
    }
    return true;
}

/* Writes the image's bytes [offset, offset + len) through to the file. */
static bool write_through(struct stsm_host_flash *f, size_t offset, size_t len)
{
    return transfer_all(f->fd, f->image + offset, len, (off_t)offset, true) && fdatasync(f->fd) == 0;
}

static bool flash_erase(void *ctx, size_t offset, size_t len)
{
    struct stsm_host_flash *f = ctx;
    size_t page = f->area.page_size;
    if (f->fd < 0 || offset % page != 0 || len % page != 0 || offset > f->area.size || len > f->area.size - offset) {
        return false;
    }
    memset(f->image + offset, 0xFF, len);
    return write_through(f, offset, len);
}

static bool flash_program(void *ctx, size_t offset, const uint8_t *data, size_t len)
{
    struct stsm_host_flash *f = ctx;
    if (f->fd < 0 || offset > f->area.size || len > f->area.size - offset) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        f->image[offset + i] &= data[i];   /* NOR: programming only clears bits */
    }
    return write_through(f, offset, len);
}

/* Makes `path` a blank image: written under a private name, then linked into place, so
 * that no process ever opens a file of the wrong size. A file someone else made first
 * wins. */
static stsm_status_t create_blank(const char *path, size_t size, char *why, size_t why_len)
{
    char tmp[STSM_HOST_FLASH_PATH_MAX + 32];
    snprintf(tmp, sizeof tmp, "%s.new.%ld", path, (long)getpid());
    int fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        snprintf(why, why_len, "cannot create the store file %s: %s", tmp, strerror(errno));
        return STSM_ERR_IO;
    }
    uint8_t blank[CHUNK];
    memset(blank, 0xFF, sizeof blank);
    bool ok = true;
    for (size_t at = 0; ok && at < size; at += CHUNK) {
        ok = transfer_all(fd, blank, size - at < CHUNK ? size - at : CHUNK, (off_t)at, true);
    }
    ok = ok && fsync(fd) == 0;
    int err = errno;
    close(fd);
    if (ok && link(tmp, path) != 0 && errno != EEXIST) {
        err = errno;
        ok = false;
    }
    unlink(tmp);
    if (!ok) {
        snprintf(why, why_len, "cannot create the store file %s: %s", path, strerror(err));
        return STSM_ERR_IO;
    }
    /* The new name must survive a power cut too. */
    char dir[STSM_HOST_FLASH_PATH_MAX];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash == NULL) {
        snprintf(dir, sizeof dir, ".");
    } else {
        slash[slash == dir ? 1 : 0] = '\0';
    }
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    return STSM_OK;
}

/* Opens `f->path` and checks its size; the old descriptor, if any, is closed on success. */
static stsm_status_t open_file(struct stsm_host_flash *f, char *why, size_t why_len)
{
    int fd = open(f->path, O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        snprintf(why, why_len, "cannot open the store file %s: %s", f->path, strerror(errno));
        return STSM_ERR_IO;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        snprintf(why, why_len, "cannot read the store file %s: %s", f->path, strerror(errno));
        close(fd);
        return STSM_ERR_IO;
    }
    if (!S_ISREG(st.st_mode) || (uintmax_t)st.st_size != (uintmax_t)f->area.size) {
        close(fd);
        return stsm_refuse(why, why_len,
                           "the store file %s is %jd bytes, expected %zu (%zu pages of %zu): left as it is",
                           f->path, (intmax_t)st.st_size, f->area.size, f->area.size / f->area.page_size,
                           f->area.page_size);
    }
    if (f->fd >= 0) {
        close(f->fd);   /* its lock goes with it */
    }
    f->fd = fd;
    f->locked = false;
    return STSM_OK;
}

stsm_status_t stsm_host_flash_open(struct stsm_host_flash *flash, const char *path, uint8_t *image, size_t size,
                                   size_t page_size, char *why, size_t why_len)
{
    memset(flash, 0, sizeof *flash);
    flash->fd = -1;
    if (page_size == 0 || size == 0 || size % page_size != 0) {
        return stsm_refuse(why, why_len, "the store file %s: %zu bytes is not a whole number of %zu-byte pages",
                           path, size, page_size);
    }
    if (strlen(path) >= sizeof flash->path) {
        return stsm_refuse(why, why_len, "the store file's name is longer than %d bytes", STSM_HOST_FLASH_PATH_MAX - 1);
    }
    memcpy(flash->path, path, strlen(path) + 1);
    flash->image = image;
    flash->area = (struct stsm_flash_area){ flash, size, page_size, image, flash_erase, flash_program };
    stsm_status_t st;
    if (access(path, F_OK) != 0 && errno == ENOENT && (st = create_blank(path, size, why, why_len)) != STSM_OK) {
        return st;
    }
    if ((st = open_file(flash, why, why_len)) != STSM_OK) {
        return st;
    }
    if (!transfer_all(flash->fd, image, size, 0, false)) {
        snprintf(why, why_len, "cannot read the store file %s: %s", path, errno ? strerror(errno) : "short read");
        stsm_host_flash_close(flash);
        return STSM_ERR_IO;
    }
    return STSM_OK;
}

stsm_status_t stsm_host_flash_lock(struct stsm_host_flash *flash, bool *changed)
{
    *changed = false;
    if (flash->fd < 0) {
        return STSM_ERR_IO;
    }
    /* The file may have been replaced under its name (removed and made again): follow
     * the name, as the other processes do. */
    struct stat named, ours;
    char why[64];
    if (stat(flash->path, &named) == 0 && fstat(flash->fd, &ours) == 0 &&
        (named.st_ino != ours.st_ino || named.st_dev != ours.st_dev) && open_file(flash, why, sizeof why) != STSM_OK) {
        return STSM_ERR_IO;
    }
    while (flock(flash->fd, LOCK_EX) != 0) {
        if (errno != EINTR) {
            return STSM_ERR_IO;
        }
    }
    flash->locked = true;
    /* Read the whole image rather than trust the modification time: two writes within
     * one tick of the file system's clock leave it unchanged. */
    uint8_t chunk[CHUNK];
    for (size_t at = 0; at < flash->area.size; at += CHUNK) {
        size_t n = flash->area.size - at < CHUNK ? flash->area.size - at : CHUNK;
        if (!transfer_all(flash->fd, chunk, n, (off_t)at, false)) {
            stsm_host_flash_unlock(flash);
            return STSM_ERR_IO;
        }
        if (memcmp(chunk, flash->image + at, n) != 0) {
            memcpy(flash->image + at, chunk, n);
            *changed = true;
        }
    }
    return STSM_OK;
}

void stsm_host_flash_unlock(struct stsm_host_flash *flash)
{
    if (flash->fd >= 0 && flash->locked) {
        flock(flash->fd, LOCK_UN);
    }
    flash->locked = false;
}

void stsm_host_flash_close(struct stsm_host_flash *flash)
{
    if (flash->fd >= 0) {
        stsm_host_flash_unlock(flash);
        close(flash->fd);
    }
    flash->fd = -1;
}
