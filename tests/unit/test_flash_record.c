/* The two-slot flash record: NOR semantics enforced by a simulated device, and a power
 * cut injected at every single step of a write. */
#include <stdbool.h>
#include <stdint.h>

#include "stsm_check.h"
#include "stsm_flash_record.h"

#define PAGE 256u
#define AREA (4 * PAGE)   /* two slots of two pages */

/* A NOR flash: erase sets a page to 0xFF; programming may only clear bits (programming a
 * byte that is not erased and would need a bit set is a device error, as on real parts).
 * `budget` counts byte operations until the power fails: then the operation in progress
 * stops where it is and everything after it fails. */
struct nor {
    uint8_t mem[AREA];
    long budget;                 /* < 0: no power cut */
    unsigned program_violations;
};

static bool step(struct nor *f)
{
    if (f->budget == 0) {
        return false;
    }
    if (f->budget > 0) {
        f->budget--;
    }
    return true;
}

static bool nor_erase(void *ctx, size_t offset, size_t len)
{
    struct nor *f = ctx;
    if (offset % PAGE != 0 || len % PAGE != 0 || offset + len > AREA) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {   /* a cut mid-erase leaves the page half erased */
        if (!step(f)) {
            return false;
        }
        f->mem[offset + i] = 0xFF;
    }
    return true;
}

static bool nor_program(void *ctx, size_t offset, const uint8_t *data, size_t len)
{
    struct nor *f = ctx;
    if (offset + len > AREA) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        if ((f->mem[offset + i] & data[i]) != data[i]) {
            f->program_violations++;
            return false;
        }
        if (!step(f)) {
            return false;
        }
        f->mem[offset + i] &= data[i];
    }
    return true;
}

static struct nor dev;
static const struct stsm_flash_area area = { &dev, AREA, PAGE, dev.mem, nor_erase, nor_program };

static void fill(uint8_t *buf, size_t len, uint8_t seed)
{
    for (size_t i = 0; i < len; i++) {
        buf[i] = (uint8_t)(seed + i * 7);
    }
}

static bool holds(const uint8_t *want, size_t want_len)
{
    const uint8_t *data;
    size_t len;
    return stsm_flash_record_read(&area, &data, &len) == STSM_OK && len == want_len &&
           memcmp(data, want, len) == 0;
}

int main(void)
{
    uint8_t a[300], b[400], big[AREA];
    fill(a, sizeof a, 1);
    fill(b, sizeof b, 99);

    CHECK_CASE("a new (erased) device holds no record");
    memset(dev.mem, 0xFF, sizeof dev.mem);
    dev.budget = -1;
    const uint8_t *data;
    size_t len;
    CHECK_INT(stsm_flash_record_read(&area, &data, &len), STSM_ERR_CORRUPT);
    CHECK_INT(stsm_flash_record_capacity(&area), 2 * PAGE - STSM_FLASH_RECORD_HEADER);

    CHECK_CASE("write then read, alternating slots, never programming unerased flash");
    for (int i = 0; i < 5; i++) {
        CHECK_INT(stsm_flash_record_write(&area, i % 2 ? b : a, i % 2 ? sizeof b : sizeof a), STSM_OK);
        CHECK(holds(i % 2 ? b : a, i % 2 ? sizeof b : sizeof a));
    }
    CHECK_INT(dev.program_violations, 0);
    CHECK_INT(stsm_flash_record_write(&area, a, 0), STSM_OK);
    CHECK(holds(a, 0));

    CHECK_CASE("too large for a slot: refused, the record unchanged");
    CHECK_INT(stsm_flash_record_write(&area, b, sizeof b), STSM_OK);
    CHECK_INT(stsm_flash_record_write(&area, big, stsm_flash_record_capacity(&area) + 1), STSM_ERR_CAPACITY);
    CHECK(holds(b, sizeof b));

    CHECK_CASE("a damaged newest record: the previous one is read");
    CHECK_INT(stsm_flash_record_write(&area, a, sizeof a), STSM_OK);
    const uint8_t *newest;
    CHECK_INT(stsm_flash_record_read(&area, &newest, &len), STSM_OK);
    dev.mem[newest - dev.mem + 17] &= 0x0F;   /* a bit flips to 0 in flash */
    CHECK(holds(b, sizeof b));

    CHECK_CASE("power cut at every step of a write: the old record or the new, whole");
    unsigned old_seen = 0, new_seen = 0, other = 0;
    for (long cut = 0;; cut++) {
        memset(dev.mem, 0xFF, sizeof dev.mem);
        dev.budget = -1;
        stsm_flash_record_write(&area, b, sizeof b);   /* an older record, in the other slot */
        stsm_flash_record_write(&area, a, sizeof a);
        dev.budget = cut;
        stsm_status_t st = stsm_flash_record_write(&area, b, 123);
        dev.budget = -1;   /* power back: reboot and read */
        if (holds(b, 123)) {
            new_seen++;
        } else if (holds(a, sizeof a)) {
            old_seen++;
            CHECK(st != STSM_OK);   /* a write that reported success must be there */
        } else {
            other++;
        }
        if (st == STSM_OK) {
            break;
        }
    }
    CHECK_INT(other, 0);
    CHECK(old_seen >= 2 * PAGE);   /* the cut fell inside the erase and the programming */
    CHECK_INT(new_seen, 1);
    CHECK_INT(dev.program_violations, 0);

    CHECK_CASE("slots that are not whole pages are refused");
    struct stsm_flash_area odd = area;
    odd.size = AREA - 2;
    CHECK_INT(stsm_flash_record_write(&odd, a, 10), STSM_ERR_ARGUMENT);
    return stsm_check_summary("test_flash_record");
}
