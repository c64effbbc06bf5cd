/* stsm_zero() and stsm_wipe(): every byte ends zero whatever the alignment, nothing outside
 * the range is written, and clearing a static that is zero already adds no page to the
 * resident set (the host simulation's peak RSS, issue 12). */
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "stsm_check.h"
#include "stsm_mta_sts.h"
#include "stsm_sts_cache.h"
#include "stsm_wipe.h"

#define BIG (1024u * 1024u)

static uint8_t big[BIG] __attribute__((aligned(4096)));
static struct stsm_sts_cache fresh_cache;
static struct stsm_sts_policy parsed, assigned, copied;
static struct stsm_sts_policy fresh_policy __attribute__((aligned(4096)));   /* two pages */
static uint8_t area[4 * STSM_ZERO_BLOCK + 64] __attribute__((aligned(4096)));

/* Pages of this process counted as resident (/proc/self/statm, second field). Read with
 * open() and read() into the stack: a FILE would allocate, and under ASan each allocation
 * takes fresh memory, which would count here. */
static long resident_pages(void)
{
    char text[128];
    int fd = open("/proc/self/statm", O_RDONLY);
    ssize_t n = fd >= 0 ? read(fd, text, sizeof text - 1) : -1;
    if (fd >= 0) {
        close(fd);
    }
    if (n <= 0) {
        return -1;
    }
    text[n] = '\0';
    char *end;
    (void)strtol(text, &end, 10);
    return strtol(end, NULL, 10);
}

static size_t nonzero_in(const uint8_t *p, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        n += p[i] != 0;
    }
    return n;
}

/* Marks scattered bytes in [from, to) of `area` (block edges, first and last byte), clears
 * them with `clear` and checks the range is zero and the guard bytes around it are kept. */
static void check_range(void (*clear)(void *, size_t), size_t from, size_t to)
{
    memset(area, 0xA5, sizeof area);
    memset(area + from, 0, to - from);
    size_t marks[] = { from, to - 1, STSM_ZERO_BLOCK - 1, STSM_ZERO_BLOCK, 2 * STSM_ZERO_BLOCK + 17,
                       3 * STSM_ZERO_BLOCK + 4095 };
    for (size_t i = 0; i < sizeof marks / sizeof marks[0]; i++) {
        if (marks[i] >= from && marks[i] < to) {
            area[marks[i]] = (uint8_t)(i + 1);
        }
    }
    clear(area + from, to - from);
    CHECK_INT(nonzero_in(area + from, to - from), 0);
    CHECK_INT(nonzero_in(area, from), from);                       /* guard before */
    CHECK_INT(nonzero_in(area + to, sizeof area - to), sizeof area - to); /* guard after */
}

static void test_clears_everything(void)
{
    CHECK_CASE("every byte of the range ends zero, nothing outside is written");
    size_t ranges[][2] = { { 0, sizeof area }, { 1, sizeof area - 1 }, { 3, 3 * STSM_ZERO_BLOCK + 5 },
                           { STSM_ZERO_BLOCK - 1, STSM_ZERO_BLOCK + 1 }, { 100, 101 },
                           { 2 * STSM_ZERO_BLOCK, 3 * STSM_ZERO_BLOCK }, { 7, 7 } };
    for (size_t i = 0; i < sizeof ranges / sizeof ranges[0]; i++) {
        check_range(stsm_zero, ranges[i][0], ranges[i][1]);
        check_range(stsm_wipe, ranges[i][0], ranges[i][1]);
    }
}

static void test_zero_static_stays_out_of_rss(void)
{
    CHECK_CASE("clearing a zero static leaves its pages untouched");
    resident_pages();   /* the first call may set up the sanitizers' interceptors */
    long before = resident_pages();
    stsm_zero(big, sizeof big);
    stsm_wipe(big, sizeof big);
    long after = resident_pages();
    CHECK(before > 0);
    /* A plain memset adds BIG / 4096; ASan's own bookkeeping adds a few. */
    CHECK(after - before < (long)(BIG / 4096 / 4));
    CHECK_INT(nonzero_in(big, sizeof big), 0);

    CHECK_CASE("a dirty block in a zero static: only it is written");
    big[5 * 4096 + 9] = 1;
    stsm_zero(big, sizeof big);
    CHECK_INT(nonzero_in(big, sizeof big), 0);

    CHECK_CASE("stsm_sts_cache_init on a fresh static cache");
    before = resident_pages();
    stsm_sts_cache_init(&fresh_cache);
    after = resident_pages();
    CHECK(sizeof fresh_cache >= 8 * 4096);
    CHECK(after - before < (long)(sizeof fresh_cache / 4096 / 4));
}

static void test_policy_copy(void)
{
    static const char body[] = "version: STSv1\r\nmode: enforce\r\nmx: mx1.example.test\r\n"
                               "mx: *.example.test\r\nmax_age: 86400\r\n";
    size_t line;
    const char *reason;
    CHECK_CASE("stsm_sts_policy_copy: the same bytes as a struct assignment");
    CHECK_INT(stsm_sts_policy_parse((const uint8_t *)body, sizeof body - 1, &parsed, &line, &reason), STSM_OK);
    CHECK_INT(parsed.mx_count, 2);
    assigned = parsed;
    memset(&copied, 0x5A, sizeof copied);   /* text left over from a policy with more mx lines */
    stsm_sts_policy_copy(&copied, &parsed);
    CHECK(copied.mode == assigned.mode && copied.max_age == assigned.max_age &&
          copied.max_age_clamped == assigned.max_age_clamped && copied.mx_count == assigned.mx_count &&
          copied.mx_dropped == assigned.mx_dropped && copied.mx_len == assigned.mx_len);
    CHECK(memcmp(copied.mx_text, assigned.mx_text, sizeof copied.mx_text) == 0);
    CHECK(stsm_sts_mx_matches(stsm_sts_policy_mx_next(&copied, stsm_sts_policy_mx_first(&copied)), "a.example.test"));

    CHECK_CASE("stsm_sts_policy_copy into a fresh static: the unused pool stays untouched");
    long before = resident_pages();
    stsm_sts_policy_copy(&fresh_policy, &parsed);
    long after = resident_pages();
    CHECK(sizeof fresh_policy > 4096);
    CHECK(after - before <= 1);   /* a struct assignment writes both pages */
    CHECK(memcmp(fresh_policy.mx_text, assigned.mx_text, sizeof fresh_policy.mx_text) == 0);
}

int main(void)
{
    test_clears_everything();
    test_zero_static_stays_out_of_rss();
    test_policy_copy();
    return stsm_check_summary("wipe");
}
