/* MX planning: order, shuffling, implicit and null MX, duplicates, capacity, additional
 * addresses and CNAME flags, on answers decoded from packets built here. */
#include "dns_packet.h"
#include "stsm_check.h"
#include "stsm_mx.h"

static struct stsm_dns_answer answer;
static struct stsm_mx_set set;

/* Deterministic randomness: a counter-driven sequence the test can steer. */
static uint32_t rng_state;
static uint32_t test_random(void *arg, uint32_t bound)
{
    (void)arg;
    rng_state = rng_state * 1103515245u + 12345u;
    return (rng_state >> 16) % bound;
}

struct mx_rr {
    unsigned preference;
    const char *exchange;
};

/* Decodes an MX answer for `domain` made of `n` records (rcode 0) or an empty one. */
static void mx_answer(const char *domain, unsigned rcode, const struct mx_rr *rrs, size_t n)
{
    struct pkt p;
    struct stsm_dns_query q = { .id = 7, .type = STSM_DNS_TYPE_MX };
    strcpy(q.name, domain);
    pkt_header(&p, 7, 0, rcode, 1, (unsigned)n, 0, 0);
    pkt_question(&p, domain, STSM_DNS_TYPE_MX);
    for (size_t i = 0; i < n; i++) {
        pkt_rr_mx(&p, domain, rrs[i].preference, rrs[i].exchange);
    }
    CHECK_INT(stsm_dns_decode(p.b, p.n, &q, &answer), STSM_OK);
}

static void test_kinds(void)
{
    CHECK_CASE("NXDOMAIN: the domain does not exist");
    mx_answer("gone.test", 3, NULL, 0);
    CHECK_INT(stsm_mx_plan("gone.test", &answer, test_random, NULL, &set), STSM_OK);
    CHECK_INT(set.kind, STSM_MX_NO_DOMAIN);
    CHECK_INT(set.count, 0);

    CHECK_CASE("NODATA: implicit MX, the domain itself");
    mx_answer("implicit.test", 0, NULL, 0);
    CHECK_INT(stsm_mx_plan("implicit.test", &answer, test_random, NULL, &set), STSM_OK);
    CHECK_INT(set.kind, STSM_MX_IMPLICIT);
    CHECK_INT(set.count, 1);
    CHECK_STR(set.hosts[0].name, "implicit.test");

    CHECK_CASE("the domain may be the set's own buffer");
    CHECK_INT(stsm_mx_plan(set.domain, &answer, test_random, NULL, &set), STSM_OK);
    CHECK_STR(set.hosts[0].name, "implicit.test");

    CHECK_CASE("null MX: no mail");
    mx_answer("nullmx.test", 0, (const struct mx_rr[]){ { 0, "" } }, 1);
    CHECK_INT(stsm_mx_plan("nullmx.test", &answer, test_random, NULL, &set), STSM_OK);
    CHECK_INT(set.kind, STSM_MX_NULL);
    CHECK_INT(set.count, 0);
    CHECK(!set.null_ignored);

    CHECK_CASE("a '.' among real exchanges is skipped and flagged");
    mx_answer("mixed.test", 0, (const struct mx_rr[]){ { 0, "" }, { 10, "mx.mixed.test" } }, 2);
    CHECK_INT(stsm_mx_plan("mixed.test", &answer, test_random, NULL, &set), STSM_OK);
    CHECK_INT(set.kind, STSM_MX_LIST);
    CHECK_INT(set.count, 1);
    CHECK_STR(set.hosts[0].name, "mx.mixed.test");
    CHECK(set.null_ignored);

    CHECK_CASE("a temporary failure is not something to plan from");
    answer.outcome = STSM_DNS_TEMPFAIL;
    CHECK_INT(stsm_mx_plan("x.test", &answer, test_random, NULL, &set), STSM_ERR_ARGUMENT);
}

static void test_order(void)
{
    CHECK_CASE("sorted by preference whatever the record order");
    mx_answer("d.test", 0,
              (const struct mx_rr[]){ { 30, "c.d.test" }, { 10, "a.d.test" }, { 20, "b.d.test" } }, 3);
    CHECK_INT(stsm_mx_plan("d.test", &answer, test_random, NULL, &set), STSM_OK);
    CHECK_INT(set.count, 3);
    CHECK_STR(set.hosts[0].name, "a.d.test");
    CHECK_STR(set.hosts[1].name, "b.d.test");
    CHECK_STR(set.hosts[2].name, "c.d.test");
    CHECK_INT(set.hosts[2].preference, 30);

    CHECK_CASE("a host named twice is kept once, at its best preference");
    mx_answer("d.test", 0,
              (const struct mx_rr[]){ { 30, "a.d.test" }, { 20, "b.d.test" }, { 10, "A.d.test" } }, 3);
    CHECK_INT(stsm_mx_plan("d.test", &answer, test_random, NULL, &set), STSM_OK);
    CHECK_INT(set.count, 2);
    CHECK_INT(set.hosts[0].preference, 10);
    CHECK_STR(set.hosts[1].name, "b.d.test");

    CHECK_CASE("equal preferences are shuffled, every order turns up, ranks stay apart");
    static const struct mx_rr four[] = {
        { 5, "first.d.test" }, { 10, "x.d.test" }, { 10, "y.d.test" }, { 10, "z.d.test" },
    };
    mx_answer("d.test", 0, four, 4);
    unsigned seen[6] = { 0 };
    for (rng_state = 1; rng_state < 600;) {
        uint32_t seed = rng_state;
        CHECK_INT(stsm_mx_plan("d.test", &answer, test_random, NULL, &set), STSM_OK);
        rng_state = seed + 1;
        CHECK_STR(set.hosts[0].name, "first.d.test");
        /* Index the permutation of x, y, z by the positions of x and y. */
        int px = -1, py = -1;
        for (int i = 1; i < 4; i++) {
            if (set.hosts[i].name[0] == 'x') {
                px = i - 1;
            }
            if (set.hosts[i].name[0] == 'y') {
                py = i - 1;
            }
        }
        CHECK(px >= 0 && py >= 0 && px != py);
        seen[px * 2 + (py > px ? py - 1 : py)]++;
    }
    for (int i = 0; i < 6; i++) {
        CHECK(seen[i] > 0);
    }

    CHECK_CASE("more hosts of one preference than STSM_MX_MAX_HOSTS: the first ones are kept");
    struct mx_rr many[STSM_MX_MAX_HOSTS + 1];
    static char names[STSM_MX_MAX_HOSTS + 1][16];
    for (int i = 0; i <= STSM_MX_MAX_HOSTS; i++) {
        snprintf(names[i], sizeof names[i], "m%d.d.test", i);
        many[i].preference = 10;
        many[i].exchange = names[i];
    }
    mx_answer("d.test", 0, many, STSM_MX_MAX_HOSTS + 1);
    CHECK_INT(stsm_mx_plan("d.test", &answer, test_random, NULL, &set), STSM_OK);
    CHECK_INT(set.count, STSM_MX_MAX_HOSTS);
    CHECK_INT(set.hosts_dropped, 1);
    for (size_t i = 0; i < set.count; i++) {
        CHECK(strcmp(set.hosts[i].name, names[STSM_MX_MAX_HOSTS]) != 0);
    }
}

/* Finding 6: 11 or more MX hosts, or more than 16 records, used to fail the recipients.
 * Now the best STSM_MX_MAX_HOSTS by preference are planned and the rest counted. The
 * table's answers list distinct preferences in no order; ties and repeated names follow. */
static void test_capacity(void)
{
    static const struct {
        const char *intent;
        unsigned n;
    } rows[] = {
        { "11 MX records", 11 },
        { "16 MX records", 16 },
        { "17 MX records", 17 },
        { "40 MX records", 40 },
    };
    for (size_t r = 0; r < sizeof rows / sizeof rows[0]; r++) {
        unsigned n = rows[r].n;
        static struct mx_rr rrs[64];
        static char names[64][24];
        unsigned prefs[64];
        for (unsigned i = 0; i < n; i++) {
            prefs[i] = (29u * i + 7u) % 53u;   /* distinct below 53, in no order */
            snprintf(names[i], sizeof names[i], "h%u.d.test", prefs[i]);
            rrs[i].preference = prefs[i];
            rrs[i].exchange = names[i];
        }
        /* Sort a copy: the best STSM_MX_MAX_HOSTS are what must be planned. */
        unsigned sorted[64];
        memcpy(sorted, prefs, n * sizeof prefs[0]);
        for (unsigned i = 1; i < n; i++) {
            for (unsigned k = i; k > 0 && sorted[k - 1] > sorted[k]; k--) {
                unsigned t = sorted[k];
                sorted[k] = sorted[k - 1];
                sorted[k - 1] = t;
            }
        }
        unsigned keep = n < STSM_MX_MAX_HOSTS ? n : STSM_MX_MAX_HOSTS;
        CHECK_CASE(rows[r].intent);
        mx_answer("d.test", 0, rrs, n);
        CHECK_INT(stsm_mx_plan("d.test", &answer, test_random, NULL, &set), STSM_OK);
        CHECK_INT(set.kind, STSM_MX_LIST);
        CHECK_INT(set.count, keep);
        CHECK_INT(set.hosts_dropped, n - keep);
        for (unsigned k = 0; k < keep && k < set.count; k++) {
            char want[24];
            snprintf(want, sizeof want, "h%u.d.test", sorted[k]);
            CHECK_INT(set.hosts[k].preference, sorted[k]);
            CHECK_STR(set.hosts[k].name, want);
        }
    }

    CHECK_CASE("a name listed again with a better preference is kept at that preference");
    static struct mx_rr dup[STSM_MX_MAX_HOSTS + 2];
    static char dup_names[STSM_MX_MAX_HOSTS + 2][24];
    for (int i = 0; i < STSM_MX_MAX_HOSTS + 1; i++) {
        snprintf(dup_names[i], sizeof dup_names[i], "n%d.d.test", i);
        dup[i].preference = (unsigned)(20 + i);
        dup[i].exchange = dup_names[i];
    }
    dup[STSM_MX_MAX_HOSTS + 1].preference = 1;   /* the dropped worst one, again, now best */
    dup[STSM_MX_MAX_HOSTS + 1].exchange = dup_names[STSM_MX_MAX_HOSTS];
    mx_answer("d.test", 0, dup, STSM_MX_MAX_HOSTS + 2);
    CHECK_INT(stsm_mx_plan("d.test", &answer, test_random, NULL, &set), STSM_OK);
    CHECK_INT(set.count, STSM_MX_MAX_HOSTS);
    CHECK_STR(set.hosts[0].name, dup_names[STSM_MX_MAX_HOSTS]);
    CHECK_INT(set.hosts[0].preference, 1);
    CHECK_STR(set.hosts[STSM_MX_MAX_HOSTS - 1].name, dup_names[STSM_MX_MAX_HOSTS - 2]);
    CHECK(set.hosts_dropped > 0);

    CHECK_CASE("a null MX among more records than fit is still skipped and flagged");
    static struct mx_rr with_null[STSM_MX_MAX_HOSTS + 2];
    static char null_names[STSM_MX_MAX_HOSTS + 2][24];
    with_null[0] = (struct mx_rr){ 0, "" };
    for (int i = 1; i < STSM_MX_MAX_HOSTS + 2; i++) {
        snprintf(null_names[i], sizeof null_names[i], "z%d.d.test", i);
        with_null[i] = (struct mx_rr){ (unsigned)(100 - i), null_names[i] };
    }
    mx_answer("d.test", 0, with_null, STSM_MX_MAX_HOSTS + 2);
    CHECK_INT(stsm_mx_plan("d.test", &answer, test_random, NULL, &set), STSM_OK);
    CHECK_INT(set.kind, STSM_MX_LIST);
    CHECK(set.null_ignored);
    CHECK_INT(set.count, STSM_MX_MAX_HOSTS);
    CHECK_INT(set.hosts_dropped, 1);
    CHECK_STR(set.hosts[0].name, null_names[STSM_MX_MAX_HOSTS + 1]);

    CHECK_CASE("an MX set that fits drops nothing");
    mx_answer("d.test", 0, (const struct mx_rr[]){ { 10, "a.d.test" } }, 1);
    CHECK_INT(stsm_mx_plan("d.test", &answer, test_random, NULL, &set), STSM_OK);
    CHECK_INT(set.hosts_dropped, 0);
}

static void test_addresses(void)
{
    struct pkt p;
    struct stsm_dns_query q = { .id = 9, .type = STSM_DNS_TYPE_MX };
    strcpy(q.name, "d.test");

    CHECK_CASE("additional section answers the hosts it owns records for");
    pkt_header(&p, 9, 0, 0, 1, 2, 0, 3);
    pkt_question(&p, "d.test", STSM_DNS_TYPE_MX);
    pkt_rr_mx(&p, "d.test", 10, "a.d.test");
    pkt_rr_mx(&p, "d.test", 20, "b.d.test");
    pkt_rr_a(&p, "A.D.TEST", 192, 0, 2, 1);
    pkt_rr_a(&p, "a.d.test", 192, 0, 2, 2);
    pkt_rr_a(&p, "elsewhere.test", 192, 0, 2, 3);
    CHECK_INT(stsm_dns_decode(p.b, p.n, &q, &answer), STSM_OK);
    CHECK_INT(stsm_mx_plan("d.test", &answer, test_random, NULL, &set), STSM_OK);
    stsm_mx_take_additional(&set, &answer);
    CHECK(set.hosts[0].a.done && set.hosts[0].a.from_additional);
    CHECK(!set.hosts[0].aaaa.done);
    CHECK_INT(set.hosts[0].address_count, 2);
    CHECK_INT(set.hosts[0].addresses[1].bytes[3], 2);
    CHECK(!set.hosts[1].a.done);
    CHECK_INT(set.hosts[1].address_count, 0);

    CHECK_CASE("an incomplete additional section is not used");
    answer.extra_incomplete = true;
    CHECK_INT(stsm_mx_plan("d.test", &answer, test_random, NULL, &set), STSM_OK);
    stsm_mx_take_additional(&set, &answer);
    CHECK(!set.hosts[0].a.done);

    CHECK_CASE("an address lookup through a CNAME flags the host and keeps its MX name");
    pkt_header(&p, 9, 0, 0, 1, 2, 0, 0);
    pkt_question(&p, "b.d.test", STSM_DNS_TYPE_A);
    pkt_rr_cname(&p, "b.d.test", "real.other.test");
    pkt_rr_a(&p, "real.other.test", 192, 0, 2, 7);
    q.type = STSM_DNS_TYPE_A;
    strcpy(q.name, "b.d.test");
    CHECK_INT(stsm_dns_decode(p.b, p.n, &q, &answer), STSM_OK);
    stsm_mx_record_lookup(&set, &set.hosts[1], STSM_DNS_TYPE_A, STSM_OK, &answer);
    CHECK(set.hosts[1].cname);
    CHECK_STR(set.hosts[1].name, "b.d.test");
    CHECK_STR(set.hosts[1].canonical, "real.other.test");
    CHECK_INT(set.hosts[1].address_count, 1);
    CHECK_INT(set.hosts[1].a.outcome, STSM_DNS_ANSWER);

    CHECK_CASE("a failed lookup is recorded as such");
    stsm_mx_record_lookup(&set, &set.hosts[1], STSM_DNS_TYPE_AAAA, STSM_ERR_TIMEOUT, NULL);
    CHECK(set.hosts[1].aaaa.done);
    CHECK_INT(set.hosts[1].aaaa.status, STSM_ERR_TIMEOUT);
    CHECK_INT(set.hosts[1].address_count, 1);

    CHECK_CASE("addresses beyond STSM_MX_MAX_ADDRESSES are dropped and flagged");
    pkt_header(&p, 9, 0, 0, 1, STSM_MX_MAX_ADDRESSES + 1, 0, 0);
    pkt_question(&p, "a.d.test", STSM_DNS_TYPE_A);
    for (int i = 0; i <= STSM_MX_MAX_ADDRESSES; i++) {
        pkt_rr_a(&p, "a.d.test", 192, 0, 2, (uint8_t)(10 + i));
    }
    strcpy(q.name, "a.d.test");
    CHECK_INT(stsm_dns_decode(p.b, p.n, &q, &answer), STSM_OK);
    stsm_mx_record_lookup(&set, &set.hosts[0], STSM_DNS_TYPE_A, STSM_OK, &answer);
    CHECK_INT(set.hosts[0].address_count, STSM_MX_MAX_ADDRESSES);
    CHECK(set.hosts[0].addresses_dropped);

    CHECK_CASE("more AAAA records than the codec keeps: a plan, not a failure");
    static struct stsm_mx_set lone_set;
    struct stsm_mx_host *lone = &lone_set.hosts[0];
    memset(&lone_set, 0, sizeof lone_set);
    pkt_header(&p, 9, 0, 0, 1, STSM_DNS_MAX_RECORDS + 1, 0, 0);
    pkt_question(&p, "a.d.test", STSM_DNS_TYPE_AAAA);
    for (int i = 0; i <= STSM_DNS_MAX_RECORDS; i++) {
        pkt_name(&p, "a.d.test");
        pkt_rr_fixed(&p, STSM_DNS_TYPE_AAAA, 300, 16);
        uint8_t v6[16] = { 0x20, 0x01, 0x0d, 0xb8 };
        v6[15] = (uint8_t)i;
        pkt_bytes(&p, v6, 16);
    }
    q.type = STSM_DNS_TYPE_AAAA;
    CHECK_INT(stsm_dns_decode(p.b, p.n, &q, &answer), STSM_OK);
    CHECK_INT(answer.dropped, 1);
    stsm_mx_record_lookup(&lone_set, lone, STSM_DNS_TYPE_AAAA, STSM_OK, &answer);
    CHECK_INT(lone->address_count, STSM_MX_MAX_ADDRESSES);
    CHECK(lone->addresses_dropped);

    CHECK_CASE("addresses the codec left out flag the host even when the rest fit");
    memset(&lone_set, 0, sizeof lone_set);
    answer.count = 1;
    answer.dropped = 3;   /* as the codec reports it when STSM_DNS_MAX_RECORDS is small */
    stsm_mx_record_lookup(&lone_set, lone, STSM_DNS_TYPE_AAAA, STSM_OK, &answer);
    CHECK_INT(lone->address_count, 1);
    CHECK(lone->addresses_dropped);
}

/* The set keeps its own copy of each name (STSM_MX_NAMES_MAX, 1024 bytes), once: hosts
 * whose names do not fit are the worst ones, dropped and counted; a CNAME target that does
 * not fit fails that lookup, its addresses not taken, never a host kept under a name cut
 * short or without the target a policy may match. */
static void test_names(void)
{
    _Static_assert(STSM_MX_NAMES_MAX == 1024, "the cases are sized for the default");
    static char names[STSM_MX_MAX_HOSTS][256];
    static const char label[] = "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijk";   /* 63 */
    struct mx_rr rrs[STSM_MX_MAX_HOSTS];
    for (size_t i = 0; i < STSM_MX_MAX_HOSTS; i++) {
        /* 200 bytes each: five fit the 1024 bytes (1005 with their NULs), the sixth not. */
        snprintf(names[i], sizeof names[i], "%s.%s.%.61s.mx%zu.d.test", label, label, label, i);
        rrs[i] = (struct mx_rr){ (unsigned)(10 * (STSM_MX_MAX_HOSTS - i)), names[i] };   /* worst first */
    }

    CHECK_CASE("names: each host's name is the set's own copy, not the answer's");
    CHECK_INT(strlen(names[0]), 200);
    mx_answer("d.test", 0, rrs + STSM_MX_MAX_HOSTS - 2, 2);
    CHECK_INT(stsm_mx_plan("d.test", &answer, test_random, NULL, &set), STSM_OK);
    memset(&answer, 0, sizeof answer);   /* the resolver's one answer is reused at once */
    CHECK_INT(set.count, 2);
    CHECK_STR(set.hosts[0].name, names[STSM_MX_MAX_HOSTS - 1]);
    CHECK_STR(set.hosts[1].name, names[STSM_MX_MAX_HOSTS - 2]);
    CHECK(set.hosts[0].canonical == set.hosts[0].name);
    CHECK(!set.names_full);

    CHECK_CASE("names beyond STSM_MX_NAMES_MAX: the worst hosts dropped and counted");
    mx_answer("d.test", 0, rrs, STSM_MX_MAX_HOSTS);
    CHECK_INT(stsm_mx_plan("d.test", &answer, test_random, NULL, &set), STSM_OK);
    CHECK_INT(set.count, 5);
    CHECK_INT(set.hosts_dropped, STSM_MX_MAX_HOSTS - 5);
    CHECK(set.names_full);
    for (size_t k = 0; k < 5; k++) {
        CHECK_STR(set.hosts[k].name, names[STSM_MX_MAX_HOSTS - 1 - k]);   /* the best five, in order */
    }

    CHECK_CASE("names full: a CNAME target that does not fit fails the lookup, no address taken");
    struct pkt p;
    struct stsm_dns_query q = { .id = 9, .type = STSM_DNS_TYPE_A };
    snprintf(q.name, sizeof q.name, "%s", set.hosts[0].name);
    pkt_header(&p, 9, 0, 0, 1, 2, 0, 0);
    pkt_question(&p, q.name, STSM_DNS_TYPE_A);
    pkt_rr_cname(&p, q.name, "a-longer-target-than-fits.other.test");   /* 19 bytes are left */
    pkt_rr_a(&p, "a-longer-target-than-fits.other.test", 192, 0, 2, 7);
    CHECK_INT(stsm_dns_decode(p.b, p.n, &q, &answer), STSM_OK);
    stsm_mx_record_lookup(&set, &set.hosts[0], STSM_DNS_TYPE_A, STSM_OK, &answer);
    CHECK(set.hosts[0].a.done);
    CHECK_INT(set.hosts[0].a.status, STSM_ERR_CAPACITY);
    CHECK_INT(set.hosts[0].address_count, 0);
    CHECK(!set.hosts[0].cname);
    CHECK(set.hosts[0].canonical == set.hosts[0].name);

    CHECK_CASE("names: a CNAME target already held is shared, and fits");
    snprintf(q.name, sizeof q.name, "%s", set.hosts[1].name);
    pkt_header(&p, 9, 0, 0, 1, 2, 0, 0);
    pkt_question(&p, q.name, STSM_DNS_TYPE_A);
    pkt_rr_cname(&p, q.name, set.hosts[2].name);
    pkt_rr_a(&p, set.hosts[2].name, 192, 0, 2, 8);
    CHECK_INT(stsm_dns_decode(p.b, p.n, &q, &answer), STSM_OK);
    stsm_mx_record_lookup(&set, &set.hosts[1], STSM_DNS_TYPE_A, STSM_OK, &answer);
    CHECK_INT(set.hosts[1].a.status, STSM_OK);
    CHECK(set.hosts[1].cname);
    CHECK(set.hosts[1].canonical == set.hosts[2].name);
    CHECK_INT(set.hosts[1].address_count, 1);
}

int main(void)
{
    test_kinds();
    test_order();
    test_capacity();
    test_addresses();
    test_names();
    return stsm_check_summary("test_mx");
}
