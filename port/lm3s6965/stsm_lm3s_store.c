/*
 * The device's own flash on lm3s6965evb: the device record (entropy seed, clock floor),
 * the MTA-STS policy cache and the outbox's ring of pages, at the top of the LM3S6965's
 * 256 KiB of flash (lm3s6965.ld). The part has no spare SRAM to hold a copy, so the store
 * stays in flash, memory-mapped for reading as stsm_flash_area requires.
 *
 * QEMU does not emulate the Stellaris flash controller: its flash is ROM that ignores the
 * CPU's writes. So this file plays the controller through semihosting. An erase or program
 * is written to the host file that mirrors the store (named on the semihosting command
 * line, toolchain/qemu-lm3s.sh --store FILE, which also loads it back at the next boot),
 * then read back from that file into the flash's own addresses: QEMU writes the ROM for
 * a semihosting read, as a debugger would. Nothing of the store is held in RAM beyond a
 * 64-byte chunk on the stack. The rules are NOR's: erase sets 1 KiB-aligned pages to
 * 0xFF, programming only clears bits.
 *
 * A real board puts the flash controller here (FMA, FMD, FMC: erase a 1 KiB page with
 * FMC.ERASE, program one 32-bit word at a time with FMC.WRITE, waiting for the bit to
 * clear, with USECRL set for the system clock), and must keep the store's pages out of
 * the image and outside any flash protection (FMPPEn) that would refuse the writes.
 */
#include <string.h>

#include "stsm_flash_record.h"
#include "stsm_mcu.h"

#define ERASE_PAGE 1024u   /* the LM3S6965's flash erases 1 KiB at a time */
#define CHUNK      64u

#define SYS_OPEN        0x01u
#define SYS_WRITE       0x05u
#define SYS_READ        0x06u
#define SYS_SEEK        0x0Au
#define SYS_GET_CMDLINE 0x15u
#define OPEN_MODE_RPB   3u   /* "r+b" */
#define OPEN_MODE_WPB   7u   /* "w+b" */
#define NO_FILE         0xFFFFFFFFu

extern const uint8_t __provision_store[];
extern const char __provision_store_size[];
extern const char __provision_device_offset[];
extern const char __provision_device_size[];
extern const char __provision_device_page[];
extern const char __provision_cache_offset[];
extern const char __provision_cache_size[];
extern const char __provision_cache_page[];
extern const char __provision_outbox_offset[];
extern const char __provision_outbox_size[];
extern const char __provision_outbox_page[];

/* One area's share of the store (lm3s6965.ld). */
struct part {
    size_t offset;
    size_t size;
};

static struct part device_part, cache_part, outbox_part;
static uint32_t mirror_fd = NO_FILE;
static bool mirror_tried;

static size_t store_size(void)
{
    return (size_t)(uintptr_t)__provision_store_size;
}

static bool file_write(size_t at, const void *data, size_t len)
{
    uint32_t seek[2] = { mirror_fd, (uint32_t)at };
    uint32_t write[3] = { mirror_fd, (uint32_t)(uintptr_t)data, (uint32_t)len };
    return stsm_mcu_semihost(SYS_SEEK, seek) == 0 && stsm_mcu_semihost(SYS_WRITE, write) == 0;
}

/* What the controller would have done: the flash at `at` now holds the file's bytes. */
static bool file_read_back(size_t at, size_t len)
{
    uint32_t seek[2] = { mirror_fd, (uint32_t)at };
    uint32_t read[3] = { mirror_fd, (uint32_t)(uintptr_t)(__provision_store + at), (uint32_t)len };
    return stsm_mcu_semihost(SYS_SEEK, seek) == 0 && stsm_mcu_semihost(SYS_READ, read) == 0;
}

/* Opens the mirror named by the command line "IMAGE STORE-FILE" (qemu-lm3s.sh passes
 * it). A new file starts as a copy of what the flash holds, so that every offset reads. */
static bool open_mirror(void)
{
    if (mirror_tried) {
        return mirror_fd != NO_FILE;
    }
    mirror_tried = true;
    char cmdline[160] = "";
    uint32_t args[2] = { (uint32_t)(uintptr_t)cmdline, sizeof cmdline - 1 };
    if (stsm_mcu_semihost(SYS_GET_CMDLINE, args) != 0) {
        return false;
    }
    const char *path = strchr(cmdline, ' ');
    if (path == NULL || path[1] == '\0') {
        return false;
    }
    path++;
    uint32_t open_rw[3] = { (uint32_t)(uintptr_t)path, OPEN_MODE_RPB, (uint32_t)strlen(path) };
    mirror_fd = stsm_mcu_semihost(SYS_OPEN, open_rw);
    if (mirror_fd != NO_FILE) {
        return true;
    }
    uint32_t create[3] = { (uint32_t)(uintptr_t)path, OPEN_MODE_WPB, (uint32_t)strlen(path) };
    mirror_fd = stsm_mcu_semihost(SYS_OPEN, create);
    if (mirror_fd != NO_FILE && !file_write(0, __provision_store, store_size())) {
        mirror_fd = NO_FILE;
    }
    return mirror_fd != NO_FILE;
}

static bool in_part(const struct part *part, size_t offset, size_t len)
{
    return offset + len >= offset && offset + len <= part->size;
}

static bool store_erase(void *ctx, size_t offset, size_t len)
{
    const struct part *part = ctx;
    if (offset % ERASE_PAGE != 0 || len % ERASE_PAGE != 0 || !in_part(part, offset, len) || !open_mirror()) {
        return false;
    }
    uint8_t ones[CHUNK];
    memset(ones, 0xFF, sizeof ones);
    size_t at = part->offset + offset;
    for (size_t done = 0; done < len; done += CHUNK) {
        if (!file_write(at + done, ones, CHUNK)) {
            return false;
        }
    }
    return file_read_back(at, len);
}

static bool store_program(void *ctx, size_t offset, const uint8_t *data, size_t len)
{
    const struct part *part = ctx;
    if (!in_part(part, offset, len) || !open_mirror()) {
        return false;
    }
    size_t at = part->offset + offset;
    uint8_t chunk[CHUNK];
    for (size_t done = 0; done < len;) {
        size_t n = len - done < CHUNK ? len - done : CHUNK;
        for (size_t i = 0; i < n; i++) {
            chunk[i] = __provision_store[at + done + i] & data[done + i];   /* NOR: clears bits only */
        }
        if (!file_write(at + done, chunk, n)) {
            return false;
        }
        done += n;
    }
    return file_read_back(at, len);
}

/* Not inlined: three callers. */
__attribute__((noinline)) static void make_area(struct stsm_flash_area *area, struct part *part,
                                                const char *offset, const char *size, const char *page)
{
    part->offset = (size_t)(uintptr_t)offset;
    part->size = (size_t)(uintptr_t)size;
    *area = (struct stsm_flash_area){
        .ctx = part,
        .size = part->size,
        .page_size = (size_t)(uintptr_t)page,
        .base = __provision_store + part->offset,
        .erase = store_erase,
        .program = store_program,
    };
}

void stsm_mcu_store_area(struct stsm_flash_area *area)
{
    make_area(area, &cache_part, __provision_cache_offset, __provision_cache_size, __provision_cache_page);
}

void stsm_mcu_device_area(struct stsm_flash_area *area)
{
    make_area(area, &device_part, __provision_device_offset, __provision_device_size, __provision_device_page);
}

void stsm_mcu_outbox_area(struct stsm_flash_area *area)
{
    make_area(area, &outbox_part, __provision_outbox_offset, __provision_outbox_size, __provision_outbox_page);
}
