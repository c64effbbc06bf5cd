/* The log-structured flash store on a simulated NOR flash (nor_sim): contract, capacity
 * edges, wear, and a power cut at every device operation of a scripted workload. */
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "nor_sim.h"
#include "stsm_check.h"
#include "stsm_crc32.h"
#include "stsm_host_flash.h"
#include "stsm_store.h"

static uint8_t mem[NOR_SIM_SIZE_MAX];
static struct nor_sim sim;
static struct stsm_store store;

/* The bytes of version `v` of `key`, `len` long: every version is told apart. */
static void make_value(uint8_t *buf, size_t len, uint32_t key, uint32_t v)
{
    for (size_t i = 0; i < len; i++) {
        buf[i] = (uint8_t)(key * 13u + v * 7u + i * 31u + (i >> 8));
    }
}

static bool holds(uint32_t key, uint32_t v, size_t want_len)
{
    static uint8_t want[NOR_SIM_SIZE_MAX];
    const uint8_t *data;
    size_t len;
    make_value(want, want_len, key, v);
    return stsm_store_get(&store, key, &data, &len) == STSM_OK && len == want_len &&
           memcmp(data, want, len) == 0;
}

static stsm_status_t put_version(uint32_t key, uint32_t v, size_t len)
{
    static uint8_t buf[NOR_SIM_SIZE_MAX];
    make_value(buf, len, key, v);
    if (v % 2 == 0 || len < 4) {
        return stsm_store_put(&store, key, buf, len);
    }
    /* Odd versions go in pieces, as the outbox writes its content records: a short one,
     * an empty one, then the rest in two (the power cut sweeps cut inside them too). */
    size_t third = (len - 1) / 3;
    const struct stsm_store_piece pieces[] = {
        { buf, 1 }, { buf + 1, 0 }, { buf + 1, third }, { buf + 1 + third, len - 1 - third },
    };
    return stsm_store_put_pieces(&store, key, pieces, sizeof pieces / sizeof pieces[0]);
}

static void fresh(size_t size, size_t page)
{
    CHECK(nor_sim_init(&sim, mem, size, page));
    CHECK_INT(stsm_store_mount(&store, &sim.area), STSM_OK);
}

/* What put would answer, without keeping its effect: fits() must say the same. */
static stsm_status_t try_put(uint32_t key, size_t len)
{
    static uint8_t saved_mem[NOR_SIM_SIZE_MAX];
    static struct nor_sim saved_sim;
    static struct stsm_store saved_store;
    memcpy(saved_mem, mem, sim.area.size);
    saved_sim = sim;
    saved_store = store;
    stsm_status_t st = put_version(key, 999, len);
    memcpy(mem, saved_mem, sim.area.size);
    sim = saved_sim;
    store = saved_store;
    return st;
}

static void check_fits_agrees(uint32_t key, size_t len)
{
    stsm_status_t st = try_put(key, len);
    bool fits = stsm_store_fits(&store, key, len);
    CHECK(st == STSM_OK || st == STSM_ERR_FULL || st == STSM_ERR_CAPACITY);
    if ((st == STSM_OK) != fits) {
        printf("fits(%u, %zu) = %d but put gives %s\n", (unsigned)key, len, fits, stsm_status_str(st));
    }
    CHECK_INT(st == STSM_OK, fits);
}

static void test_contract(void)
{
    CHECK_CASE("a blank area is an empty store");
    fresh(8 * 512, 512);
    CHECK_INT(stsm_store_count(&store), 0);
    const uint8_t *data;
    size_t len;
    CHECK_INT(stsm_store_get(&store, 1, &data, &len), STSM_ERR_NOT_FOUND);
    CHECK_INT(stsm_store_delete(&store, 1), STSM_ERR_NOT_FOUND);
    CHECK_INT(sim.ops, 0);   /* mounting a blank area writes nothing */

    CHECK_CASE("put, replace, delete, and the same after a remount");
    CHECK_INT(put_version(1, 1, 100), STSM_OK);
    CHECK_INT(put_version(2, 1, 0), STSM_OK);
    CHECK_INT(put_version(1, 2, 50), STSM_OK);
    CHECK(holds(1, 2, 50));
    CHECK(holds(2, 1, 0));
    CHECK_INT(stsm_store_count(&store), 2);
    CHECK_INT(stsm_store_delete(&store, 2), STSM_OK);
    CHECK_INT(stsm_store_get(&store, 2, &data, &len), STSM_ERR_NOT_FOUND);
    CHECK_INT(stsm_store_delete(&store, 2), STSM_ERR_NOT_FOUND);
    CHECK_INT(stsm_store_mount(&store, &sim.area), STSM_OK);
    CHECK(holds(1, 2, 50));
    CHECK_INT(stsm_store_count(&store), 1);
    CHECK_INT(stsm_store_key_at(&store, 0), 1);
    CHECK_INT(stsm_store_get(&store, 2, &data, &len), STSM_ERR_NOT_FOUND);

    CHECK_CASE("keys 0 and 0xFFFFFFFF are not keys");
    CHECK_INT(put_version(STSM_STORE_KEY_NONE, 1, 4), STSM_ERR_ARGUMENT);
    CHECK_INT(put_version(0xFFFFFFFFu, 1, 4), STSM_ERR_ARGUMENT);
    CHECK(!stsm_store_fits(&store, 0, 4));
    CHECK_INT(stsm_store_put(&store, 3, NULL, 4), STSM_ERR_ARGUMENT);
    CHECK_INT(stsm_store_get(&store, 1, &data, &len), STSM_OK);
    CHECK_INT(stsm_store_put(&store, 3, data, len), STSM_ERR_ARGUMENT);   /* a value in the area */
    CHECK_INT(stsm_store_put(&store, 3, mem + 8 * 512 - 1, 1), STSM_ERR_ARGUMENT);
    CHECK_INT(stsm_store_put(&store, 3, mem + 8 * 512, 1), STSM_OK);    /* just past it */
    CHECK_INT(stsm_store_delete(&store, 3), STSM_OK);

    CHECK_CASE("record length: 0, record_max, record_max + 1, far beyond");
    size_t max = stsm_store_record_max(&sim.area);
    CHECK_INT(max, 512 - 16 - 20 - 20);
    check_fits_agrees(5, 0);
    check_fits_agrees(5, max);
    CHECK_INT(put_version(5, 1, max), STSM_OK);
    CHECK(holds(5, 1, max));
    CHECK(!stsm_store_fits(&store, 5, max + 1));
    CHECK_INT(put_version(5, 2, max + 1), STSM_ERR_CAPACITY);
    CHECK_INT(stsm_store_put(&store, 5, mem, (size_t)-1), STSM_ERR_CAPACITY);
    CHECK(!stsm_store_fits(&store, 5, (size_t)-1));
    CHECK(holds(5, 1, max));

    CHECK_CASE("a record in pieces: stored as one, few program calls, same limits");
    {
        static uint8_t want[512];
        make_value(want, 300, 6, 1);
        struct stsm_store_piece pieces[24];
        size_t count = 0, at = 0;
        for (; count < 20; count++) {   /* 20 fields of 5 bytes, as a record's header fields */
            pieces[count] = (struct stsm_store_piece){ want + at, 5 };
            at += 5;
        }
        pieces[count++] = (struct stsm_store_piece){ NULL, 0 };
        pieces[count++] = (struct stsm_store_piece){ want + at, 300 - at };   /* a body */
        uint32_t programs = stsm_store_stats(&store)->programs;
        CHECK_INT(stsm_store_put_pieces(&store, 6, pieces, count), STSM_OK);
        /* The short fields gathered in one call, the body in one, the header in one (and
         * the page's header when the record opens a page); one call a piece would be 23. */
        uint32_t calls = stsm_store_stats(&store)->programs - programs;
        CHECK(calls == 3 || calls == 4);
        CHECK(holds(6, 1, 300));
        CHECK_INT(stsm_store_mount(&store, &sim.area), STSM_OK);
        CHECK(holds(6, 1, 300));
        CHECK_INT(stsm_store_put_pieces(&store, 6, NULL, 0), STSM_OK);   /* no pieces: empty */
        CHECK(holds(6, 0, 0));
        CHECK_INT(stsm_store_put_pieces(&store, 6, NULL, 1), STSM_ERR_ARGUMENT);
        const struct stsm_store_piece null_data[] = { { want, 4 }, { NULL, 1 } };
        CHECK_INT(stsm_store_put_pieces(&store, 6, null_data, 2), STSM_ERR_ARGUMENT);
        CHECK_INT(stsm_store_get(&store, 1, &data, &len), STSM_OK);
        const struct stsm_store_piece in_area[] = { { want, 4 }, { data, 1 } };
        CHECK_INT(stsm_store_put_pieces(&store, 6, in_area, 2), STSM_ERR_ARGUMENT);
        const struct stsm_store_piece at_max[] = { { want, max - 100 }, { want, 100 } };
        CHECK_INT(stsm_store_put_pieces(&store, 6, at_max, 2), STSM_OK);
        const struct stsm_store_piece over[] = { { want, max - 100 }, { want, 101 } };
        CHECK_INT(stsm_store_put_pieces(&store, 6, over, 2), STSM_ERR_CAPACITY);
        const struct stsm_store_piece wraps[] = { { want, 8 }, { want, (size_t)-4 } };
        CHECK_INT(stsm_store_put_pieces(&store, 6, wraps, 2), STSM_ERR_CAPACITY);
        CHECK_INT(stsm_store_delete(&store, 6), STSM_OK);
        CHECK(holds(5, 1, max));
    }

    CHECK_CASE("geometries refused: too few or too many pages, odd sizes");
    struct stsm_flash_area bad = sim.area;
    bad.size = 2 * 512;
    CHECK_INT(stsm_store_mount(&store, &bad), STSM_ERR_ARGUMENT);
    CHECK_INT(put_version(1, 1, 1), STSM_ERR_ARGUMENT);   /* unmounted */
    bad.size = (STSM_STORE_PAGES_MAX + 1) * 512u;
    CHECK_INT(stsm_store_mount(&store, &bad), STSM_ERR_ARGUMENT);
    bad.size = 8 * 512 + 4;
    CHECK_INT(stsm_store_mount(&store, &bad), STSM_ERR_ARGUMENT);
    bad.size = 8 * 32;
    bad.page_size = 32;
    CHECK_INT(stsm_store_mount(&store, &bad), STSM_ERR_ARGUMENT);
    CHECK_INT(stsm_store_record_max(&bad), 0);
    CHECK_INT(sim.double_programs + sim.bit_sets, 0);
}

static void test_capacity(void)
{
    CHECK_CASE("keys: STSM_STORE_KEYS_MAX - 1, the max, one more");
    fresh(16 * 1024, 1024);
    for (uint32_t k = 1; k < STSM_STORE_KEYS_MAX; k++) {
        CHECK_INT(put_version(k, 1, 16), STSM_OK);
    }
    check_fits_agrees(STSM_STORE_KEYS_MAX, 16);
    CHECK_INT(put_version(STSM_STORE_KEYS_MAX, 1, 16), STSM_OK);
    CHECK(!stsm_store_fits(&store, STSM_STORE_KEYS_MAX + 1, 16));
    CHECK_INT(put_version(STSM_STORE_KEYS_MAX + 1, 1, 16), STSM_ERR_FULL);
    CHECK(stsm_store_fits(&store, 7, 16));   /* replacing a key needs no new slot */
    CHECK_INT(put_version(7, 2, 16), STSM_OK);
    CHECK_INT(stsm_store_delete(&store, 3), STSM_OK);
    CHECK_INT(put_version(STSM_STORE_KEYS_MAX + 1, 1, 16), STSM_OK);
    CHECK_INT(stsm_store_mount(&store, &sim.area), STSM_OK);
    CHECK_INT(stsm_store_count(&store), STSM_STORE_KEYS_MAX);
    CHECK(holds(7, 2, 16));
    CHECK(holds(STSM_STORE_KEYS_MAX + 1, 1, 16));

    /* Several record sizes: the byte limit falls at different places in the pages. */
    static const size_t sizes[] = { 0, 60, 200, 333, 456 };
    for (size_t z = 0; z < sizeof sizes / sizeof sizes[0]; z++) {
        CHECK_CASE("bytes: fill until full, the refused put changes nothing, then drain");
        fresh(6 * 512, 512);
        size_t len = sizes[z];
        uint32_t n = 0;
        while (stsm_store_fits(&store, n + 1, len)) {
            check_fits_agrees(n + 1, len);
            CHECK_INT(put_version(n + 1, 1, len), STSM_OK);
            n++;
            if (n > STSM_STORE_KEYS_MAX) {
                break;
            }
        }
        check_fits_agrees(n + 1, len);
        static uint8_t before[NOR_SIM_SIZE_MAX];
        memcpy(before, mem, sim.area.size);
        unsigned long ops = sim.ops;
        stsm_status_t st = put_version(n + 1, 1, len);
        CHECK_INT(st, n == STSM_STORE_KEYS_MAX ? STSM_ERR_FULL : STSM_ERR_FULL);
        CHECK_INT(sim.ops, ops);
        CHECK(memcmp(before, mem, sim.area.size) == 0);
        /* Smaller records may still fit where this one does not, and agree too. */
        for (size_t small = 0; small <= len; small += 20) {
            check_fits_agrees(n + 1, small);
        }
        for (uint32_t k = 1; k <= n; k++) {
            check_fits_agrees(k, len);   /* a replacement */
        }
        printf("capacity: records of %zu bytes: %u fit in 6 pages of 512\n", len, (unsigned)n);
        CHECK(n >= (len == 0 ? STSM_STORE_KEYS_MAX : 4 * (476 / (20 + len + 3) / 1)));
        CHECK_INT(stsm_store_mount(&store, &sim.area), STSM_OK);
        CHECK_INT(stsm_store_count(&store), n);
        /* Deleting always finds room, in any order. */
        for (uint32_t i = 0; i < n; i++) {
            uint32_t k = (i * 7u) % n + 1;
            CHECK(holds(k, 1, len));
            CHECK_INT(stsm_store_delete(&store, k), STSM_OK);
        }
        CHECK_INT(stsm_store_count(&store), 0);
        CHECK_INT(sim.double_programs + sim.bit_sets, 0);
    }
}

static void test_page_end(void)
{
    CHECK_CASE("an empty record ending a page exactly survives its page's reclaim (fuzz_store)");
    fresh(4 * 512, 512);
    CHECK_INT(put_version(1, 1, 40), STSM_OK);     /* 16 + 60 */
    CHECK_INT(stsm_store_delete(&store, 1), STSM_OK);   /* + 20: the tail may be used now */
    CHECK_INT(put_version(2, 1, 376), STSM_OK);    /* + 396 = 492 */
    CHECK_INT(put_version(3, 1, 0), STSM_OK);      /* + 20 = 512: its data "starts" page 1 */
    const uint8_t *data;
    size_t len;
    CHECK_INT(stsm_store_get(&store, 3, &data, &len), STSM_OK);
    CHECK(data == mem + 512);
    uint32_t v = 1;
    while (sim.erases[0] == 0 && v < 20) {   /* until page 0 is reclaimed, then reboot */
        CHECK_INT(put_version(2, ++v, 376), STSM_OK);
    }
    CHECK_INT(stsm_store_mount(&store, &sim.area), STSM_OK);
    CHECK(holds(3, 1, 0));
    CHECK(holds(2, v, 376));
    CHECK_INT(stsm_store_count(&store), 2);
}

/* Erases per alert for the outbox's write mix: a 1 KiB content record, then its state
 * record written three times (64 bytes), then both deleted; `background` messages stay. */
static void test_wear(size_t pages, size_t page)
{
    CHECK_CASE("wear: erases spread over every page");
    fresh(pages * page, page);
    const unsigned background = 4, alerts = 1000;
    for (uint32_t m = 0; m < background; m++) {
        CHECK_INT(put_version(1000 + 2 * m, 1, 1024), STSM_OK);
        CHECK_INT(put_version(1001 + 2 * m, 1, 64), STSM_OK);
    }
    unsigned long erases0 = 0;
    for (size_t p = 0; p < pages; p++) {
        erases0 += sim.erases[p];
    }
    for (uint32_t a = 0; a < alerts; a++) {
        uint32_t content = 2 * (a % 16) + 1, state = content + 1;
        CHECK_INT(put_version(content, a, 1024), STSM_OK);
        for (uint32_t r = 0; r < 3; r++) {
            CHECK_INT(put_version(state, a * 3 + r, 64), STSM_OK);
        }
        CHECK_INT(stsm_store_delete(&store, content), STSM_OK);
        CHECK_INT(stsm_store_delete(&store, state), STSM_OK);
    }
    unsigned long total = 0, max, min;
    for (size_t p = 0; p < pages; p++) {
        total += sim.erases[p];
    }
    nor_sim_erase_spread(&sim, &max, &min);
    printf("wear: %zu pages of %zu, %u messages kept: %lu erases for %u alerts of 6 store writes (%.3f per alert, "
           "%.3f per write), per page %lu..%lu\n", pages, page, background, total - erases0, alerts,
           (double)(total - erases0) / alerts, (double)(total - erases0) / (alerts * 6.0), min, max);
    CHECK(min > 0);
    CHECK(max <= 2 * min);
    CHECK_INT(stsm_store_count(&store), 2 * background);
    CHECK_INT(stsm_store_mount(&store, &sim.area), STSM_OK);
    for (uint32_t m = 0; m < background; m++) {
        CHECK(holds(1000 + 2 * m, 1, 1024));
        CHECK(holds(1001 + 2 * m, 1, 64));
    }
    CHECK_INT(sim.double_programs + sim.bit_sets, 0);
}

/* Scripted workloads for the power-cut test. */
struct step {
    char op;            /* 'p' put, 'd' delete */
    uint32_t key;
    uint16_t len;
};
#define SCRIPT_KEYS 8

/* Small records on a small area, so that reclaims happen all the time. */
static const struct step small_script[] = {
    { 'p', 1, 150 }, { 'p', 2, 40 }, { 'p', 3, 180 }, { 'p', 1, 90 }, { 'd', 2, 0 }, { 'p', 4, 0 },
    { 'p', 3, 20 }, { 'p', 5, 120 }, { 'd', 1, 0 }, { 'p', 2, 100 }, { 'p', 6, 160 }, { 'd', 5, 0 },
    { 'p', 3, 176 }, { 'p', 1, 60 }, { 'd', 4, 0 }, { 'p', 4, 130 }, { 'p', 6, 12 }, { 'd', 3, 0 },
    { 'p', 5, 70 }, { 'p', 2, 176 }, { 'd', 6, 0 }, { 'p', 1, 176 }, { 'p', 3, 33 }, { 'd', 2, 0 },
    { 'p', 7, 100 }, { 'd', 1, 0 }, { 'p', 2, 50 }, { 'p', 7, 150 }, { 'd', 3, 0 }, { 'p', 1, 140 },
};

/* The outbox's mix: a 1 KiB content record, its state written three times, both deleted;
 * two messages overlap and one stays throughout, so reclaims copy 1 KiB records, which
 * go in several program calls. */
static const struct step outbox_script[] = {
    { 'p', 7, 1024 }, { 'p', 1, 1024 }, { 'p', 2, 64 }, { 'p', 3, 1000 }, { 'p', 4, 64 }, { 'p', 2, 64 }, { 'p', 2, 64 },
    { 'd', 1, 0 }, { 'd', 2, 0 }, { 'p', 5, 1024 }, { 'p', 6, 64 }, { 'p', 4, 64 }, { 'p', 4, 64 },
    { 'd', 3, 0 }, { 'd', 4, 0 }, { 'p', 6, 64 }, { 'p', 1, 900 }, { 'p', 2, 64 }, { 'p', 6, 64 },
    { 'd', 5, 0 }, { 'd', 6, 0 }, { 'p', 2, 64 }, { 'p', 3, 1024 }, { 'p', 4, 64 }, { 'p', 2, 64 },
    { 'd', 1, 0 }, { 'd', 2, 0 }, { 'p', 4, 64 }, { 'p', 4, 64 }, { 'd', 3, 0 }, { 'd', 4, 0 },
};

struct workload {
    const char *name;
    const struct step *steps;
    size_t count;
    size_t pages, page_size;
    unsigned seeds;     /* per partial mode */
};

struct model {
    bool present[SCRIPT_KEYS];
    uint32_t version[SCRIPT_KEYS];
    uint16_t len[SCRIPT_KEYS];
};

/* Runs the script until the power fails; returns the step that was cut (count: none). */
static size_t run_script(const struct workload *w, struct model *m)
{
    memset(m, 0, sizeof *m);
    for (size_t i = 0; i < w->count; i++) {
        const struct step *s = &w->steps[i];
        stsm_status_t st = s->op == 'p' ? put_version(s->key, (uint32_t)i, s->len) : stsm_store_delete(&store, s->key);
        if (st != STSM_OK) {
            CHECK_INT(st, STSM_ERR_IO);
            return i;
        }
        m->present[s->key] = s->op == 'p';
        m->version[s->key] = (uint32_t)i;
        m->len[s->key] = s->len;
    }
    return w->count;
}

/* Every key as acknowledged, or as the step in flight left it. */
static bool store_matches(const struct workload *w, const struct model *m, size_t inflight)
{
    bool ok = true;
    for (uint32_t k = 1; k < SCRIPT_KEYS; k++) {
        const uint8_t *data;
        size_t len;
        bool here = stsm_store_get(&store, k, &data, &len) == STSM_OK;
        bool as_before = m->present[k] ? here && holds(k, m->version[k], m->len[k]) : !here;
        bool as_inflight = false;
        if (inflight < w->count && w->steps[inflight].key == k) {
            const struct step *s = &w->steps[inflight];
            as_inflight = s->op == 'p' ? here && holds(k, (uint32_t)inflight, s->len) : !here;
        }
        ok = ok && (as_before || as_inflight);
    }
    return ok && stsm_store_stats(&store)->records_skipped <= 1;
}

static void test_power_cuts(const struct workload *w)
{
    CHECK_CASE("power cut at every device operation of a scripted workload");
    struct model m;
    fresh(w->pages * w->page_size, w->page_size);
    CHECK_INT(run_script(w, &m), w->count);
    unsigned long total_ops = sim.ops;
    CHECK(store_matches(w, &m, w->count));
    unsigned long tried = 0, bad = 0, recut = 0;
    for (unsigned long k = 0; k < total_ops; k++) {
        for (int mode = 0; mode < NOR_CUT_MODES; mode++) {
            bool partial = mode == NOR_CUT_PREFIX || mode == NOR_CUT_SUFFIX || mode == NOR_CUT_SCATTER;
            for (uint32_t seed = 0; seed < (partial ? w->seeds : 1); seed++) {
                fresh(w->pages * w->page_size, w->page_size);
                nor_sim_cut_after(&sim, k, (enum nor_cut_mode)mode, seed);
                size_t inflight = run_script(w, &m);
                CHECK(inflight < w->count);
                nor_sim_power_on(&sim);
                /* The reboot's own repairs may be cut too: once, then boot again. Every
                 * other run relies on the store remounting itself after STSM_ERR_IO. */
                if (k % 2 == 0) {
                    unsigned long before = sim.ops;
                    nor_sim_cut_after(&sim, 0, (enum nor_cut_mode)mode, seed + 7);
                    stsm_status_t st = stsm_store_mount(&store, &sim.area);
                    nor_sim_power_on(&sim);
                    if (sim.ops != before) {
                        CHECK_INT(st, STSM_ERR_IO);
                        recut++;
                    }
                    CHECK_INT(stsm_store_mount(&store, &sim.area), STSM_OK);
                }
                tried++;
                /* Still writable: a put and a delete, and they last. */
                bool ok = put_version(SCRIPT_KEYS, 1, 100) == STSM_OK && stsm_store_mount(&store, &sim.area) == STSM_OK &&
                          store_matches(w, &m, inflight) && holds(SCRIPT_KEYS, 1, 100) &&
                          stsm_store_delete(&store, SCRIPT_KEYS) == STSM_OK &&
                          stsm_store_mount(&store, &sim.area) == STSM_OK && store_matches(w, &m, inflight);
                if (!ok && bad++ < 5) {
                    printf("%s: cut after %lu operations (%s, seed %u), step %zu: wrong store\n", w->name, k,
                           nor_cut_mode_name((enum nor_cut_mode)mode), (unsigned)seed, inflight);
                }
                CHECK_INT(sim.double_programs + sim.bit_sets, 0);
            }
        }
    }
    CHECK_INT(bad, 0);
    printf("power cuts, %s: %zu steps, %lu device operations, %lu cut points tried (%lu with the reboot cut too)\n",
           w->name, w->count, total_ops, tried, recut);
}

/*
 * The danger a reclaim's marker exists for: the oldest page holds an old version of a
 * key and, later, its tombstone; the erase that frees the page is cut, leaving the old
 * version readable and the tombstone erased. The key must stay deleted.
 */
static void test_cut_erase_keeps_deletes(void)
{
    CHECK_CASE("an erase cut short never brings a deleted key back");
    unsigned long erase_cuts = 0, survivors = 0;
    for (int mode = NOR_CUT_PREFIX; mode <= NOR_CUT_SCATTER; mode++) {
        for (uint32_t seed = 0; seed < 40; seed++) {
            fresh(4 * 256, 256);
            /* Page 0: key 1's value, then its tombstone, then key 2 (live), filling it. */
            CHECK_INT(put_version(1, 1, 60), STSM_OK);
            CHECK_INT(stsm_store_delete(&store, 1), STSM_OK);
            CHECK_INT(put_version(2, 1, 100), STSM_OK);
            /* Pages 1 and 2 fill; page 3 is the spare; the next put reclaims page 0. */
            CHECK_INT(put_version(3, 1, 200), STSM_OK);
            CHECK_INT(put_version(4, 1, 200), STSM_OK);
            unsigned long erases = sim.erases[0];
            CHECK_INT(erases, 0);
            /* Cut at the first erase of page 0, found by counting operations. */
            unsigned long k;
            for (k = 0; k < 64; k++) {
                static uint8_t snap[4 * 256];
                static struct nor_sim snap_sim;
                static struct stsm_store snap_store;
                memcpy(snap, mem, sizeof snap);
                snap_sim = sim;
                snap_store = store;
                nor_sim_cut_after(&sim, k, (enum nor_cut_mode)mode, seed);
                stsm_status_t st = put_version(5, 1, 20);
                bool hit = sim.erases[0] > erases;
                if (!hit) {
                    memcpy(mem, snap, sizeof snap);
                    sim = snap_sim;
                    store = snap_store;
                    CHECK(st == STSM_ERR_IO);
                    continue;
                }
                CHECK_INT(st, STSM_ERR_IO);
                break;
            }
            CHECK(k < 64);
            erase_cuts++;
            if (seed % 2) {
                /* Still no power: the remount the next put starts fails, and is tried again
                 * once the device is back. */
                CHECK_INT(put_version(6, 1, 8), STSM_ERR_IO);
                CHECK(!stsm_store_fits(&store, 6, 8));
                nor_sim_power_on(&sim);
                CHECK_INT(put_version(6, 1, 8), STSM_OK);
            }
            nor_sim_power_on(&sim);
            /* Did key 1's old value survive the cut erase, as a whole record? */
            static uint8_t old[60];
            make_value(old, sizeof old, 1, 1);
            for (size_t at = 0; at + sizeof old <= 256; at++) {
                survivors += memcmp(mem + at, old, sizeof old) == 0;
            }
            CHECK_INT(stsm_store_mount(&store, &sim.area), STSM_OK);
            const uint8_t *data;
            size_t len;
            CHECK_INT(stsm_store_get(&store, 1, &data, &len), STSM_ERR_NOT_FOUND);
            CHECK(holds(2, 1, 100));
            CHECK(holds(3, 1, 200));
            CHECK(holds(4, 1, 200));
            CHECK_INT(stsm_store_get(&store, 5, &data, &len), STSM_ERR_NOT_FOUND);
            CHECK_INT(sim.double_programs + sim.bit_sets, 0);
        }
    }
    printf("cut erases: %lu, key 1's old value survived in %lu\n", erase_cuts, survivors);
    CHECK(survivors > 0);   /* the danger was really staged */
}

/* Images written by hand in the store's format (stsm_store.c's top comment), as a build
 * with a larger index could leave them: 4 pages of 2048. */
#define FORGE_PAGE 2048u

static void forge_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* A page header with sequence `seq`; returns where its first record goes. */
static size_t forge_page(uint8_t *image, size_t page, uint32_t seq)
{
    uint8_t *h = image + page * FORGE_PAGE;
    forge_u32(h, 0x53545047u);
    forge_u32(h + 4, seq);
    forge_u32(h + 8, FORGE_PAGE);
    forge_u32(h + 12, stsm_crc32(0, h, 12));
    return page * FORGE_PAGE + 16;
}

/* An empty record of `kind` (1 value, 3 marker) at `at`; returns where the next goes. */
static size_t forge_record(uint8_t *image, size_t at, uint8_t kind, uint32_t key, uint32_t seq)
{
    uint8_t *h = image + at;
    h[0] = 'S';
    h[1] = 'R';
    h[2] = kind;
    h[3] = 1;
    forge_u32(h + 4, key);
    forge_u32(h + 8, seq);
    forge_u32(h + 12, 0);
    forge_u32(h + 16, stsm_crc32(0, h, 16));
    return at + 20;
}

/*
 * `keys` live keys in page 1, and either (cut_reclaim false) page 0 declared obsolete by a
 * marker in page 1, or (true) every page in the ring, the newest (3) holding a cut
 * reclaim's copy. Page 0 holds an older version of key 1.
 */
static void forge_image(uint8_t *image, uint32_t keys, bool cut_reclaim)
{
    memset(image, 0xFF, 4 * FORGE_PAGE);
    uint32_t seq = 1;
    size_t at = forge_page(image, 0, 1);
    forge_record(image, at, 1, 1, seq++);
    at = forge_page(image, 1, 2);
    if (!cut_reclaim) {
        at = forge_record(image, at, 3, 1, seq++);
    }
    for (uint32_t k = 1; k <= keys; k++) {
        at = forge_record(image, at, 1, k, seq++);
    }
    if (cut_reclaim) {
        forge_page(image, 2, 3);
        forge_record(image, forge_page(image, 3, 4), 1, 1, seq++);
    }
}

static void test_failed_mount_changes_nothing(void)
{
    static uint8_t image[4 * FORGE_PAGE], after[4 * FORGE_PAGE];
    for (int cut = 0; cut <= 1; cut++) {
        CHECK_CASE(cut ? "a cut reclaim and more keys than the index: the mount fails, flash untouched"
                       : "an obsolete page and more keys than the index: the mount fails, flash untouched");
        forge_image(image, STSM_STORE_KEYS_MAX + 1, cut);
        CHECK(nor_sim_init(&sim, mem, sizeof image, FORGE_PAGE));
        nor_sim_load(&sim, image, sizeof image);
        CHECK_INT(stsm_store_mount(&store, &sim.area), STSM_ERR_CAPACITY);
        CHECK_INT(sim.ops, 0);
        CHECK(memcmp(mem, image, sizeof image) == 0);
        CHECK_INT(put_version(1, 1, 8), STSM_ERR_ARGUMENT);

        CHECK_CASE(cut ? "a cut reclaim and a full index: the mount erases the cut reclaim's page"
                       : "an obsolete page and a full index: the mount erases the obsolete page");
        forge_image(image, STSM_STORE_KEYS_MAX, cut);
        CHECK(nor_sim_init(&sim, mem, sizeof image, FORGE_PAGE));
        nor_sim_load(&sim, image, sizeof image);
        CHECK_INT(stsm_store_mount(&store, &sim.area), STSM_OK);
        size_t gone = cut ? 3 : 0;
        CHECK_INT(sim.ops, 1);
        CHECK_INT(sim.erases[gone], 1);
        CHECK_INT(stsm_store_stats(&store)->erases, 1);
        memcpy(after, image, sizeof image);
        memset(after + gone * FORGE_PAGE, 0xFF, FORGE_PAGE);
        CHECK(memcmp(mem, after, sizeof after) == 0);
        CHECK_INT(stsm_store_count(&store), STSM_STORE_KEYS_MAX);
        const uint8_t *data;
        size_t len;
        CHECK_INT(stsm_store_get(&store, 1, &data, &len), STSM_OK);
        CHECK_INT(data - mem, FORGE_PAGE + (cut ? 16 : 36) + 20);   /* page 1's version */
        CHECK_INT(stsm_store_get(&store, STSM_STORE_KEYS_MAX, &data, &len), STSM_OK);
        CHECK_INT(len, 0);
        /* Mounted again, it is clean: only read. */
        CHECK_INT(stsm_store_mount(&store, &sim.area), STSM_OK);
        CHECK_INT(sim.ops, 1);
    }
}


/* The host's flash file: created blank, durable across SIGKILL, shared under its lock. */
#define HOST_SIZE (8 * 4096u)
static uint8_t host_image[HOST_SIZE], host_image2[HOST_SIZE];

/* One locked batch on a shared file: lock, remount when another process wrote, put. */
static bool locked_put(struct stsm_host_flash *f, uint32_t key, uint32_t v, size_t len)
{
    bool changed;
    if (stsm_host_flash_lock(f, &changed) != STSM_OK ||
        (changed && stsm_store_mount(&store, &f->area) != STSM_OK)) {
        return false;
    }
    bool ok = put_version(key, v, len) == STSM_OK;
    stsm_host_flash_unlock(f);
    return ok;
}

static void test_host_flash(void)
{
    CHECK_CASE("host flash: a missing file is made blank, of the given size");
    char dir[] = "/tmp/test_store.XXXXXX", path[128], why[256];
    CHECK(mkdtemp(dir) != NULL);
    snprintf(path, sizeof path, "%s/store.bin", dir);
    struct stsm_host_flash f, g;
    CHECK_INT(stsm_host_flash_open(&f, path, host_image, HOST_SIZE, 4096, why, sizeof why), STSM_OK);
    struct stat st;
    CHECK(stat(path, &st) == 0 && st.st_size == HOST_SIZE);
    size_t blank = 0;
    for (size_t i = 0; i < HOST_SIZE; i++) {
        blank += host_image[i] == 0xFF;
    }
    CHECK_INT(blank, HOST_SIZE);

    CHECK_CASE("host flash: what a store wrote is in the file when the call returns");
    CHECK_INT(stsm_store_mount(&store, &f.area), STSM_OK);
    CHECK_INT(put_version(1, 1, 3000), STSM_OK);
    CHECK_INT(put_version(2, 1, 10), STSM_OK);
    CHECK_INT(stsm_store_delete(&store, 2), STSM_OK);
    stsm_host_flash_close(&f);
    memset(host_image, 0, sizeof host_image);
    CHECK_INT(stsm_host_flash_open(&f, path, host_image, HOST_SIZE, 4096, why, sizeof why), STSM_OK);
    CHECK_INT(stsm_store_mount(&store, &f.area), STSM_OK);
    CHECK(holds(1, 1, 3000));
    CHECK_INT(stsm_store_count(&store), 1);

    CHECK_CASE("host flash: killed (SIGKILL) right after a put returned, nothing lost");
    fflush(stdout);
    pid_t child = fork();
    if (child == 0) {
        struct stsm_host_flash c;
        if (stsm_host_flash_open(&c, path, host_image2, HOST_SIZE, 4096, why, sizeof why) == STSM_OK &&
            stsm_store_mount(&store, &c.area) == STSM_OK) {
            for (uint32_t v = 2; v < 30; v++) {
                locked_put(&c, 1, v, 1000 + v);
            }
        }
        kill(getpid(), SIGKILL);
        _exit(1);
    }
    int status = 0;
    CHECK(waitpid(child, &status, 0) == child && WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    bool changed = false;
    CHECK_INT(stsm_host_flash_lock(&f, &changed), STSM_OK);
    CHECK(changed);
    CHECK_INT(stsm_store_mount(&store, &f.area), STSM_OK);
    CHECK(holds(1, 29, 1029));
    stsm_host_flash_unlock(&f);
    CHECK_INT(stsm_host_flash_lock(&f, &changed), STSM_OK);
    CHECK(!changed);
    stsm_host_flash_unlock(&f);

    CHECK_CASE("host flash: two processes share the file under its lock");
    pid_t kids[2];
    for (int k = 0; k < 2; k++) {
        fflush(stdout);
        kids[k] = fork();
        if (kids[k] == 0) {
            struct stsm_host_flash c;
            bool ok = stsm_host_flash_open(&c, path, host_image2, HOST_SIZE, 4096, why, sizeof why) == STSM_OK &&
                      stsm_store_mount(&store, &c.area) == STSM_OK;
            for (uint32_t v = 0; ok && v < 40; v++) {
                ok = locked_put(&c, 10 + (uint32_t)k * 10 + v % 5, v, 100 + 10 * v);
            }
            _exit(ok ? 0 : 1);
        }
    }
    for (int k = 0; k < 2; k++) {
        CHECK(waitpid(kids[k], &status, 0) == kids[k] && WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    CHECK_INT(stsm_host_flash_lock(&f, &changed), STSM_OK);
    CHECK_INT(stsm_store_mount(&store, &f.area), STSM_OK);
    for (uint32_t k = 0; k < 2; k++) {
        for (uint32_t v = 35; v < 40; v++) {
            CHECK(holds(10 + k * 10 + v % 5, v, 100 + 10 * v));
        }
    }
    CHECK(holds(1, 29, 1029));
    stsm_host_flash_unlock(&f);

    CHECK_CASE("host flash: a file replaced under its name is followed");
    char other[160];
    snprintf(other, sizeof other, "%s/other.bin", dir);
    CHECK_INT(stsm_host_flash_open(&g, other, host_image2, HOST_SIZE, 4096, why, sizeof why), STSM_OK);
    CHECK_INT(stsm_store_mount(&store, &g.area), STSM_OK);
    CHECK_INT(put_version(40, 1, 500), STSM_OK);
    stsm_host_flash_close(&g);
    CHECK(rename(other, path) == 0);
    CHECK_INT(stsm_host_flash_lock(&f, &changed), STSM_OK);
    CHECK(changed);
    CHECK_INT(stsm_store_mount(&store, &f.area), STSM_OK);
    CHECK(holds(40, 1, 500));
    CHECK_INT(stsm_store_count(&store), 1);
    CHECK_INT(put_version(41, 1, 5), STSM_OK);   /* written to the new file */
    stsm_host_flash_unlock(&f);
    stsm_host_flash_close(&f);
    CHECK_INT(stsm_host_flash_open(&f, path, host_image, HOST_SIZE, 4096, why, sizeof why), STSM_OK);
    CHECK_INT(stsm_store_mount(&store, &f.area), STSM_OK);
    CHECK(holds(41, 1, 5));
    stsm_host_flash_close(&f);

    CHECK_CASE("host flash: a file of another size is refused, named, and left as it is");
    CHECK_INT(stsm_host_flash_open(&g, path, host_image2, HOST_SIZE - 4096, 4096, why, sizeof why), STSM_ERR_ARGUMENT);
    CHECK(strstr(why, path) != NULL && strstr(why, "32768") != NULL && strstr(why, "28672") != NULL);
    printf("refused: %s\n", why);
    CHECK(stat(path, &st) == 0 && st.st_size == HOST_SIZE);
    CHECK_INT(stsm_host_flash_open(&g, path, host_image2, HOST_SIZE, 3000, why, sizeof why), STSM_ERR_ARGUMENT);
    snprintf(path, sizeof path, "%s/no/such/dir/store.bin", dir);
    CHECK_INT(stsm_host_flash_open(&g, path, host_image2, HOST_SIZE, 4096, why, sizeof why), STSM_ERR_IO);
    CHECK(strstr(why, "no/such/dir") != NULL);

    snprintf(path, sizeof path, "%s/store.bin", dir);
    unlink(path);
    rmdir(dir);
}

int main(void)
{
    test_contract();
    test_capacity();
    test_page_end();
    test_wear(16, 4096);
    test_wear(8, 4096);
    static const struct workload small = { "small records", small_script,
                                           sizeof small_script / sizeof small_script[0], 6, 256, 3 };
    static const struct workload outbox = { "outbox mix", outbox_script,
                                            sizeof outbox_script / sizeof outbox_script[0], 4, 2048, 2 };
    test_power_cuts(&small);
    test_power_cuts(&outbox);
    test_cut_erase_keeps_deletes();
    test_failed_mount_changes_nothing();
    test_host_flash();
    return stsm_check_summary("test_store");
}
