/*
 * Texts as ids (stsm_text.h) round trip through `stsmail decode-log`'s decoder: this
 * program is built with STSM_TEXT_IDS, so its marked literals lie in its own `stsm_text`
 * section, which the test reads back from its ELF file (/proc/self/exe) as decode-log
 * reads a firmware's. Each case formats the same literal and arguments with snprintf and
 * in id form, and the decoded id form must equal the prose.
 */
#include <limits.h>
#include <stdint.h>

#include "stsm_check.h"
#include "stsm_decode_log.h"
#include "stsm_status.h"
#include "stsm_text.h"

#if !STSM_TEXT_IDS
#error "test_text is built with STSM_TEXT_IDS=1"
#endif

static char table[STSM_DECODE_LOG_TABLE_MAX];
static size_t table_len;

static void expect_decoded(int line, const char *encoded, const char *want)
{
    char got[STSM_DECODE_LOG_LINE_MAX];
    stsm_decode_log_text(table, table_len, encoded, got, sizeof got);
    stsm_checks_run++;
    if (strcmp(got, want) != 0) {
        stsm_checks_failed++;
        printf("FAIL %s:%d: id form '%s' decodes to '%s', expected '%s'\n", __FILE__, line, encoded, got, want);
    }
}

/* The prose by snprintf, the id form by the encoder, the same literal and arguments. */
#define ROUND_TRIP(...)                                                    \
    do {                                                                   \
        char want_[600], enc_[600];                                        \
        snprintf(want_, sizeof want_, __VA_ARGS__);                        \
        int n_ = stsm_text_format(enc_, sizeof enc_, STSM_TEXT(__VA_ARGS__)); \
        CHECK(n_ > 0 && (size_t)n_ == strlen(enc_));                       \
        CHECK(strncmp(enc_, "$[", 2) == 0 && strchr(enc_, '%') == NULL);   \
        expect_decoded(__LINE__, enc_, want_);                             \
    } while (0)

static void conversions(void)
{
    CHECK_CASE("every conversion the tree uses");
    ROUND_TRIP("no arguments at all");
    ROUND_TRIP("delivery: %s -> %s at %lu ms", "mx", "tls", 1234ul);
    ROUND_TRIP("address lookup of MX %.40s failed: %s", "a-very-long-name-that-goes-past-forty-characters.example.test",
               "timed out");
    ROUND_TRIP("%.60s|%.64s|%.253s", "x", "y", "z");
    /* The device's long is 32 bits: unsigned values are taken modulo 2^32 unless ll. */
    ROUND_TRIP("%u %u %lu %lu", 0u, UINT_MAX, 0ul, (unsigned long)UINT32_MAX);
    ROUND_TRIP("%d %d %ld %ld %lld", INT_MIN, INT_MAX, LONG_MIN, -1l, LLONG_MIN);
    ROUND_TRIP("%llu", ULLONG_MAX);
    ROUND_TRIP("%02d:%02d, %04d", 7, 45, 2026);
    ROUND_TRIP("<%08x%08x>", 0xdeadbeefu, 0x1fu);
    ROUND_TRIP("%x %X %o %#x", 255u, 255u, 8u, 16u);
    ROUND_TRIP("[%.*s]", 3, "abcdef");
    ROUND_TRIP("[%*d] [%-6s] [%6s]", 5, 42, "ab", "cd");
    ROUND_TRIP("100%% sure, %c%c", 'o', 'k');
    ROUND_TRIP("size %zu, short %hu, char %d", sizeof table, (unsigned short)65535, (signed char)-3);
    ROUND_TRIP("%s and %s", "", "empty strings");
    ROUND_TRIP("%lu ms", (unsigned long)UINT32_MAX);
    ROUND_TRIP("%u", (uint8_t)200);
    ROUND_TRIP("%d", (_Bool)1);
    /* An int printed with %x is its two's complement on the 32-bit device. */
    char enc[64];
    stsm_text_format(enc, sizeof enc, STSM_TEXT("%x", -1));
    expect_decoded(__LINE__, enc, "ffffffff");
}

static void escapes(void)
{
    CHECK_CASE("arguments holding the separators");
    ROUND_TRIP("reply '%s'", "550 a|b]c\\d");
    ROUND_TRIP("%s|%s", "|", "]");
    ROUND_TRIP("%s", "\\");
    ROUND_TRIP("%s", "\\|\\]");
    ROUND_TRIP("%.4s!", "a|b]c|d");
    ROUND_TRIP("%s and %u", "a$[zz]b$[", 7u);
    ROUND_TRIP("%s", "$[=timeoutx");
    char enc[64];
    stsm_text_format(enc, sizeof enc, STSM_TEXT("%s", "a|b]c\\"));
    CHECK(strstr(enc, "|a\\|b\\]c\\\\]") != NULL);
}

static void at_the_limit(void)
{
    CHECK_CASE("an argument list at its limit");
    ROUND_TRIP("%s %d %u %ld %lu %lld %llu %s", "one", -2, 3u, -4l, 5ul, -6ll, 7ull, "eight");
    char enc[128];
    stsm_text_format(enc, sizeof enc, STSM_TEXT("%u%u%u%u%u%u%u%u", 1u, 2u, 3u, 4u, 5u, 6u, 7u, 8u));
    expect_decoded(__LINE__, enc, "12345678");
    /* The decoder shows a missing argument as '?' (a form cut short). */
    char cut[128];
    snprintf(cut, sizeof cut, "%.*s", (int)(strrchr(enc, '|') - enc), enc);
    expect_decoded(__LINE__, cut, "1234567?");
}

static void nesting_and_statuses(void)
{
    CHECK_CASE("status forms and texts inside texts");
    expect_decoded(__LINE__, "$[=tls_untrusted", stsm_status_str(STSM_ERR_TLS_UNTRUSTED));
    expect_decoded(__LINE__, "why: $[=timeout.", "why: timed out.");
    expect_decoded(__LINE__, "$[=unknown", stsm_status_str(STSM_STATUS_COUNT));
    char inner[64], outer[160], want[300];
    stsm_text_format(inner, sizeof inner, STSM_TEXT("MX %s: %s", "mx|1", "$[=connect"));
    stsm_text_format(outer, sizeof outer, STSM_TEXT("deferred (%s) after %u s", inner, 30u));
    snprintf(want, sizeof want, "deferred (MX mx|1: %s) after 30 s", stsm_status_str(STSM_ERR_CONNECT));
    expect_decoded(__LINE__, outer, want);
    char line[300];
    snprintf(line, sizeof line, "agent: %s; next %s\n", outer, inner);
    snprintf(want, sizeof want, "agent: deferred (MX mx|1: %s) after 30 s; next MX mx|1: %s\n",
             stsm_status_str(STSM_ERR_CONNECT), stsm_status_str(STSM_ERR_CONNECT));
    expect_decoded(__LINE__, line, want);
}

/* A module's fixed reason (STSM_TEXT_FIXED) handed to another's line as a %s argument:
 * written as its own id form inside the argument, escaped, and decoded in turn. */
static stsm_text_fixed_t fixed_reason(int which)
{
    return which == 0 ? STSM_TEXT_FIXED("no verified TLS, which the policy | requires]")
         : which == 1 ? STSM_TEXT_FIXED("")
                      : NULL;
}

static void fixed_texts(void)
{
    CHECK_CASE("fixed texts as arguments and copied");
    char enc[160];
    stsm_text_format(enc, sizeof enc, STSM_TEXT("MX %s skipped: %s (%u)", "mx.example", fixed_reason(0), 7u));
    CHECK(strstr(enc, "|$[") != NULL && strstr(enc, "\\]|7]") != NULL);
    expect_decoded(__LINE__, enc, "MX mx.example skipped: no verified TLS, which the policy | requires] (7)");
    stsm_text_format(enc, sizeof enc, STSM_TEXT("cached 5s ago%s.", fixed_reason(1)));
    expect_decoded(__LINE__, enc, "cached 5s ago.");
    stsm_text_format(enc, sizeof enc, STSM_TEXT("[%s]", fixed_reason(2)));
    expect_decoded(__LINE__, enc, "[(null)]");
    /* Copied whole (a reason kept as a result's text). */
    char copy[40];
    CHECK_INT(stsm_text_copy(copy, sizeof copy, fixed_reason(0)), (int)strlen(copy));
    CHECK(strncmp(copy, "$[", 2) == 0 && copy[strlen(copy) - 1] == ']' && strchr(copy, '|') == NULL);
    expect_decoded(__LINE__, copy, "no verified TLS, which the policy | requires]");
    /* Two levels: a fixed text inside a text inside a line. */
    char inner[64], outer[128];
    stsm_text_format(inner, sizeof inner, STSM_TEXT("MX %s: %s", "mx|1", fixed_reason(0)));
    stsm_text_format(outer, sizeof outer, STSM_TEXT("deferred (%s)", inner));
    expect_decoded(__LINE__, outer, "deferred (MX mx|1: no verified TLS, which the policy | requires])");
}

static void pass_through(void)
{
    CHECK_CASE("lines without ids pass unchanged");
    const char *plain[] = { "boot: stsmail 0.1.0\n", "", "$", "$[", "$[zz]", "$[=nosuchstatus x",
                            "$[fffffff|a]", "$[123456789]", "costs $[ 5 ]", "$[=" };
    for (size_t i = 0; i < sizeof plain / sizeof plain[0]; i++) {
        expect_decoded(__LINE__, plain[i], plain[i]);
    }
}

static void small_buffers(void)
{
    CHECK_CASE("an id form cut by its buffer stays closed");
    char enc[16];
    char full[64];
    int n = stsm_text_format(full, sizeof full, STSM_TEXT("name %s", "abcdefghijklmnopqrstuvwxyz"));
    int m = stsm_text_format(enc, sizeof enc, STSM_TEXT("name %s", "abcdefghijklmnopqrstuvwxyz"));
    CHECK(m >= (int)sizeof enc && n >= m - 1 && n <= m + 1);  /* the whole length, as snprintf */
    CHECK_INT(strlen(enc), sizeof enc - 1);
    CHECK(enc[sizeof enc - 2] == ']');
    char dec[64];
    stsm_decode_log_text(table, table_len, enc, dec, sizeof dec);
    CHECK(strncmp(dec, "name abcdefg", 12) == 0);
    /* An escape is never split: a cut before "\|" leaves no lone backslash. */
    char esc[12];
    stsm_text_format(esc, sizeof esc, STSM_TEXT("%s", "||||||||||||"));
    CHECK(esc[strlen(esc) - 2] == '|');
    char one[1] = { 'x' };
    CHECK(stsm_text_format(one, sizeof one, STSM_TEXT("%u", 5u)) > 0 && one[0] == '\0');
    char tiny[3];
    stsm_text_format(tiny, sizeof tiny, STSM_TEXT("%u", 5u));
    CHECK(strlen(tiny) < sizeof tiny);
}

int main(void)
{
    CHECK_CASE("the test's own texts from its ELF file");
    stsm_status_t st = stsm_decode_log_read_elf("/proc/self/exe", table, sizeof table, &table_len);
    CHECK_INT(st, STSM_OK);
    CHECK(table_len > 0);
    CHECK_INT(stsm_decode_log_read_elf("/nonexistent/fw.elf", table + 0, 0, &(size_t){ 0 }), STSM_ERR_IO);
    if (st != STSM_OK) {
        return stsm_check_summary("test_text");
    }
    conversions();
    escapes();
    at_the_limit();
    nesting_and_statuses();
    fixed_texts();
    pass_through();
    small_buffers();
    return stsm_check_summary("test_text");
}
