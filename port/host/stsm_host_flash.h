/*
 * The host's flash: a file that behaves like NOR flash, for the store (stsm_store.h).
 *
 * The file is the flash image, exactly `size` bytes. Its contents are held in a RAM
 * buffer the caller gives (the area's `base`); every erase and program changes the
 * buffer, then is written to the file (pwrite) and flushed (fdatasync) before the call
 * returns, so a process killed (SIGKILL) or a machine losing power after a call returned
 * loses nothing, and one cut inside a call leaves at most that call half done, as flash.
 *
 * Several processes may share one file (`stsmail enqueue` while `stsmail run` works the
 * outbox): each takes the file's lock around a batch of store calls. Taking the lock
 * reads the file again; when another process changed it, the caller must mount its store
 * again before using it.
 */
#ifndef STSM_HOST_FLASH_H
#define STSM_HOST_FLASH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "stsm_flash_record.h"
#include "stsm_status.h"

#define STSM_HOST_FLASH_PATH_MAX 512

struct stsm_host_flash {
    struct stsm_flash_area area;     /**< give &flash->area to stsm_store_mount() */
    /* Private. */
    int fd;                          /**< -1: not open */
    bool locked;
    uint8_t *image;
    char path[STSM_HOST_FLASH_PATH_MAX];
};

/**
 * Opens the flash file at `path`, `size` bytes of `page_size` pages, into `image`
 * (`size` bytes, owned by the caller, which must outlive the flash). A missing file is
 * created blank (every byte 0xFF), atomically: a reader never sees it half made. An
 * existing file of another size is refused, never truncated or grown. On failure `why`
 * receives a sentence naming the file (and the sizes): STSM_ERR_ARGUMENT for a bad
 * geometry or a file of the wrong size, STSM_ERR_IO when the OS refuses.
 */
stsm_status_t stsm_host_flash_open(struct stsm_host_flash *flash, const char *path, uint8_t *image, size_t size,
                                   size_t page_size, char *why, size_t why_len);

/**
 * Takes the file's exclusive lock (waiting for another process to release it) and reads
 * the file again. `*changed` says whether it differs from the image in RAM, i.e. another
 * process wrote it since: mount the store again before the next store call. Releases
 * nothing on failure (STSM_ERR_IO: the lock is not held).
 */
stsm_status_t stsm_host_flash_lock(struct stsm_host_flash *flash, bool *changed);

/** Releases the lock (no-op when not held). */
void stsm_host_flash_unlock(struct stsm_host_flash *flash);

/** Releases the lock and closes the file (no-op when not open). */
void stsm_host_flash_close(struct stsm_host_flash *flash);

#endif /* STSM_HOST_FLASH_H */
