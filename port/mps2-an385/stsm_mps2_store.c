/*
 * The device's own flash on mps2-an385, in three parts: two two-slot records, the device
 * record (entropy seed, clock floor) and the policy cache, and the outbox's ring of pages. The board has no flash
 * QEMU can program, so the store is RAM that behaves as NOR flash (erase to 0xFF in 4 KiB
 * pages, programming only clears bits) and, to survive a power-off as flash would, is
 * mirrored after every erase and program into a host file named on the semihosting
 * command line (toolchain/qemu-mps2.sh --store FILE loads it back at the next boot). A
 * real board puts its flash driver's erase and program calls here instead.
 */
#include <string.h>

#include "stsm_flash_record.h"
#include "stsm_mcu.h"

#define PAGE 4096u

#define SYS_OPEN        0x01u
#define SYS_CLOSE       0x02u
#define SYS_WRITE       0x05u
#define SYS_GET_CMDLINE 0x15u
#define OPEN_MODE_WB    5u

extern uint8_t __provision_store[];
extern const char __provision_store_size[];
extern const char __provision_device_offset[];
extern const char __provision_device_size[];
extern const char __provision_cache_offset[];
extern const char __provision_cache_size[];
extern const char __provision_outbox_offset[];
extern const char __provision_outbox_size[];

/* One record's share of the store (mps2_an385.ld). */
struct part {
    size_t offset;
    size_t size;
};

static struct part device_part, cache_part, outbox_part;
static char mirror_path[128];
static bool mirror_known;

/* The command line is "IMAGE [STORE-FILE]" (qemu-mps2.sh passes it). */
static void find_mirror(void)
{
    if (mirror_known) {
        return;
    }
    mirror_known = true;
    char cmdline[160] = "";
    uint32_t args[2] = { (uint32_t)(uintptr_t)cmdline, sizeof cmdline - 1 };
    if (stsm_mcu_semihost(SYS_GET_CMDLINE, args) == 0) {
        const char *space = strchr(cmdline, ' ');
        if (space != NULL && strlen(space + 1) < sizeof mirror_path) {
            strcpy(mirror_path, space + 1);
        }
    }
}

/* Writes the whole store to the host file: what a powered-off flash chip would keep.
 * Not inlined: erase and program both end with it. */
__attribute__((noinline)) static bool mirror(void)
{
    if (mirror_path[0] == '\0') {
        return true;   /* no file: the store lasts until QEMU exits */
    }
    uint32_t open_args[3] = { (uint32_t)(uintptr_t)mirror_path, OPEN_MODE_WB, (uint32_t)strlen(mirror_path) };
    uint32_t fd = stsm_mcu_semihost(SYS_OPEN, open_args);
    if (fd == 0xFFFFFFFFu) {
        return false;
    }
    uint32_t write_args[3] = { fd, (uint32_t)(uintptr_t)__provision_store,
                               (uint32_t)(uintptr_t)__provision_store_size };
    uint32_t not_written = stsm_mcu_semihost(SYS_WRITE, write_args);
    uint32_t close_args[1] = { fd };
    stsm_mcu_semihost(SYS_CLOSE, close_args);
    return not_written == 0;
}

static bool store_erase(void *ctx, size_t offset, size_t len)
{
    const struct part *part = ctx;
    if (offset % PAGE != 0 || len % PAGE != 0 || offset + len < offset || offset + len > part->size) {
        return false;
    }
    memset(__provision_store + part->offset + offset, 0xFF, len);
    return mirror();
}

static bool store_program(void *ctx, size_t offset, const uint8_t *data, size_t len)
{
    const struct part *part = ctx;
    if (offset + len < offset || offset + len > part->size) {
        return false;
    }
    uint8_t *at = __provision_store + part->offset + offset;
    for (size_t i = 0; i < len; i++) {
        at[i] &= data[i];   /* NOR: programming clears bits only */
    }
    return mirror();
}

/* Not inlined: three callers. */
__attribute__((noinline)) static void make_area(struct stsm_flash_area *area, struct part *part,
                                                const char *offset, const char *size)
{
    find_mirror();
    part->offset = (size_t)(uintptr_t)offset;
    part->size = (size_t)(uintptr_t)size;
    *area = (struct stsm_flash_area){
        .ctx = part,
        .size = part->size,
        .page_size = PAGE,
        .base = __provision_store + part->offset,
        .erase = store_erase,
        .program = store_program,
    };
}

void stsm_mcu_store_area(struct stsm_flash_area *area)
{
    make_area(area, &cache_part, __provision_cache_offset, __provision_cache_size);
}

void stsm_mcu_device_area(struct stsm_flash_area *area)
{
    make_area(area, &device_part, __provision_device_offset, __provision_device_size);
}

void stsm_mcu_outbox_area(struct stsm_flash_area *area)
{
    make_area(area, &outbox_part, __provision_outbox_offset, __provision_outbox_size);
}
