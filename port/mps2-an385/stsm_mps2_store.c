/*
 * The policy cache's flash area on mps2-an385. The board has no flash QEMU can program, so
 * the area is RAM that behaves as NOR flash (erase to 0xFF in 4 KiB pages, programming
 * only clears bits) and, to survive a power-off as flash would, is mirrored after every
 * erase and program into a host file named on the semihosting command line
 * (toolchain/qemu-mps2.sh --store FILE loads it back at the next boot). A real board puts
 * its flash driver's erase and program calls here instead.
 */
#include <string.h>

#include "stsm_flash_record.h"
#include "stsm_mps2.h"

#define PAGE 4096u

#define SYS_OPEN        0x01u
#define SYS_CLOSE       0x02u
#define SYS_WRITE       0x05u
#define SYS_GET_CMDLINE 0x15u
#define OPEN_MODE_WB    5u

extern uint8_t __provision_store[];
extern const char __provision_store_size[];

static char mirror_path[128];

static uint32_t semihost(uint32_t op, void *block)
{
    register uint32_t r0 __asm__("r0") = op;
    register void *r1 __asm__("r1") = block;
    __asm__ volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
    return r0;
}

/* Writes the whole area to the host file: what a powered-off flash chip would keep. */
static bool mirror(void)
{
    if (mirror_path[0] == '\0') {
        return true;   /* no file: the area lasts until QEMU exits */
    }
    uint32_t open_args[3] = { (uint32_t)(uintptr_t)mirror_path, OPEN_MODE_WB, (uint32_t)strlen(mirror_path) };
    uint32_t fd = semihost(SYS_OPEN, open_args);
    if (fd == 0xFFFFFFFFu) {
        return false;
    }
    uint32_t write_args[3] = { fd, (uint32_t)(uintptr_t)__provision_store,
                               (uint32_t)(uintptr_t)__provision_store_size };
    uint32_t not_written = semihost(SYS_WRITE, write_args);
    uint32_t close_args[1] = { fd };
    semihost(SYS_CLOSE, close_args);
    return not_written == 0;
}

static bool store_erase(void *ctx, size_t offset, size_t len)
{
    (void)ctx;
    if (offset % PAGE != 0 || len % PAGE != 0 || offset + len > (size_t)(uintptr_t)__provision_store_size) {
        return false;
    }
    memset(__provision_store + offset, 0xFF, len);
    return mirror();
}

static bool store_program(void *ctx, size_t offset, const uint8_t *data, size_t len)
{
    (void)ctx;
    if (offset + len > (size_t)(uintptr_t)__provision_store_size) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        __provision_store[offset + i] &= data[i];   /* NOR: programming clears bits only */
    }
    return mirror();
}

void stsm_mps2_store_area(struct stsm_flash_area *area)
{
    /* The command line is "IMAGE [STORE-FILE]" (qemu-mps2.sh passes it). */
    char cmdline[160] = "";
    uint32_t args[2] = { (uint32_t)(uintptr_t)cmdline, sizeof cmdline - 1 };
    if (semihost(SYS_GET_CMDLINE, args) == 0) {
        const char *space = strchr(cmdline, ' ');
        if (space != NULL && strlen(space + 1) < sizeof mirror_path) {
            strcpy(mirror_path, space + 1);
        }
    }
    *area = (struct stsm_flash_area){
        .ctx = NULL,
        .size = (size_t)(uintptr_t)__provision_store_size,
        .page_size = PAGE,
        .base = __provision_store,
        .erase = store_erase,
        .program = store_program,
    };
}
