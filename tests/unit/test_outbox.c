/*
 * The outbox on the real store over a simulated NOR flash, with a clock and randomness
 * the test hands in: codec, validation, ids, backoff, outcomes, coalescing, the domain
 * cap, full, ordering.
 */
#include <stdio.h>
#include <string.h>

#include "nor_sim.h"
#include "stsm_check.h"
#include "stsm_outbox.h"
#include "stsm_store.h"

#define PAGE 4096u
#define PAGES 16u
#define T0 1700000000

static uint8_t mem[PAGE * PAGES];
static struct nor_sim sim;
static struct stsm_store store;
static struct stsm_outbox ob;
static struct stsm_outbox_message msg;
static char msg_text[STSM_OUTBOX_TEXT_MAX];
static struct stsm_outbox_config cfg;

static const char *const TO1[] = { "ops@example.com" };
static const char *const TO2[] = { "ops@example.com", "oncall@example.net" };

static struct stsm_outbox_config defaults(void)
{
    return (struct stsm_outbox_config){ 60, 3600, 259200, 300, 0, false };
}

static void reboot(void)
{
    nor_sim_power_on(&sim);
    CHECK_INT(stsm_store_mount(&store, &sim.area), STSM_OK);
    uint32_t bad = 99;
    CHECK_INT(stsm_outbox_open(&ob, &store, &cfg, &bad), STSM_OK);
    CHECK_INT(bad, 0);
}

static void fresh_pages(size_t pages, struct stsm_outbox_config c)
{
    cfg = c;
    memset(mem, 0xFF, sizeof mem);
    CHECK(nor_sim_init(&sim, mem, PAGE * pages, PAGE));
    reboot();
}

static void fresh(struct stsm_outbox_config c)
{
    fresh_pages(PAGES, c);
}

static stsm_status_t raise_ex(const char *key, enum stsm_severity sev, const char *const *to, size_t n, int64_t now,
                              const char *body, uint32_t *id, bool *coalesced, uint32_t *dropped)
{
    struct stsm_alert a = { key, sev, "Disk almost full", body, strlen(body), to, n };
    char why[160] = "";
    stsm_status_t st = stsm_outbox_raise(&ob, &a, TO1, 1, now, 0x12345678u, id, coalesced, dropped, why, sizeof why);
    if (st == STSM_ERR_ARGUMENT) {
        printf("  refused: %s\n", why);
    }
    return st;
}

/* Raises and returns the id, checking STSM_OK and whether it coalesced. */
static uint32_t raise_at(const char *key, enum stsm_severity sev, const char *const *to, size_t n, int64_t now,
                         bool expect_coalesced)
{
    uint32_t id = 0, dropped = 0;
    bool coalesced = !expect_coalesced;
    CHECK_INT(raise_ex(key, sev, to, n, now, "body", &id, &coalesced, &dropped), STSM_OK);
    CHECK_INT(coalesced, expect_coalesced);
    CHECK_INT(dropped, 0);
    CHECK(id != 0);
    return id;
}

static struct stsm_smtp_result result(enum stsm_smtp_outcome o, uint16_t code, const char *text)
{
    struct stsm_smtp_result r;
    memset(&r, 0, sizeof r);
    r.outcome = o;
    r.code = code;
    snprintf(r.text, sizeof r.text, "%s", text);
    return r;
}

static void record(uint32_t id, size_t i, enum stsm_smtp_outcome o, uint16_t code, int64_t now)
{
    struct stsm_smtp_result r = result(o, code, o == STSM_SMTP_DELIVERED ? "ok" : "try later");
    CHECK_INT(stsm_outbox_record(&ob, id, i, &r, now), STSM_OK);
}

/* One whole attempt in which every pending recipient gets outcome `o`. */
static void attempt(uint32_t id, int64_t now, enum stsm_smtp_outcome o, uint32_t random)
{
    CHECK_INT(stsm_outbox_load(&ob, id, &msg, msg_text, sizeof msg_text), STSM_OK);
    size_t n = msg.to_count;
    enum stsm_rcpt_state was[STSM_SMTP_MAX_RCPT];
    memcpy(was, msg.rcpt, sizeof was);
    CHECK_INT(stsm_outbox_attempt_begins(&ob, id, now), STSM_OK);
    for (size_t i = 0; i < n; i++) {
        if (was[i] == STSM_RCPT_PENDING) {
            record(id, i, o, o == STSM_SMTP_DELIVERED ? 250 : o == STSM_SMTP_FAILED ? 550 : 451, now);
        }
    }
    CHECK_INT(stsm_outbox_attempt_ends(&ob, id, now, random, NULL), STSM_OK);
}

static bool has(const char *haystack, const char *needle)
{
    return strstr(haystack, needle) != NULL;
}

/* ---- names -------------------------------------------------------------------------- */

static void test_names(void)
{
    CHECK_CASE("names");
    enum stsm_severity s = STSM_SEVERITY_INFO;
    CHECK_STR(stsm_severity_name(STSM_SEVERITY_CRITICAL), "critical");
    CHECK(stsm_severity_name(STSM_SEVERITY_COUNT) == NULL);
    CHECK(stsm_severity_parse("warning", 7, &s) && s == STSM_SEVERITY_WARNING);
    CHECK(!stsm_severity_parse("warn", 4, &s));
    CHECK(!stsm_severity_parse("warnings", 8, &s));
    CHECK_STR(stsm_rcpt_state_name(STSM_RCPT_GAVE_UP), "gave_up");
    CHECK(stsm_rcpt_state_name((enum stsm_rcpt_state)4) == NULL);
}

/* ---- codec -------------------------------------------------------------------------- */

static void test_round_trip(void)
{
    CHECK_CASE("round trip");
    fresh(defaults());
    const char body[] = "line one\nline two: temp\xc3\xa9rature 81 \xc2\xb0" "C\n";
    struct stsm_alert a = { "disk-full /var", STSM_SEVERITY_ERROR, "Disk f\xc3\xbcll on unit 7", body,
                            sizeof body - 1, TO2, 2 };
    uint32_t id = 0, dropped = 1;
    bool coalesced = true;
    char why[120];
    CHECK_INT(stsm_outbox_raise(&ob, &a, NULL, 0, T0, 0xDEADBEEFu, &id, &coalesced, &dropped, why, sizeof why),
              STSM_OK);
    CHECK_INT(id, 1);
    CHECK(!coalesced);
    CHECK_INT(dropped, 0);
    for (int pass = 0; pass < 2; pass++) {
        CHECK_INT(stsm_outbox_load(&ob, id, &msg, msg_text, sizeof msg_text), STSM_OK);
        CHECK_INT(msg.id, 1);
        CHECK_INT(msg.severity, STSM_SEVERITY_ERROR);
        CHECK_STR(msg.key, "disk-full /var");
        CHECK_INT(msg.to_count, 2);
        CHECK_STR(msg.to[0], "ops@example.com");
        CHECK_STR(msg.to[1], "oncall@example.net");
        CHECK_INT(msg.rcpt[0], STSM_RCPT_PENDING);
        CHECK_INT(msg.rcpt[1], STSM_RCPT_PENDING);
        CHECK_STR(msg.subject, "Disk f\xc3\xbcll on unit 7");
        /* The text the strings took, each with its NUL, in one run from msg_text. */
        CHECK_INT(msg.text_len, sizeof "disk-full /var" + sizeof "ops@example.com" + sizeof "oncall@example.net" +
                                    sizeof "Disk f\xc3\xbcll on unit 7");
        CHECK(msg.key == msg_text && msg.subject + strlen(msg.subject) + 1 == msg_text + msg.text_len);
        CHECK_INT(msg.body_len, sizeof body - 1);
        CHECK(memcmp(msg.body, body, sizeof body - 1) == 0);
        CHECK_INT(msg.id_random[0], 0xDEADBEEFu);
        CHECK_INT(msg.id_random[1], 1);
        CHECK_INT(msg.first_queued, T0);
        CHECK_INT(msg.first_raised, T0);
        CHECK_INT(msg.last_raised, T0);
        CHECK_INT(msg.raised_count, 1);
        CHECK_INT(msg.attempts, 0);
        CHECK_INT(msg.next_attempt, 0);
        CHECK_STR(msg.last_error, "");
        reboot();   /* the second pass reads what the flash holds */
    }
    const char *b = NULL;
    size_t blen = 0;
    CHECK_INT(stsm_outbox_body(&ob, id, &b, &blen), STSM_OK);
    CHECK(blen == sizeof body - 1 && memcmp(b, body, blen) == 0);
    CHECK_INT(stsm_outbox_body(&ob, 77, &b, &blen), STSM_ERR_NOT_FOUND);
    CHECK_INT(stsm_outbox_load(&ob, 77, &msg, msg_text, sizeof msg_text), STSM_ERR_NOT_FOUND);

    /* After an attempt the state record carries the progress across a reboot. */
    CHECK_INT(stsm_outbox_attempt_begins(&ob, id, T0 + 5), STSM_OK);
    struct stsm_smtp_result r = result(STSM_SMTP_FAILED, 550, "5.1.1 no such user\r\x01");
    CHECK_INT(stsm_outbox_record(&ob, id, 1, &r, T0 + 6), STSM_OK);
    CHECK_INT(stsm_outbox_attempt_ends(&ob, id, T0 + 7, 6, NULL), STSM_OK);
    reboot();
    CHECK_INT(stsm_outbox_load(&ob, id, &msg, msg_text, sizeof msg_text), STSM_OK);
    CHECK_INT(msg.attempts, 1);
    CHECK_INT(msg.next_attempt, T0 + 67);
    CHECK_INT(msg.rcpt[0], STSM_RCPT_PENDING);
    CHECK_INT(msg.rcpt[1], STSM_RCPT_FAILED);
    CHECK_STR(msg.last_error, "550 5.1.1 no such user??");   /* kept printable */
}

/* The content record goes to the store in pieces (no staging copy of it): few program
 * calls, and the text comes back at its own length, into the caller's buffer. */
static void test_text(void)
{
    CHECK_CASE("a content record is written in pieces, in few program calls");
    fresh(defaults());
    (void)raise_at("first", STSM_SEVERITY_INFO, TO1, 1, T0, false);   /* the id high-water record */
    static char body[1200];
    memset(body, 'b', sizeof body - 1);
    uint32_t programs = stsm_store_stats(&store)->programs, id = 0;
    CHECK_INT(raise_ex("k", STSM_SEVERITY_WARNING, TO2, 2, T0, body, &id, NULL, NULL), STSM_OK);
    /* fixed fields, key, recipients and subject gathered in one call, the body in one,
     * the record header in one (a page's header too if it opened one) */
    uint32_t calls = stsm_store_stats(&store)->programs - programs;
    CHECK(calls == 3 || calls == 4);
    reboot();
    CHECK_INT(stsm_outbox_load(&ob, id, &msg, msg_text, sizeof msg_text), STSM_OK);
    CHECK_STR(msg.to[1], "oncall@example.net");
    CHECK(msg.body_len == sizeof body - 1 && memcmp(msg.body, body, msg.body_len) == 0);

    CHECK_CASE("load: the text takes its lengths plus a NUL each; one byte less does not fit");
    size_t need = strlen("k") + 1 + strlen(TO2[0]) + 1 + strlen(TO2[1]) + 1 + strlen("Disk almost full") + 1;
    static char exact[128];
    memset(&msg, 0x5A, sizeof msg);
    CHECK_INT(stsm_outbox_load(&ob, id, &msg, exact, need), STSM_OK);
    CHECK_STR(msg.key, "k");
    CHECK_STR(msg.to[0], "ops@example.com");
    CHECK_STR(msg.subject, "Disk almost full");
    CHECK(msg.key >= exact && msg.subject + strlen(msg.subject) < exact + need);
    CHECK_INT(msg.text_len, need);
    struct stsm_outbox_message before = msg;
    CHECK_INT(stsm_outbox_load(&ob, id, &msg, exact, need - 1), STSM_ERR_CAPACITY);
    CHECK(memcmp(&before, &msg, sizeof msg) == 0);   /* left as it was */

    CHECK_CASE("load without text: the progress, no strings");
    CHECK_INT(stsm_outbox_attempt_begins(&ob, id, T0 + 1), STSM_OK);
    CHECK_INT(stsm_outbox_load(&ob, id, &msg, NULL, 0), STSM_OK);
    CHECK(msg.key == NULL && msg.to[0] == NULL && msg.to[1] == NULL && msg.subject == NULL);
    CHECK_INT(msg.text_len, 0);
    CHECK_INT(msg.id, id);
    CHECK_INT(msg.to_count, 2);
    CHECK_INT(msg.attempts, 1);
    CHECK_INT(msg.rcpt[1], STSM_RCPT_PENDING);
    CHECK_INT(msg.body_len, sizeof body - 1);
}

/* Recipients of `sum` bytes in all with their NULs, `n` of them, all different. */
static void long_recipients(char to[STSM_SMTP_MAX_RCPT][STSM_SMTP_ADDRESS_MAX + 1], const char **list, size_t n,
                            size_t sum)
{
    size_t domain = strlen("@example.com"), left = sum;
    for (size_t i = 0; i < n; i++) {
        size_t len = i + 1 < n ? sum / n - 1 : left - 1;
        memset(to[i], 'a' + (int)i, len - domain);
        memcpy(to[i] + len - domain, "@example.com", domain + 1);
        list[i] = to[i];
        left -= len + 1;
    }
}

static void test_text_limit(void)
{
    _Static_assert(STSM_OUTBOX_TEXT_MAX == STSM_OUTBOX_RECORD_MAX - 43 && STSM_SMTP_MAX_RCPT == 8 &&
                   STSM_MESSAGE_SUBJECT_MAX == 400, "the case below assumes the host's defaults");
    CHECK_CASE("key, recipients and subject: STSM_OUTBOX_TEXT_MAX fits, one byte more is refused naming it");
    fresh(defaults());
    static char to[STSM_SMTP_MAX_RCPT][STSM_SMTP_ADDRESS_MAX + 1], subject[STSM_MESSAGE_SUBJECT_MAX + 1];
    const char *list[STSM_SMTP_MAX_RCPT];
    memset(subject, 'S', STSM_MESSAGE_SUBJECT_MAX);
    size_t rcpt_bytes = STSM_OUTBOX_TEXT_MAX - 2 - (STSM_MESSAGE_SUBJECT_MAX + 1);   /* key "k", the subject */
    long_recipients(to, list, STSM_SMTP_MAX_RCPT, rcpt_bytes);
    /* That leaves no byte of the record for a body. */
    struct stsm_alert a = { "k", STSM_SEVERITY_INFO, subject, "", 0, list, STSM_SMTP_MAX_RCPT };
    char why[200] = "";
    uint32_t id = 0;
    CHECK_INT(stsm_outbox_raise(&ob, &a, NULL, 0, T0, 1, &id, NULL, NULL, why, sizeof why), STSM_OK);
    CHECK_INT(stsm_outbox_load(&ob, id, &msg, msg_text, sizeof msg_text), STSM_OK);
    CHECK_STR(msg.to[7], to[7]);
    CHECK_STR(msg.subject, subject);
    const uint8_t *p;
    size_t clen;
    static uint8_t c[STSM_OUTBOX_RECORD_MAX + 1];
    CHECK_INT(stsm_store_get(&store, 0x01000000u | id, &p, &clen), STSM_OK);
    CHECK_INT(clen, STSM_OUTBOX_RECORD_MAX);
    memcpy(c, p, clen);
    uint32_t stored = id;
    a.key = "k2";   /* one byte more */
    CHECK_INT(stsm_outbox_raise(&ob, &a, NULL, 0, T0, 1, &id, NULL, NULL, why, sizeof why), STSM_ERR_ARGUMENT);
    printf("  refused: %s\n", why);
    CHECK(has(why, "STSM_OUTBOX_TEXT_MAX"));
    a.key = "k";
    long_recipients(to, list, STSM_SMTP_MAX_RCPT, rcpt_bytes + 1);
    CHECK_INT(stsm_outbox_raise(&ob, &a, NULL, 0, T0, 1, &id, NULL, NULL, why, sizeof why), STSM_ERR_ARGUMENT);
    CHECK(has(why, "STSM_OUTBOX_TEXT_MAX"));

    CHECK_CASE("a stored message whose text is over STSM_OUTBOX_TEXT_MAX is corrupt");
    /* The record above, its first recipient one byte longer (after the 45 fixed bytes and
     * the key "k" comes its length byte). */
    memmove(c + 48, c + 47, clen - 47);
    c[46]++;
    CHECK_INT(stsm_outbox_decode(stored, c, clen + 1, NULL, 0, &msg, msg_text, sizeof msg_text), STSM_ERR_CORRUPT);
    memmove(c + 47, c + 48, clen - 47);
    c[46]--;
    CHECK_INT(stsm_outbox_decode(stored, c, clen, NULL, 0, &msg, msg_text, sizeof msg_text), STSM_OK);
}

static void corrupt_expect(const char *what, uint32_t id, const uint8_t *c, size_t clen, const uint8_t *s, size_t slen)
{
    CHECK_CASE(what);
    CHECK_INT(stsm_outbox_decode(id, c, clen, s, slen, &msg, msg_text, sizeof msg_text), STSM_ERR_CORRUPT);
}

static void test_decoder(void)
{
    CHECK_CASE("decoder");
    fresh(defaults());
    uint32_t id = raise_at("k", STSM_SEVERITY_WARNING, TO2, 2, T0, false);
    CHECK_INT(stsm_outbox_attempt_begins(&ob, id, T0), STSM_OK);
    struct stsm_smtp_result r = result(STSM_SMTP_FAILED, 550, "no");
    CHECK_INT(stsm_outbox_record(&ob, id, 0, &r, T0), STSM_OK);
    CHECK_INT(stsm_outbox_attempt_ends(&ob, id, T0, 0, NULL), STSM_OK);
    const uint8_t *p;
    size_t clen, slen;
    static uint8_t c[STSM_OUTBOX_RECORD_MAX + 1], s[256];
    CHECK_INT(stsm_store_get(&store, 0x01000000u | id, &p, &clen), STSM_OK);
    memcpy(c, p, clen);
    CHECK_INT(stsm_store_get(&store, 0x02000000u | id, &p, &slen), STSM_OK);
    memcpy(s, p, slen);
    CHECK_INT(stsm_outbox_decode(id, c, clen, s, slen, &msg, msg_text, sizeof msg_text), STSM_OK);
    CHECK_INT(stsm_outbox_decode(id, c, clen, NULL, 0, &msg, msg_text, sizeof msg_text), STSM_OK);   /* the initial state */
    CHECK_INT(msg.rcpt[0], STSM_RCPT_PENDING);

    for (size_t n = 0; n < clen; n++) {
        corrupt_expect("content cut short", id, c, n, s, slen);
    }
    for (size_t n = 0; n < slen; n++) {
        corrupt_expect("state cut short", id, c, clen, s, n);
    }
    corrupt_expect("another id", id + 1, c, clen, s, slen);
    c[clen] = 'x';
    corrupt_expect("content with a trailing byte", id, c, clen + 1, s, slen);
    s[slen] = 'x';
    corrupt_expect("state with a trailing byte", id, c, clen, s, slen + 1);

    struct { const char *what; size_t at; uint8_t value; bool state; } edits[] = {
        { "content type", 0, 0x02, false },
        { "content version", 1, 2, false },
        { "severity out of range", 6, 4, false },
        { "key longer than the record", 7, 200, false },
        { "no recipients", 8, 0, false },
        { "too many recipients", 8, STSM_SMTP_MAX_RCPT + 1, false },
        { "key not printable", 45, 0x01, false },
        { "recipient length past the end", 46, 250, false },
        { "recipient with a NUL", 47, 0, false },
        { "recipient with CR", 48, '\r', false },
        { "recipient not an address", 46 + 1 + 3, 'X', false },   /* ops@ -> opsX */
        { "state type", 0, 0x01, true },
        { "state version", 1, 0, true },
        { "state severity below the content's", 6, 0, true },
        { "state severity out of range", 6, 9, true },
        { "state recipient count differs", 7, 1, true },
        { "raised count zero", 15, 0, true },
        { "recipient state out of range", 48, 4, true },
        { "error text not printable", 51, '\n', true },
        { "error length past the end", 50, 100, true },
    };
    for (size_t i = 0; i < sizeof edits / sizeof edits[0]; i++) {
        uint8_t *buf = edits[i].state ? s : c;
        uint8_t old = buf[edits[i].at];
        buf[edits[i].at] = edits[i].value;
        corrupt_expect(edits[i].what, id, c, clen, s, slen);
        buf[edits[i].at] = old;
    }
    CHECK_CASE("decoder, every byte flipped");
    CHECK_INT(stsm_outbox_decode(id, c, clen, s, slen, &msg, msg_text, sizeof msg_text), STSM_OK);
    for (size_t i = 0; i < clen + slen; i++) {
        uint8_t *b = i < clen ? &c[i] : &s[i - clen];
        for (unsigned bit = 0; bit < 8; bit++) {
            *b ^= (uint8_t)(1u << bit);
            stsm_status_t st = stsm_outbox_decode(id, c, clen, s, slen, &msg, msg_text, sizeof msg_text);
            CHECK(st == STSM_OK || st == STSM_ERR_CORRUPT);
            *b ^= (uint8_t)(1u << bit);
        }
    }
}

/* ---- validation ------------------------------------------------------------------------ */

static void test_validation(void)
{
    fresh(defaults());
    static char long_key[STSM_OUTBOX_KEY_MAX + 2], max_key[STSM_OUTBOX_KEY_MAX + 1];
    memset(long_key, 'k', STSM_OUTBOX_KEY_MAX + 1);
    memset(max_key, 'k', STSM_OUTBOX_KEY_MAX);
    static char big_body[STSM_OUTBOX_RECORD_MAX];
    memset(big_body, 'b', sizeof big_body - 1);
    const char *const bad_to[] = { "not an address" };
    const char *const inject_to[] = { "ops@example.com\r\nRCPT TO:<x@example.com>" };
    const char *const twice[] = { "ops@example.com", "ops@example.com" };
    const char *const nine[] = { "a@example.com", "b@example.com", "c@example.com", "d@example.com", "e@example.com",
                                 "f@example.com", "g@example.com", "h@example.com", "i@example.com" };
    const char *const empty_domain[] = { "ops@" };
    struct {
        const char *what, *key;
        int severity;
        const char *subject, *body;
        const char *const *to;
        size_t to_count, default_count;
        const char *why;
    } cases[] = {
        { "empty key", "", 0, "s", "b", NULL, 0, 1, "key" },
        { "key too long", long_key, 0, "s", "b", NULL, 0, 1, "key" },
        { "key with a control byte", "disk\x01", 0, "s", "b", NULL, 0, 1, "key" },
        { "key not ASCII", "d\xc3\xa9", 0, "s", "b", NULL, 0, 1, "key" },
        { "severity out of range", "k", 4, "s", "b", NULL, 0, 1, "severity" },
        { "bad recipient", "k", 0, "s", "b", bad_to, 1, 1, "recipient" },
        { "recipient with CRLF", "k", 0, "s", "b", inject_to, 1, 1, "recipient" },
        { "empty domain", "k", 0, "s", "b", empty_domain, 1, 1, "recipient" },
        { "recipient twice", "k", 0, "s", "b", twice, 2, 1, "twice" },
        { "nine recipients", "k", 0, "s", "b", nine, 9, 1, "recipients" },
        { "no recipients at all", "k", 0, "s", "b", NULL, 0, 0, "recipients" },
        { "subject with CRLF", "k", 0, "s\r\nBcc: x@example.com", "b", NULL, 0, 1, "subject" },
        { "subject not UTF-8", "k", 0, "s\xff", "b", NULL, 0, 1, "subject" },
        { "body not UTF-8", "k", 0, "s", "b\xc3", NULL, 0, 1, "body" },
        { "body too long", "k", 0, "s", big_body, NULL, 0, 1, "body" },
    };
    size_t keys = stsm_store_count(&store);
    uint32_t written = stsm_store_stats(&store)->records_written;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        CHECK_CASE(cases[i].what);
        struct stsm_alert a = { cases[i].key, (enum stsm_severity)cases[i].severity, cases[i].subject, cases[i].body,
                                strlen(cases[i].body), cases[i].to, cases[i].to_count };
        char why[200] = "";
        uint32_t id = 5;
        bool coalesced = true;
        uint32_t dropped = 5;
        CHECK_INT(stsm_outbox_raise(&ob, &a, TO1, cases[i].default_count, T0, 1, &id, &coalesced, &dropped, why,
                                    sizeof why),
                  STSM_ERR_ARGUMENT);
        if (!has(why, cases[i].why)) {
            printf("  why: %s\n", why);
        }
        CHECK(has(why, cases[i].why));
        CHECK_INT(id, 0);
        CHECK_INT(dropped, 0);
        CHECK(!coalesced);
    }
    CHECK_CASE("refusals change nothing");
    CHECK_INT(stsm_outbox_count(&ob), 0);
    CHECK_INT(stsm_store_count(&store), keys);
    CHECK_INT(stsm_store_stats(&store)->records_written, written);

    CHECK_CASE("the longest key and the default recipients");
    uint32_t id = raise_at(max_key, STSM_SEVERITY_INFO, NULL, 0, T0, false);
    CHECK_INT(stsm_outbox_load(&ob, id, &msg, msg_text, sizeof msg_text), STSM_OK);
    CHECK_STR(msg.key, max_key);
    CHECK_INT(msg.to_count, 1);
    CHECK_STR(msg.to[0], "ops@example.com");

    CHECK_CASE("the longest body fits, one more byte does not");
    /* content: 45 fixed bytes, key "k", one recipient (length byte + 15), subject 16 */
    size_t fixed = 45 + 1 + 1 + strlen(TO1[0]) + strlen("Disk almost full");
    size_t max_body = STSM_OUTBOX_RECORD_MAX - fixed;
    big_body[max_body] = '\0';
    CHECK_INT(raise_ex("k", STSM_SEVERITY_INFO, NULL, 0, T0, big_body, &id, NULL, NULL), STSM_OK);
    CHECK_INT(stsm_outbox_load(&ob, id, &msg, msg_text, sizeof msg_text), STSM_OK);
    CHECK_INT(msg.body_len, max_body);
    big_body[max_body] = 'b';
    big_body[max_body + 1] = '\0';
    CHECK_INT(raise_ex("k", STSM_SEVERITY_INFO, NULL, 0, T0, big_body, &id, NULL, NULL), STSM_ERR_ARGUMENT);
}

/* ---- ids ---------------------------------------------------------------------------- */

static void test_ids(void)
{
    CHECK_CASE("ids");
    fresh(defaults());
    uint32_t last = 0;
    /* Raises, drops and reboots in a pattern that deletes the newest message often. */
    for (unsigned i = 0; i < 120; i++) {
        uint32_t id = raise_at(NULL, STSM_SEVERITY_INFO, TO1, 1, T0 + i, false);
        CHECK(id > last);
        last = id;
        if (i % 3 != 1) {
            CHECK_INT(stsm_outbox_drop(&ob, id), STSM_OK);
        }
        if (stsm_outbox_count(&ob) >= STSM_OUTBOX_MAX - 1) {
            CHECK_INT(stsm_outbox_drop(&ob, stsm_outbox_id_at(&ob, 0)), STSM_OK);
        }
        if (i % 7 == 3) {
            reboot();
        }
    }
    CHECK_CASE("the last message dropped, then a reboot: its id is not given again");
    uint32_t id = raise_at(NULL, STSM_SEVERITY_INFO, TO1, 1, T0, false);
    CHECK_INT(stsm_outbox_drop(&ob, id), STSM_OK);
    while (stsm_outbox_count(&ob) > 0) {
        CHECK_INT(stsm_outbox_drop(&ob, stsm_outbox_id_at(&ob, 0)), STSM_OK);
    }
    reboot();
    CHECK(raise_at(NULL, STSM_SEVERITY_INFO, TO1, 1, T0, false) > id);
    CHECK_INT(stsm_outbox_drop(&ob, 999999), STSM_ERR_NOT_FOUND);
    CHECK_INT(stsm_outbox_drop(&ob, 0), STSM_ERR_NOT_FOUND);
}

/* ---- retries and outcomes ------------------------------------------------------------ */

static void test_backoff(void)
{
    CHECK_CASE("backoff doubles to the maximum, jitter within 10%");
    fresh(defaults());
    uint32_t id = raise_at(NULL, STSM_SEVERITY_INFO, TO1, 1, T0, false);
    int64_t now = T0;
    for (uint32_t n = 1; n <= 10; n++) {
        uint32_t d = 60u << (n - 1);
        d = d > 3600 ? 3600 : d;
        uint32_t spread = d / 10;
        uint32_t randoms[] = { spread, 0, 2 * spread, 2 * spread + 1, 0xFFFFFFFFu };
        uint32_t r = randoms[n % 5];
        attempt(id, now, STSM_SMTP_DEFERRED, r);
        CHECK_INT(stsm_outbox_load(&ob, id, &msg, msg_text, sizeof msg_text), STSM_OK);
        CHECK_INT(msg.attempts, n);
        int64_t delay = msg.next_attempt - now;
        int64_t expect = (int64_t)d - spread + (int64_t)(r % (2 * spread + 1));
        CHECK_INT(delay, expect);
        CHECK(delay * 10 >= (int64_t)d * 9 && delay * 10 <= (int64_t)d * 11);
        CHECK_STR(msg.last_error, "451 try later");
        now = msg.next_attempt;
    }

    CHECK_CASE("the last try is at the deadline; then the recipients are given up");
    struct stsm_outbox_config c = defaults();
    c.give_up_s = 1000;
    fresh(c);
    id = raise_at(NULL, STSM_SEVERITY_INFO, TO2, 2, T0, false);
    CHECK_INT(stsm_outbox_attempt_begins(&ob, id, T0 + 900), STSM_OK);
    record(id, 0, STSM_SMTP_DELIVERED, 250, T0 + 900);
    record(id, 1, STSM_SMTP_DEFERRED, 451, T0 + 900);
    enum stsm_rcpt_state states[STSM_SMTP_MAX_RCPT];
    CHECK_INT(stsm_outbox_attempt_ends(&ob, id, T0 + 999, 6, states), STSM_OK);
    CHECK_INT(states[0], STSM_RCPT_DELIVERED);
    CHECK_INT(states[1], STSM_RCPT_PENDING);
    CHECK_INT(stsm_outbox_load(&ob, id, &msg, msg_text, sizeof msg_text), STSM_OK);
    CHECK_INT(msg.next_attempt, T0 + 1000);   /* 60 s later would be past the deadline */
    CHECK_INT(stsm_outbox_attempt_begins(&ob, id, T0 + 1000), STSM_OK);
    record(id, 1, STSM_SMTP_DEFERRED, 421, T0 + 1000);
    CHECK_INT(stsm_outbox_attempt_ends(&ob, id, T0 + 1000, 0, states), STSM_OK);
    CHECK_INT(states[0], STSM_RCPT_DELIVERED);
    CHECK_INT(states[1], STSM_RCPT_GAVE_UP);
    CHECK_INT(stsm_outbox_count(&ob), 0);   /* all ended, no key: deleted */

    CHECK_CASE("nothing is given up while the clock is unknown");
    fresh(c);
    id = raise_at(NULL, STSM_SEVERITY_INFO, TO1, 1, 0, false);
    attempt(id, 0, STSM_SMTP_DEFERRED, 0);
    CHECK_INT(stsm_outbox_count(&ob), 1);
    CHECK_INT(stsm_outbox_clock_known(&ob, T0), STSM_OK);
    CHECK_INT(stsm_outbox_load(&ob, id, &msg, msg_text, sizeof msg_text), STSM_OK);
    CHECK_INT(msg.first_queued, T0);
    CHECK_INT(msg.first_raised, T0);
    CHECK_INT(msg.last_raised, T0);
    attempt(id, T0 + 999, STSM_SMTP_DEFERRED, 0);
    CHECK_INT(stsm_outbox_count(&ob), 1);
    attempt(id, T0 + 1000, STSM_SMTP_DEFERRED, 0);
    CHECK_INT(stsm_outbox_count(&ob), 0);
}

static void test_outcomes(void)
{
    CHECK_CASE("5xx fails one recipient, its reason kept; the other goes on");
    fresh(defaults());
    uint32_t id = raise_at(NULL, STSM_SEVERITY_ERROR, TO2, 2, T0, false);
    CHECK_INT(stsm_outbox_attempt_begins(&ob, id, T0), STSM_OK);
    struct stsm_smtp_result r = result(STSM_SMTP_FAILED, 550, "5.1.1 mailbox unknown");
    CHECK_INT(stsm_outbox_record(&ob, id, 0, &r, T0), STSM_OK);
    CHECK_INT(stsm_outbox_load(&ob, id, &msg, msg_text, sizeof msg_text), STSM_OK);
    CHECK_STR(msg.last_error, "550 5.1.1 mailbox unknown");
    record(id, 1, STSM_SMTP_DEFERRED, 451, T0);
    CHECK_INT(stsm_outbox_load(&ob, id, &msg, msg_text, sizeof msg_text), STSM_OK);
    CHECK_INT(msg.rcpt[1], STSM_RCPT_PENDING);
    CHECK_INT(stsm_outbox_attempt_ends(&ob, id, T0, 0, NULL), STSM_OK);
    reboot();
    CHECK_INT(stsm_outbox_load(&ob, id, &msg, msg_text, sizeof msg_text), STSM_OK);
    CHECK_INT(msg.rcpt[0], STSM_RCPT_FAILED);
    CHECK_INT(msg.rcpt[1], STSM_RCPT_PENDING);
    CHECK_STR(msg.last_error, "451 try later");

    CHECK_CASE("a recipient delivered is never pending again");
    CHECK_INT(stsm_outbox_attempt_begins(&ob, id, T0 + 60), STSM_OK);
    record(id, 1, STSM_SMTP_DELIVERED, 250, T0 + 60);
    record(id, 1, STSM_SMTP_DEFERRED, 421, T0 + 60);   /* a late deferral changes nothing */
    r = result(STSM_SMTP_FAILED, 554, "late");
    CHECK_INT(stsm_outbox_record(&ob, id, 1, &r, T0 + 60), STSM_OK);
    CHECK_INT(stsm_outbox_record(&ob, id, 0, &r, T0 + 60), STSM_OK);   /* failed stays failed */
    CHECK_INT(stsm_outbox_load(&ob, id, &msg, msg_text, sizeof msg_text), STSM_OK);
    CHECK_INT(msg.rcpt[0], STSM_RCPT_FAILED);
    CHECK_INT(msg.rcpt[1], STSM_RCPT_DELIVERED);
    CHECK_STR(msg.last_error, "451 try later");   /* the latest reason */
    enum stsm_rcpt_state states[STSM_SMTP_MAX_RCPT];
    CHECK_INT(stsm_outbox_attempt_ends(&ob, id, T0 + 60, 0, states), STSM_OK);
    CHECK_INT(states[0], STSM_RCPT_FAILED);
    CHECK_INT(states[1], STSM_RCPT_DELIVERED);
    CHECK_INT(stsm_outbox_count(&ob), 0);

    CHECK_CASE("a refusal is written with the next write; a delivery at once");
    fresh(defaults());
    const char *const to3[] = { "a@example.com", "b@example.com", "c@example.com" };
    id = raise_at(NULL, STSM_SEVERITY_ERROR, to3, 3, T0, false);
    CHECK_INT(stsm_outbox_attempt_begins(&ob, id, T0), STSM_OK);
    uint32_t written = stsm_store_stats(&store)->records_written;
    r = result(STSM_SMTP_FAILED, 550, "refused");
    CHECK_INT(stsm_outbox_record(&ob, id, 0, &r, T0), STSM_OK);
    record(id, 2, STSM_SMTP_DEFERRED, 451, T0);
    CHECK_INT(stsm_store_stats(&store)->records_written, written);   /* the body has not moved */
    CHECK_INT(stsm_outbox_load(&ob, id, &msg, msg_text, sizeof msg_text), STSM_OK);
    CHECK_INT(msg.rcpt[0], STSM_RCPT_FAILED);   /* load shows it */
    CHECK_STR(msg.last_error, "451 try later");
    record(id, 1, STSM_SMTP_DELIVERED, 250, T0);
    CHECK(stsm_store_stats(&store)->records_written > written);
    reboot();   /* a cut before the attempt's end: the refusal came with the delivery */
    CHECK_INT(stsm_outbox_load(&ob, id, &msg, msg_text, sizeof msg_text), STSM_OK);
    CHECK_INT(msg.rcpt[0], STSM_RCPT_FAILED);
    CHECK_INT(msg.rcpt[1], STSM_RCPT_DELIVERED);
    CHECK_INT(msg.rcpt[2], STSM_RCPT_PENDING);
    CHECK_INT(stsm_outbox_attempt_begins(&ob, id, T0 + 60), STSM_OK);
    r = result(STSM_SMTP_FAILED, 552, "too big");
    CHECK_INT(stsm_outbox_record(&ob, id, 2, &r, T0 + 60), STSM_OK);
    reboot();   /* a cut before anything else was written: tried again next time */
    CHECK_INT(stsm_outbox_load(&ob, id, &msg, msg_text, sizeof msg_text), STSM_OK);
    CHECK_INT(msg.rcpt[2], STSM_RCPT_PENDING);
    CHECK_INT(stsm_outbox_attempt_begins(&ob, id, T0 + 120), STSM_OK);
    CHECK_INT(stsm_outbox_record(&ob, id, 2, &r, T0 + 120), STSM_OK);
    enum stsm_rcpt_state ends[STSM_SMTP_MAX_RCPT];
    CHECK_INT(stsm_outbox_attempt_ends(&ob, id, T0 + 120, 0, ends), STSM_OK);
    CHECK_INT(ends[0], STSM_RCPT_FAILED);
    CHECK_INT(ends[1], STSM_RCPT_DELIVERED);
    CHECK_INT(ends[2], STSM_RCPT_FAILED);
    CHECK_INT(stsm_outbox_count(&ob), 0);

    CHECK_CASE("arguments");
    id = raise_at(NULL, STSM_SEVERITY_ERROR, TO1, 1, T0, false);
    CHECK_INT(stsm_outbox_record(&ob, id, 1, &r, T0), STSM_ERR_ARGUMENT);
    CHECK_INT(stsm_outbox_record(&ob, id, 0, NULL, T0), STSM_ERR_ARGUMENT);
    CHECK_INT(stsm_outbox_record(&ob, id + 1, 0, &r, T0), STSM_ERR_NOT_FOUND);
    CHECK_INT(stsm_outbox_attempt_begins(&ob, id + 1, T0), STSM_ERR_NOT_FOUND);
    CHECK_INT(stsm_outbox_attempt_ends(&ob, id + 1, T0, 0, NULL), STSM_ERR_NOT_FOUND);

    CHECK_CASE("flush is stored");
    attempt(id, T0, STSM_SMTP_DEFERRED, 0);
    uint32_t due = 0, wait = 0;
    CHECK_INT(stsm_outbox_next_due(&ob, T0 + 1, &due, &wait), STSM_ERR_NOT_FOUND);
    CHECK_INT(stsm_outbox_flush(&ob), STSM_OK);
    reboot();
    CHECK_INT(stsm_outbox_next_due(&ob, T0 + 1, &due, &wait), STSM_OK);
    CHECK_INT(due, id);
    CHECK_CASE("retry_now: the retry wait ends in RAM only, a coalescing hold stays");
    fresh(defaults());
    uint32_t tried = raise_at("fan", STSM_SEVERITY_WARNING, TO1, 1, T0, false);
    attempt(tried, T0, STSM_SMTP_DEFERRED, 0);
    uint32_t held = raise_at("fan", STSM_SEVERITY_WARNING, TO1, 1, T0 + 1, false);   /* the window's follow-up */
    CHECK_INT(stsm_outbox_next_due(&ob, T0 + 2, &due, &wait), STSM_ERR_NOT_FOUND);
    stsm_outbox_retry_now(&ob);
    CHECK_INT(stsm_outbox_next_due(&ob, T0 + 2, &due, &wait), STSM_OK);
    CHECK_INT(due, tried);
    attempt(tried, T0 + 2, STSM_SMTP_DEFERRED, 0);
    CHECK_INT(stsm_outbox_next_due(&ob, T0 + 3, &due, &wait), STSM_ERR_NOT_FOUND);   /* held stays held */
    CHECK(wait > 1);
    reboot();   /* nothing was written: a reboot waits again */
    CHECK_INT(stsm_outbox_next_due(&ob, T0 + 3, &due, &wait), STSM_ERR_NOT_FOUND);
    CHECK_CASE("flush after retry_now still writes (another process must see it)");
    stsm_outbox_retry_now(&ob);
    CHECK_INT(stsm_outbox_flush(&ob), STSM_OK);
    reboot();
    CHECK_INT(stsm_outbox_next_due(&ob, T0 + 3, &due, &wait), STSM_OK);
    (void)held;
}

/* ---- coalescing ----------------------------------------------------------------------- */

static void test_storm(void)
{
    CHECK_CASE("1000 identical raises in a minute, window 300 s");
    fresh(defaults());
    uint32_t first = raise_at("temp-high", STSM_SEVERITY_WARNING, TO1, 1, T0, false);
    uint32_t due = 0, wait = 0;
    CHECK_INT(stsm_outbox_next_due(&ob, T0, &due, &wait), STSM_OK);
    CHECK_INT(due, first);
    CHECK_INT(stsm_outbox_attempt_begins(&ob, first, T0), STSM_OK);
    uint32_t follow = 0;
    for (int i = 1; i < 1000; i++) {
        int64_t t = T0 + i * 60 / 1000;
        uint32_t id = raise_at("temp-high", STSM_SEVERITY_WARNING, TO1, 1, t, i > 1);
        if (i == 1) {
            follow = id;
        }
        CHECK_INT(id, follow);
    }
    record(first, 0, STSM_SMTP_DELIVERED, 250, T0 + 1);
    CHECK_INT(stsm_outbox_attempt_ends(&ob, first, T0 + 1, 0, NULL), STSM_OK);
    reboot();
    CHECK_INT(stsm_outbox_count(&ob), 2);   /* the first is kept as the window's anchor */
    CHECK_INT(stsm_outbox_pending_count(&ob), 1);   /* ... and is not waiting for anything */
    CHECK_INT(stsm_outbox_load(&ob, first, &msg, msg_text, sizeof msg_text), STSM_OK);
    CHECK_INT(msg.raised_count, 1);
    CHECK(!msg.follow_up);
    CHECK_INT(msg.window_start, T0);
    CHECK_INT(msg.rcpt[0], STSM_RCPT_DELIVERED);
    CHECK_INT(stsm_outbox_load(&ob, follow, &msg, msg_text, sizeof msg_text), STSM_OK);
    CHECK_INT(msg.raised_count, 999);
    CHECK(msg.follow_up);
    CHECK_INT(msg.window_start, T0);
    CHECK_INT(msg.first_raised, T0);   /* i = 1..16 fall in the first second */
    CHECK_INT(msg.last_raised, T0 + 59);
    CHECK_INT(msg.next_attempt, T0 + 300);
    CHECK_INT(stsm_outbox_next_due(&ob, T0 + 60, &due, &wait), STSM_ERR_NOT_FOUND);
    CHECK_INT(wait, 240);
    CHECK_INT(stsm_outbox_next_due(&ob, T0 + 299, &due, &wait), STSM_ERR_NOT_FOUND);
    CHECK_INT(wait, 1);
    CHECK_INT(stsm_outbox_next_due(&ob, T0 + 300, &due, &wait), STSM_OK);
    CHECK_INT(due, follow);
    CHECK_INT(stsm_outbox_tidy(&ob, T0 + 299), STSM_OK);
    CHECK_INT(stsm_outbox_count(&ob), 2);
    CHECK_INT(stsm_outbox_tidy(&ob, T0 + 300), STSM_OK);   /* the anchor's window is over */
    CHECK_INT(stsm_outbox_count(&ob), 1);
    CHECK_INT(stsm_outbox_id_at(&ob, 0), follow);
    attempt(follow, T0 + 300, STSM_SMTP_DELIVERED, 0);
    CHECK_INT(stsm_outbox_count(&ob), 0);   /* its window (opened at T0) is over too */
}

static void test_coalesce_rules(void)
{
    CHECK_CASE("raises before the first attempt count into the first message");
    fresh(defaults());
    uint32_t a = raise_at("k", STSM_SEVERITY_INFO, TO1, 1, T0, false);
    CHECK_INT(raise_at("k", STSM_SEVERITY_CRITICAL, TO1, 1, T0 + 10, true), a);
    CHECK_INT(stsm_outbox_load(&ob, a, &msg, msg_text, sizeof msg_text), STSM_OK);
    CHECK_INT(msg.raised_count, 2);
    CHECK_INT(msg.first_raised, T0);
    CHECK_INT(msg.last_raised, T0 + 10);
    CHECK_INT(msg.severity, STSM_SEVERITY_CRITICAL);   /* raised to the highest */
    CHECK_INT(msg.next_attempt, 0);

    CHECK_CASE("other keys, no key, other recipients: separate messages");
    CHECK(raise_at("k2", STSM_SEVERITY_INFO, TO1, 1, T0 + 11, false) != a);
    uint32_t n1 = raise_at(NULL, STSM_SEVERITY_INFO, TO1, 1, T0 + 12, false);
    uint32_t n2 = raise_at(NULL, STSM_SEVERITY_INFO, TO1, 1, T0 + 12, false);
    CHECK(n1 != n2);
    CHECK(raise_at("k", STSM_SEVERITY_INFO, TO2, 2, T0 + 13, false) != a);
    CHECK_INT(stsm_outbox_count(&ob), 5);

    CHECK_CASE("window 0 never coalesces");
    struct stsm_outbox_config c = defaults();
    c.coalesce_window_s = 0;
    fresh(c);
    a = raise_at("k", STSM_SEVERITY_INFO, TO1, 1, T0, false);
    CHECK(raise_at("k", STSM_SEVERITY_INFO, TO1, 1, T0, false) != a);

    CHECK_CASE("clock unknown: raises at time 0 coalesce");
    fresh(defaults());
    a = raise_at("k", STSM_SEVERITY_INFO, TO1, 1, 0, false);
    CHECK_INT(raise_at("k", STSM_SEVERITY_INFO, TO1, 1, 0, true), a);
    CHECK(raise_at("k", STSM_SEVERITY_INFO, TO1, 1, T0, false) != a);   /* a window at 0 is over once known */

    static const int64_t offsets[] = { 299, 300, 301 };
    for (int attempted = 0; attempted < 2; attempted++) {
        for (size_t i = 0; i < 3; i++) {
            CHECK_CASE(attempted ? "window boundary, first attempted" : "window boundary, first not attempted");
            fresh(defaults());
            a = raise_at("k", STSM_SEVERITY_INFO, TO1, 1, T0, false);
            if (attempted) {
                CHECK_INT(stsm_outbox_attempt_begins(&ob, a, T0), STSM_OK);
            }
            bool inside = offsets[i] < 300;
            uint32_t b = raise_at("k", STSM_SEVERITY_INFO, TO1, 1, T0 + offsets[i], inside && !attempted);
            CHECK_INT(b == a, inside && !attempted);
            CHECK_INT(stsm_outbox_load(&ob, b, &msg, msg_text, sizeof msg_text), STSM_OK);
            CHECK_INT(msg.next_attempt, inside && attempted ? T0 + 300 : 0);
            CHECK_INT(msg.raised_count, b == a ? 2 : 1);
            /* a later raise inside the new message's window joins it when it opened one */
            if (!inside) {
                CHECK_INT(raise_at("k", STSM_SEVERITY_INFO, TO1, 1, T0 + offsets[i] + 299, true), b);
            }
        }
    }

    CHECK_CASE("a follow-up attempted early (flush): the next raise makes another, held");
    fresh(defaults());
    a = raise_at("k", STSM_SEVERITY_INFO, TO1, 1, T0, false);
    CHECK_INT(stsm_outbox_attempt_begins(&ob, a, T0), STSM_OK);
    uint32_t f1 = raise_at("k", STSM_SEVERITY_INFO, TO1, 1, T0 + 5, false);
    CHECK_INT(stsm_outbox_flush(&ob), STSM_OK);
    CHECK_INT(stsm_outbox_attempt_begins(&ob, f1, T0 + 6), STSM_OK);
    uint32_t f2 = raise_at("k", STSM_SEVERITY_INFO, TO1, 1, T0 + 7, false);
    CHECK(f2 != f1 && f2 != a);
    CHECK_INT(stsm_outbox_load(&ob, f2, &msg, msg_text, sizeof msg_text), STSM_OK);
    CHECK_INT(msg.next_attempt, T0 + 300);
    CHECK_INT(raise_at("k", STSM_SEVERITY_INFO, TO1, 1, T0 + 8, true), f2);

    CHECK_CASE("the anchor gone (dropped), the follow-up still holds the window");
    CHECK_INT(stsm_outbox_drop(&ob, a), STSM_OK);
    CHECK_INT(stsm_outbox_drop(&ob, f1), STSM_OK);
    CHECK_INT(raise_at("k", STSM_SEVERITY_INFO, TO1, 1, T0 + 9, true), f2);
}

/* Another process wrote the store (stsmail enqueue beside stsmail run): reading it again
 * keeps what lives in RAM only. Each check fails when reload is a plain reopen. */
static void test_reload(void)
{
    CHECK_CASE("reload keeps a refusal held for the attempt under way");
    fresh(defaults());
    uint32_t id = raise_at(NULL, STSM_SEVERITY_INFO, TO2, 2, T0, false);
    CHECK_INT(stsm_outbox_attempt_begins(&ob, id, T0), STSM_OK);
    record(id, 0, STSM_SMTP_FAILED, 550, T0);   /* held until the attempt's end */
    uint32_t bad = 99;
    CHECK_INT(stsm_outbox_reload(&ob, &bad), STSM_OK);
    CHECK_INT(bad, 0);
    record(id, 1, STSM_SMTP_DELIVERED, 250, T0);
    CHECK_INT(stsm_outbox_attempt_ends(&ob, id, T0, 0, NULL), STSM_OK);
    CHECK_INT(stsm_outbox_count(&ob), 0);   /* both ended: the 550 was not lost */

    CHECK_CASE("reload keeps the domain cap's memory");
    struct stsm_outbox_config c = defaults();
    c.domain_hourly_cap = 1;
    fresh(c);
    uint32_t first = raise_at(NULL, STSM_SEVERITY_INFO, TO1, 1, T0, false);
    attempt(first, T0, STSM_SMTP_DELIVERED, 0);
    uint32_t second = raise_at(NULL, STSM_SEVERITY_INFO, TO1, 1, T0 + 1, false);
    CHECK_INT(stsm_outbox_reload(&ob, NULL), STSM_OK);
    uint32_t due = 0, wait = 0;
    CHECK_INT(stsm_outbox_next_due(&ob, T0 + 2, &due, &wait), STSM_ERR_NOT_FOUND);
    CHECK_INT(wait, 3598);
    (void)second;

    CHECK_CASE("reload keeps the waits retry_now ended");
    fresh(defaults());
    id = raise_at(NULL, STSM_SEVERITY_INFO, TO1, 1, T0, false);
    attempt(id, T0, STSM_SMTP_DEFERRED, 0);
    stsm_outbox_retry_now(&ob);
    CHECK_INT(stsm_outbox_reload(&ob, NULL), STSM_OK);
    CHECK_INT(stsm_outbox_next_due(&ob, T0 + 1, &due, &wait), STSM_OK);
    CHECK_INT(due, id);

    CHECK_CASE("reload sees what another writer stored");
    fresh(defaults());
    static struct stsm_store other_store;
    static struct stsm_outbox other;
    CHECK_INT(stsm_store_mount(&other_store, &sim.area), STSM_OK);
    CHECK_INT(stsm_outbox_open(&other, &other_store, &cfg, NULL), STSM_OK);
    struct stsm_alert a = { "k", STSM_SEVERITY_INFO, "from another process", "body", 4, TO1, 1 };
    uint32_t other_id = 0, dropped = 0;
    bool coalesced = false;
    char why[120];
    CHECK_INT(stsm_outbox_raise(&other, &a, NULL, 0, T0, 1, &other_id, &coalesced, &dropped, why, sizeof why),
              STSM_OK);
    CHECK_INT(stsm_store_mount(&store, &sim.area), STSM_OK);
    CHECK_INT(stsm_outbox_reload(&ob, NULL), STSM_OK);
    CHECK_INT(stsm_outbox_count(&ob), 1);
    CHECK_INT(stsm_outbox_id_at(&ob, 0), other_id);
}

/* ---- the domain cap --------------------------------------------------------------------- */

static void test_cap(void)
{
    const uint32_t N = 3;
    const char *const to_a[] = { "ops@a.example" };
    const char *const to_a_upper[] = { "noc@A.EXAMPLE" };
    const char *const to_b[] = { "ops@b.example" };
    const char *const to_ab[] = { "x@b.example", "y@a.example" };
    struct stsm_outbox_config c = defaults();
    c.domain_hourly_cap = N;
    fresh(c);
    uint32_t ids[6];
    for (size_t i = 0; i < 5; i++) {
        ids[i] = raise_at(NULL, STSM_SEVERITY_INFO, i % 2 ? to_a_upper : to_a, 1, T0, false);
    }
    uint32_t due = 0, wait = 0;
    for (uint32_t k = 0; k <= N; k++) {
        CHECK_CASE(k < N - 1 ? "cap: fewer than N-1 started" : k == N - 1 ? "cap: N-1 started" : "cap: N started");
        stsm_status_t st = stsm_outbox_next_due(&ob, T0 + 10 * k, &due, &wait);
        if (k < N) {
            CHECK_INT(st, STSM_OK);
            CHECK_INT(due, ids[k]);
            attempt(due, T0 + 10 * k, STSM_SMTP_DEFERRED, 6);   /* again 60 s later */
        } else {
            CHECK_INT(st, STSM_ERR_NOT_FOUND);
            CHECK_INT(wait, 30);   /* ids[0]'s retry; the others wait for the hour */
        }
    }
    CHECK_CASE("cap: another domain is not held, nor is a retry");
    ids[5] = raise_at(NULL, STSM_SEVERITY_INFO, to_b, 1, T0 + 40, false);
    CHECK_INT(stsm_outbox_next_due(&ob, T0 + 40, &due, &wait), STSM_OK);
    CHECK_INT(due, ids[5]);
    attempt(ids[5], T0 + 40, STSM_SMTP_DELIVERED, 0);
    CHECK_INT(stsm_outbox_next_due(&ob, T0 + 100, &due, &wait), STSM_OK);
    CHECK_INT(due, ids[0]);   /* its retry (at T0 + 60) is not held */
    CHECK_CASE("cap: a message with a capped domain among its recipients waits");
    uint32_t mixed = raise_at(NULL, STSM_SEVERITY_CRITICAL, to_ab, 2, T0 + 41, false);
    for (size_t i = 0; i < N; i++) {
        attempt(ids[i], T0 + 100, STSM_SMTP_DELIVERED, 0);
    }
    CHECK_INT(stsm_outbox_next_due(&ob, T0 + 100, &due, &wait), STSM_ERR_NOT_FOUND);
    CHECK_INT(wait, 3500);
    CHECK_CASE("cap: N+1-th start once the first is an hour old");
    CHECK_INT(stsm_outbox_next_due(&ob, T0 + 3600, &due, &wait), STSM_OK);
    CHECK_INT(due, mixed);   /* critical first */
    attempt(mixed, T0 + 3600, STSM_SMTP_DEFERRED, 6);
    CHECK_INT(stsm_outbox_next_due(&ob, T0 + 3600, &due, &wait), STSM_ERR_NOT_FOUND);
    CHECK_INT(wait, 10);
    CHECK_INT(stsm_outbox_next_due(&ob, T0 + 3610, &due, &wait), STSM_OK);
    CHECK_INT(due, ids[3]);
}

/* ---- full ----------------------------------------------------------------------------- */

static void test_full_count(void)
{
    CHECK_CASE("capacity N-1, N, N+1");
    fresh(defaults());
    for (unsigned i = 0; i < STSM_OUTBOX_MAX; i++) {
        raise_at(NULL, STSM_SEVERITY_WARNING, TO1, 1, T0 + i, false);
        CHECK_INT(stsm_outbox_count(&ob), i + 1);
    }
    uint32_t written = stsm_store_stats(&store)->records_written;
    uint32_t id = 7, dropped = 7;
    CHECK_INT(raise_ex(NULL, STSM_SEVERITY_CRITICAL, TO1, 1, T0, "b", &id, NULL, &dropped), STSM_ERR_FULL);
    CHECK_INT(id, 0);
    CHECK_INT(dropped, 0);
    CHECK_INT(stsm_outbox_count(&ob), STSM_OUTBOX_MAX);
    CHECK_INT(stsm_store_stats(&store)->records_written, written);

    /* Every mix of kept and raised severity, with drop_lower. */
    struct stsm_outbox_config c = defaults();
    c.drop_lower_when_full = true;
    for (int kept = 0; kept < STSM_SEVERITY_COUNT; kept++) {
        for (int raised = 0; raised < STSM_SEVERITY_COUNT; raised++) {
            CHECK_CASE("drop_lower, one severity kept");
            fresh(c);
            for (unsigned i = 0; i < STSM_OUTBOX_MAX; i++) {
                raise_at(NULL, (enum stsm_severity)kept, TO1, 1, T0 + i, false);
            }
            written = stsm_store_stats(&store)->records_written;
            stsm_status_t st = raise_ex(NULL, (enum stsm_severity)raised, TO1, 1, T0, "b", &id, NULL, &dropped);
            if (kept < raised) {
                CHECK_INT(st, STSM_OK);
                CHECK_INT(dropped, 1);   /* the oldest */
                CHECK_INT(stsm_outbox_id_at(&ob, 0), 2);
            } else {
                CHECK_INT(st, STSM_ERR_FULL);
                CHECK_INT(dropped, 0);
                CHECK_INT(stsm_store_stats(&store)->records_written, written);
            }
            CHECK_INT(stsm_outbox_count(&ob), STSM_OUTBOX_MAX);
        }
    }
    CHECK_CASE("drop_lower, a mix: the oldest strictly lower goes");
    fresh(c);
    static const int mix[STSM_OUTBOX_MAX] = { 3, 2, 1, 0, 2, 0, 3, 1, 1, 2, 3, 0, 2, 1, 3, 2 };
    for (unsigned i = 0; i < STSM_OUTBOX_MAX; i++) {
        raise_at(NULL, (enum stsm_severity)mix[i], TO1, 1, T0 + i, false);
    }
    CHECK_INT(raise_ex(NULL, STSM_SEVERITY_WARNING, TO1, 1, T0, "b", &id, NULL, &dropped), STSM_OK);
    CHECK_INT(dropped, 4);   /* the first info */
    CHECK_INT(raise_ex(NULL, STSM_SEVERITY_WARNING, TO1, 1, T0, "b", &id, NULL, &dropped), STSM_OK);
    CHECK_INT(dropped, 6);
    CHECK_INT(raise_ex(NULL, STSM_SEVERITY_WARNING, TO1, 1, T0, "b", &id, NULL, &dropped), STSM_OK);
    CHECK_INT(dropped, 12);
    CHECK_INT(raise_ex(NULL, STSM_SEVERITY_WARNING, TO1, 1, T0, "b", &id, NULL, &dropped), STSM_ERR_FULL);
    CHECK_INT(dropped, 0);
    CHECK_INT(raise_ex(NULL, STSM_SEVERITY_ERROR, TO1, 1, T0, "b", &id, NULL, &dropped), STSM_OK);
    CHECK_INT(dropped, 3);   /* the oldest warning */

    CHECK_CASE("full: a settled anchor makes room silently");
    fresh(defaults());
    uint32_t anchor = raise_at("k", STSM_SEVERITY_INFO, TO1, 1, T0, false);
    attempt(anchor, T0, STSM_SMTP_DELIVERED, 0);
    CHECK_INT(stsm_outbox_count(&ob), 1);
    for (unsigned i = 1; i < STSM_OUTBOX_MAX; i++) {
        raise_at(NULL, STSM_SEVERITY_INFO, TO1, 1, T0 + i, false);
    }
    CHECK_INT(raise_ex(NULL, STSM_SEVERITY_INFO, TO1, 1, T0, "b", &id, NULL, &dropped), STSM_OK);
    CHECK_INT(dropped, 0);
    CHECK_INT(stsm_outbox_id_at(&ob, 0), anchor + 1);
}

static void test_full_store(void)
{
    CHECK_CASE("the store full before the outbox: refused, nothing changed");
    static char body[1900];
    memset(body, 'x', sizeof body - 1);
    fresh_pages(4, defaults());
    unsigned stored = 0;
    uint32_t id = 0, dropped = 0;
    stsm_status_t st;
    while ((st = raise_ex(NULL, STSM_SEVERITY_INFO, TO1, 1, T0, body, &id, NULL, &dropped)) == STSM_OK) {
        stored++;
    }
    CHECK_INT(st, STSM_ERR_FULL);
    CHECK(stored > 0 && stored < STSM_OUTBOX_MAX);
    uint32_t written = stsm_store_stats(&store)->records_written;
    uint32_t erases = stsm_store_stats(&store)->erases;
    CHECK_INT(raise_ex(NULL, STSM_SEVERITY_CRITICAL, TO1, 1, T0, body, &id, NULL, &dropped), STSM_ERR_FULL);
    CHECK_INT(stsm_store_stats(&store)->records_written, written);
    CHECK_INT(stsm_store_stats(&store)->erases, erases);
    CHECK_INT(stsm_outbox_count(&ob), stored);
    printf("  a %u-page store holds %u messages of a %u-byte body\n", 4u, stored, (unsigned)sizeof body - 1);

    CHECK_CASE("every message kept can still be attempted to its end");
    for (unsigned i = 0; i < stored; i++) {
        uint32_t m = stsm_outbox_id_at(&ob, 0);
        CHECK_INT(stsm_outbox_attempt_begins(&ob, m, T0), STSM_OK);
        record(m, 0, STSM_SMTP_DEFERRED, 451, T0);
        CHECK_INT(stsm_outbox_attempt_ends(&ob, m, T0, 0, NULL), STSM_OK);
    }
    for (unsigned i = 0; i < stored; i++) {
        attempt(stsm_outbox_id_at(&ob, 0), T0 + 100, STSM_SMTP_DELIVERED, 0);
    }
    CHECK_INT(stsm_outbox_count(&ob), 0);

    CHECK_CASE("the store full, drop_lower: the oldest info goes for a critical");
    struct stsm_outbox_config c = defaults();
    c.drop_lower_when_full = true;
    fresh_pages(4, c);
    for (unsigned i = 0; i < stored; i++) {
        CHECK_INT(raise_ex(NULL, STSM_SEVERITY_INFO, TO1, 1, T0, body, &id, NULL, &dropped), STSM_OK);
    }
    uint32_t oldest = stsm_outbox_id_at(&ob, 0);
    CHECK_INT(raise_ex(NULL, STSM_SEVERITY_INFO, TO1, 1, T0, body, &id, NULL, &dropped), STSM_ERR_FULL);
    CHECK_INT(dropped, 0);
    CHECK_INT(raise_ex(NULL, STSM_SEVERITY_CRITICAL, TO1, 1, T0, body, &id, NULL, &dropped), STSM_OK);
    CHECK_INT(dropped, oldest);
    CHECK_INT(stsm_outbox_count(&ob), stored);
}

/* ---- order ---------------------------------------------------------------------------- */

static void test_next_due(void)
{
    CHECK_CASE("severity first, then age; waits");
    fresh(defaults());
    uint32_t due = 0, wait = 0;
    CHECK_INT(stsm_outbox_next_due(&ob, T0, &due, &wait), STSM_ERR_NOT_FOUND);
    CHECK_INT(wait, UINT32_MAX);
    uint32_t info = raise_at(NULL, STSM_SEVERITY_INFO, TO1, 1, T0, false);
    uint32_t crit1 = raise_at(NULL, STSM_SEVERITY_CRITICAL, TO1, 1, T0 + 10, false);
    uint32_t warn = raise_at(NULL, STSM_SEVERITY_WARNING, TO1, 1, T0 + 20, false);
    uint32_t crit2 = raise_at(NULL, STSM_SEVERITY_CRITICAL, TO1, 1, T0 + 30, false);
    uint32_t expect[] = { crit1, crit2, warn, info };
    for (size_t i = 0; i < 4; i++) {
        CHECK_INT(stsm_outbox_next_due(&ob, T0 + 40, &due, &wait), STSM_OK);
        CHECK_INT(due, expect[i]);
        CHECK_INT(wait, 0);
        attempt(due, T0 + 40 + (int64_t)i, STSM_SMTP_DEFERRED, 6);   /* exactly 60 s later */
    }
    CHECK_INT(stsm_outbox_next_due(&ob, T0 + 50, &due, &wait), STSM_ERR_NOT_FOUND);
    CHECK_INT(wait, 50);   /* crit1 at T0 + 100 */
    CHECK_INT(stsm_outbox_next_due(&ob, T0 + 102, &due, &wait), STSM_OK);
    CHECK_INT(due, crit1);   /* crit1, crit2 and warn are due: the older critical */
}

/* An attempt that carries several messages: the others due, in the same order, with the
 * domain cap counting the attempts begun; the outcomes held for one message written
 * before another's are recorded (without the flush, the 550 below would be dropped and
 * the recipient tried again). */
static void test_batch(void)
{
    CHECK_CASE("next_due_except: the same order, the cap counts what began");
    struct stsm_outbox_config c = defaults();
    c.domain_hourly_cap = 2;
    fresh(c);
    const char *const to_a[] = { "ops@a.example" };
    uint32_t info = raise_at(NULL, STSM_SEVERITY_INFO, TO1, 1, T0, false);
    uint32_t crit = raise_at(NULL, STSM_SEVERITY_CRITICAL, TO1, 1, T0 + 1, false);
    uint32_t warn = raise_at(NULL, STSM_SEVERITY_WARNING, TO1, 1, T0 + 2, false);
    uint32_t other = raise_at(NULL, STSM_SEVERITY_INFO, to_a, 1, T0 + 3, false);
    uint32_t due = 0, wait = 0, seen[4];
    CHECK_INT(stsm_outbox_next_due(&ob, T0 + 10, &due, &wait), STSM_OK);
    CHECK_INT(due, crit);
    seen[0] = due;
    CHECK_INT(stsm_outbox_attempt_begins(&ob, crit, T0 + 10), STSM_OK);
    CHECK_INT(stsm_outbox_next_due_except(&ob, T0 + 10, seen, 1, &due), STSM_OK);
    CHECK_INT(due, warn);
    seen[1] = due;
    CHECK_INT(stsm_outbox_attempt_begins(&ob, warn, T0 + 10), STSM_OK);
    /* example.com has had its 2 first attempts this hour: info waits, a.example does not. */
    CHECK_INT(stsm_outbox_next_due_except(&ob, T0 + 10, seen, 2, &due), STSM_OK);
    CHECK_INT(due, other);
    seen[2] = due;
    CHECK_INT(stsm_outbox_next_due_except(&ob, T0 + 10, seen, 3, &due), STSM_ERR_NOT_FOUND);
    seen[3] = info;
    CHECK_INT(stsm_outbox_next_due_except(&ob, T0 + 10, seen, 4, &due), STSM_ERR_NOT_FOUND);

    CHECK_CASE("record_flush: a refusal held for one message survives the next one's outcome");
    record(crit, 0, STSM_SMTP_FAILED, 550, T0 + 11);
    CHECK_INT(stsm_outbox_record_flush(&ob), STSM_OK);
    CHECK_INT(stsm_outbox_record_flush(&ob), STSM_OK);   /* nothing held: nothing written */
    record(warn, 0, STSM_SMTP_DEFERRED, 451, T0 + 12);
    CHECK_INT(stsm_outbox_record_flush(&ob), STSM_OK);
    enum stsm_rcpt_state states[STSM_SMTP_MAX_RCPT];
    CHECK_INT(stsm_outbox_attempt_ends(&ob, crit, T0 + 13, 6, states), STSM_OK);
    CHECK_INT(states[0], STSM_RCPT_FAILED);
    CHECK_INT(stsm_outbox_load(&ob, crit, &msg, msg_text, sizeof msg_text), STSM_ERR_NOT_FOUND);   /* settled: removed */
    CHECK_INT(stsm_outbox_attempt_ends(&ob, warn, T0 + 13, 6, states), STSM_OK);
    CHECK_INT(states[0], STSM_RCPT_PENDING);
    CHECK_INT(stsm_outbox_load(&ob, warn, &msg, msg_text, sizeof msg_text), STSM_OK);
    CHECK(has(msg.last_error, "451 try later"));
    CHECK_INT(msg.next_attempt, T0 + 13 + 60);
}

/* ---- open ----------------------------------------------------------------------------- */

static void test_open(void)
{
    CHECK_CASE("a damaged message is reported, kept, never offered, and can be dropped");
    fresh(defaults());
    uint32_t a = raise_at(NULL, STSM_SEVERITY_INFO, TO1, 1, T0, false);
    uint32_t b = raise_at(NULL, STSM_SEVERITY_INFO, TO1, 1, T0, false);
    CHECK_INT(stsm_store_put(&store, 0x01000000u | a, "xx", 2), STSM_OK);
    CHECK_INT(stsm_store_mount(&store, &sim.area), STSM_OK);
    uint32_t bad = 0;
    CHECK_INT(stsm_outbox_open(&ob, &store, &cfg, &bad), STSM_ERR_CORRUPT);
    CHECK_INT(bad, a);
    CHECK_INT(stsm_outbox_count(&ob), 1);
    CHECK_INT(stsm_outbox_id_at(&ob, 0), b);
    CHECK_INT(stsm_outbox_load(&ob, a, &msg, msg_text, sizeof msg_text), STSM_ERR_CORRUPT);
    CHECK_INT(stsm_outbox_drop(&ob, a), STSM_OK);
    reboot();
    CHECK_INT(stsm_outbox_count(&ob), 1);

    CHECK_CASE("a state without its content (a cut deletion) is removed at open");
    const uint8_t *p;
    size_t len;
    CHECK_INT(stsm_outbox_attempt_begins(&ob, b, T0), STSM_OK);
    static uint8_t state[256];
    CHECK_INT(stsm_store_get(&store, 0x02000000u | b, &p, &len), STSM_OK);
    memcpy(state, p, len);
    CHECK_INT(stsm_store_put(&store, 0x02000040u, state, len), STSM_OK);
    reboot();
    CHECK_INT(stsm_store_get(&store, 0x02000040u, &p, &len), STSM_ERR_NOT_FOUND);
    CHECK(raise_at(NULL, STSM_SEVERITY_INFO, TO1, 1, T0, false) > 0x40);

    CHECK_CASE("records of other store users are left alone");
    CHECK_INT(stsm_store_put(&store, 0x05000001u, "policy", 6), STSM_OK);
    reboot();
    CHECK_INT(stsm_store_get(&store, 0x05000001u, &p, &len), STSM_OK);
    CHECK_INT(stsm_outbox_count(&ob), 2);
}

int main(void)
{
    test_names();
    test_round_trip();
    test_text();
    test_text_limit();
    test_decoder();
    test_validation();
    test_ids();
    test_backoff();
    test_outcomes();
    test_storm();
    test_coalesce_rules();
    test_reload();
    test_cap();
    test_full_count();
    test_full_store();
    test_next_due();
    test_batch();
    test_open();
    printf("sizeof(struct stsm_outbox) %u, sizeof(struct stsm_outbox_message) %u\n", (unsigned)sizeof(struct stsm_outbox),
           (unsigned)sizeof(struct stsm_outbox_message));
    return stsm_check_summary("test_outbox");
}
