/* The two-slot flash record: NOR semantics enforced by the simulated device (nor_sim), and
 * a power cut injected at every device operation of a write, in every way it can leave it. */
#include <stdbool.h>
#include <stdint.h>

#include "nor_sim.h"
#include "stsm_check.h"
#include "stsm_flash_record.h"

#define PAGE 256u
#define AREA (4 * PAGE)   /* two slots of two pages */

static uint8_t mem[AREA];
static struct nor_sim dev;

static void fill(uint8_t *buf, size_t len, uint8_t seed)
{
    for (size_t i = 0; i < len; i++) {
        buf[i] = (uint8_t)(seed + i * 7);
    }
}

/* A device that reports a program done but leaves the byte at `lost` erased. */
static size_t lost;

static bool lossy_program(void *ctx, size_t offset, const uint8_t *data, size_t len)
{
    if (!dev.area.program(ctx, offset, data, len)) {
        return false;
    }
    if (lost >= offset && lost < offset + len) {
        mem[lost] = 0xFF;
    }
    return true;
}

static bool holds(const uint8_t *want, size_t want_len)
{
    const uint8_t *data;
    size_t len;
    return stsm_flash_record_read(&dev.area, &data, &len) == STSM_OK && len == want_len &&
           memcmp(data, want, len) == 0;
}

int main(void)
{
    uint8_t a[300], b[400], big[AREA];
    fill(a, sizeof a, 1);
    fill(b, sizeof b, 99);

    CHECK_CASE("a new (erased) device holds no record");
    CHECK(nor_sim_init(&dev, mem, AREA, PAGE));
    const uint8_t *data;
    size_t len;
    CHECK_INT(stsm_flash_record_read(&dev.area, &data, &len), STSM_ERR_CORRUPT);
    CHECK_INT(stsm_flash_record_capacity(&dev.area), 2 * PAGE - STSM_FLASH_RECORD_HEADER);

    CHECK_CASE("write then read, alternating slots, never programming unerased flash");
    for (int i = 0; i < 5; i++) {
        CHECK_INT(stsm_flash_record_write(&dev.area, i % 2 ? b : a, i % 2 ? sizeof b : sizeof a), STSM_OK);
        CHECK(holds(i % 2 ? b : a, i % 2 ? sizeof b : sizeof a));
    }
    CHECK_INT(dev.double_programs + dev.bit_sets, 0);
    CHECK_INT(stsm_flash_record_write(&dev.area, a, 0), STSM_OK);
    CHECK(holds(a, 0));

    CHECK_CASE("too large for a slot: refused, the record unchanged");
    CHECK_INT(stsm_flash_record_write(&dev.area, b, sizeof b), STSM_OK);
    CHECK_INT(stsm_flash_record_write(&dev.area, big, stsm_flash_record_capacity(&dev.area) + 1), STSM_ERR_CAPACITY);
    CHECK(holds(b, sizeof b));

    CHECK_CASE("a damaged newest record: the previous one is read");
    CHECK_INT(stsm_flash_record_write(&dev.area, a, sizeof a), STSM_OK);
    const uint8_t *newest;
    CHECK_INT(stsm_flash_record_read(&dev.area, &newest, &len), STSM_OK);
    mem[newest - mem + 17] &= 0x0F;   /* a bit flips to 0 in flash */
    CHECK(holds(b, sizeof b));

    CHECK_CASE("power cut at every operation of a write: the old record or the new, whole");
    unsigned old_seen = 0, new_seen = 0, other = 0, tried = 0;
    for (unsigned long cut = 0;; cut++) {
        stsm_status_t st = STSM_OK;
        for (int mode = 0; mode < NOR_CUT_MODES; mode++) {
            for (uint32_t seed = 0; seed < 8; seed++) {
                nor_sim_init(&dev, mem, AREA, PAGE);
                stsm_flash_record_write(&dev.area, b, sizeof b);   /* an older record, in the other slot */
                stsm_flash_record_write(&dev.area, a, sizeof a);
                nor_sim_cut_after(&dev, cut, (enum nor_cut_mode)mode, seed);
                st = stsm_flash_record_write(&dev.area, b, 123);
                nor_sim_power_on(&dev);   /* power back: reboot and read */
                tried++;
                if (holds(b, 123)) {
                    new_seen++;
                } else if (holds(a, sizeof a)) {
                    old_seen++;
                    CHECK(st != STSM_OK);   /* a write that reported success must be there */
                } else {
                    other++;
                }
                CHECK_INT(dev.double_programs + dev.bit_sets, 0);
            }
        }
        if (st == STSM_OK) {
            break;
        }
    }
    CHECK_INT(other, 0);
    CHECK(old_seen > 0);
    CHECK(new_seen > 0);
    CHECK_INT(tried, 4 * NOR_CUT_MODES * 8);   /* erase, data, header, and no cut */
    printf("power cuts: %u tried, old record %u times, new %u\n", tried, old_seen, new_seen);

    CHECK_CASE("flash that does not keep what it said it programmed: STSM_ERR_IO, the old record read");
    CHECK_INT(stsm_flash_record_write(&dev.area, a, sizeof a), STSM_OK);
    CHECK_INT(stsm_flash_record_read(&dev.area, &newest, &len), STSM_OK);
    size_t target = (size_t)(newest - mem) < AREA / 2 ? AREA / 2 : 0;
    const size_t lost_at[] = { target, target + 5, target + STSM_FLASH_RECORD_HEADER + 3 };   /* magic, sequence, data */
    struct stsm_flash_area lossy = dev.area;
    lossy.program = lossy_program;
    for (size_t i = 0; i < sizeof lost_at / sizeof lost_at[0]; i++) {
        lost = lost_at[i];
        CHECK_INT(stsm_flash_record_write(&lossy, b, sizeof b), STSM_ERR_IO);
        CHECK(holds(a, sizeof a));
    }
    CHECK_INT(stsm_flash_record_write(&dev.area, b, sizeof b), STSM_OK);
    CHECK(holds(b, sizeof b));

    CHECK_CASE("slots that are not whole pages are refused");
    struct stsm_flash_area odd = dev.area;
    odd.size = AREA - 2;
    CHECK_INT(stsm_flash_record_write(&odd, a, 10), STSM_ERR_ARGUMENT);
    return stsm_check_summary("test_flash_record");
}
