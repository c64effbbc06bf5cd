/*
 * Texts as ids (stsm_text.h) round trip through `stsmail decode-log`'s decoder: this
 * program is built with STSM_TEXT_IDS, so its marked literals lie in its own `stsm_text`
 * section, which the test reads back from its ELF file (/proc/self/exe) as decode-log
 * reads a firmware's. Each case formats the same literal and arguments with snprintf and
 * in id form, and the decoded id form must equal the prose.
 */
#include <ctype.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

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
    /* An escape is never split: a cut before "\|" leaves no lone backslash (the cut
     * mark follows the last whole "\|"). */
    char esc[12];
    stsm_text_format(esc, sizeof esc, STSM_TEXT("%s", "||||||||||||"));
    CHECK(strlen(esc) >= 3 && strcmp(esc + strlen(esc) - 3, "|}]") == 0);
    char one[1] = { 'x' };
    CHECK(stsm_text_format(one, sizeof one, STSM_TEXT("%u", 5u)) > 0 && one[0] == '\0');
    char tiny[3];
    stsm_text_format(tiny, sizeof tiny, STSM_TEXT("%u", 5u));
    CHECK(strlen(tiny) < sizeof tiny);
}

/* One text's id form at a buffer length (`got`, `n` returned), against the form and the
 * prose it has with room: never past the buffer, and either the whole form or a prefix
 * of it that ends after a whole piece (the id, a number, a character of a string with its
 * escape) closed with the cut mark, nothing when not even the id fits. Decoded, a cut
 * form is a prefix of the prose, then "[cut]". The texts' strings hold no digits, so a
 * digit on both sides of the cut is a cut number. */
static bool cut_ok(const char *full, int need, const char *prose, const char *got, size_t len, int n)
{
    size_t id_end = strcspn(full, "|]");
    if (n != need || got[len] != '#') {
        return false;
    }
    if (len == 0) {
        return true;
    }
    size_t used = strnlen(got, len);
    if (used == len) {
        return false;
    }
    char dec[600];
    stsm_decode_log_text(table, table_len, got, dec, sizeof dec);
    if (len > (size_t)need) {
        return strcmp(got, full) == 0 && strcmp(dec, prose) == 0;
    }
    if (used == 0) {
        return len < id_end + 3;
    }
    size_t keep = used - 2;
    size_t slashes = 0;
    while (slashes < keep && got[keep - 1 - slashes] == '\\') {
        slashes++;
    }
    if (used < id_end + 2 || strcmp(got + keep, "}]") != 0 || strncmp(got, full, keep) != 0 ||
        (isxdigit((unsigned char)got[keep - 1]) && isxdigit((unsigned char)full[keep]) && keep <= id_end) ||
        (isdigit((unsigned char)got[keep - 1]) && isdigit((unsigned char)full[keep])) || slashes % 2 != 0 ||
        keep + 3 + 22 < len) {
        return false;
    }
    size_t d = strlen(dec);
    return d >= 5 && strcmp(dec + d - 5, "[cut]") == 0 && strncmp(dec, prose, d - 5) == 0;
}

/* The text at every buffer length from none to one more than it needs (the literal is
 * marked once: the whole form first, then each length). */
#define EVERY_LENGTH(...)                                                                           \
    do {                                                                                            \
        char full_[200], prose_[400], buf_[240];                                                    \
        int need_ = 0;                                                                              \
        snprintf(prose_, sizeof prose_, __VA_ARGS__);                                               \
        for (int len_ = -1; len_ <= need_ + 1; len_++) {                                            \
            memset(buf_, '#', sizeof buf_);                                                         \
            int n_ = stsm_text_format(len_ < 0 ? full_ : buf_, len_ < 0 ? sizeof full_ : (size_t)len_, \
                                      STSM_TEXT(__VA_ARGS__));                                      \
            if (len_ < 0) {                                                                         \
                need_ = n_;                                                                         \
            } else if (!cut_ok(full_, need_, prose_, buf_, (size_t)len_, n_)) {                    \
                stsm_checks_failed++;                                                               \
                printf("FAIL %s:%d: '%s' in %d bytes is '%.*s'\n", __FILE__, __LINE__, full_, len_,  \
                       len_, buf_);                                                                 \
            }                                                                                       \
            stsm_checks_run++;                                                                      \
        }                                                                                           \
    } while (0)

static void cut_whole_pieces(void)
{
    CHECK_CASE("a form cut by its buffer: whole pieces, then the cut mark");
    EVERY_LENGTH("a %u b %d c %llu", 12345u, -678, 18446744073709551615ull);
    EVERY_LENGTH("%lu then %ld", 4294967295ul, -2147483647l - 1);
    EVERY_LENGTH("name %s, %s!", "ab|c]d\\e", "xyz");
    EVERY_LENGTH("%s|%s", "\\\\||]]}}", "");
    EVERY_LENGTH("%.3s / %x", "abcdef", 0xbeefu);
    EVERY_LENGTH("plain");
    EVERY_LENGTH("%s", "");
}

static bool is_cut_id(const char *s)
{
    if (*s == '\0' || strcmp(s, "$") == 0) {
        return true;
    }
    if (strncmp(s, "$[", 2) != 0) {
        return false;
    }
    return strspn(s + 2, "0123456789abcdef") == strlen(s + 2);
}

/* A fixed text is a form inside a string: cut in it, what is left of it shows as it is
 * (an id that may be cut short names no text), never as another text. */
static void cut_inside_arguments(void)
{
    CHECK_CASE("a fixed text cut inside an argument");
    const char *prose = "MX mx.example skipped: no verified TLS, which the policy | requires]";
    char full[100];
    int need = 0;
    for (int len = -1; len <= need + 1; len++) {
        char buf[120];
        char dec[300];
        memset(buf, '#', sizeof buf);
        int n = stsm_text_format(len < 0 ? full : buf, len < 0 ? sizeof full : (size_t)len,
                                 STSM_TEXT("MX %s skipped: %s", "mx.example", fixed_reason(0)));
        if (len < 0) {
            need = n;
            continue;
        }
        CHECK(n == need && buf[len] == '#');
        if (len == 0) {
            continue;
        }
        stsm_decode_log_text(table, table_len, buf, dec, sizeof dec);
        size_t d = strlen(dec);
        if (len > need) {
            CHECK_STR(dec, prose);
        } else if (d > 0) {
            size_t same = 0;
            while (same < d && dec[same] == prose[same]) {
                same++;
            }
            CHECK(d >= 5 && strcmp(dec + d - 5, "[cut]") == 0);
            dec[d >= 5 ? d - 5 : 0] = '\0';
            CHECK(is_cut_id(dec + (same < strlen(dec) ? same : strlen(dec))));
        }
    }
}

/* Texts for the decoder's own checks: literals as an ELF file given may hold them. */
static const char crafted[] = "abc\0def\0x\0hex\0"
                              "%*.*.*d\0%*.*c\0%*c|\0%jx %jd %ju\0%hhx %hd %hhu %zx %lx\0"
                              "%lc\0%ls\0%Lu\0%qd\0%p\0%n\0%f\0%#d\0%05s\0%.3c\0abc %\0"
                              "%99999d\0%.99999s\0%--------d\0%5.2d|%-4s|%+d|% d|%#o\0"
                              "%*d\0%.*d\0%s\0[%s]\0";

static unsigned long crafted_id(const char *literal)
{
    for (size_t at = 0; at < sizeof crafted; at += strlen(crafted + at) + 1) {
        if (strcmp(crafted + at, literal) == 0) {
            return at;
        }
    }
    return ~0ul;
}

static void expect_crafted(int line, const char *literal, const char *args, const char *want)
{
    char in[200], got[STSM_DECODE_LOG_LINE_MAX], refused[120];
    unsigned long id = crafted_id(literal);
    snprintf(in, sizeof in, "$[%lx%s]", id, args);
    if (want == NULL) {
        /* The conversion named: the literal from its '%' (one literal has text before). */
        snprintf(refused, sizeof refused, "[text %lx: cannot decode \"%s\"]", id, strchr(literal, '%'));
        want = refused;
    }
    stsm_decode_log_text(crafted, sizeof crafted, in, got, sizeof got);
    stsm_checks_run++;
    if (strcmp(got, want) != 0) {
        stsm_checks_failed++;
        printf("FAIL %s:%d: '%s' with %s decodes to '%s', expected '%s'\n", __FILE__, line, literal, in, got, want);
    }
}

static void crafted_formats(void)
{
    CHECK_CASE("conversions decode-log cannot print exactly are refused");
    expect_crafted(__LINE__, "%*.*.*d", "|1|2|3|4", NULL);
    expect_crafted(__LINE__, "%*.*c", "|3|1|65", NULL);
    const char *refused[] = { "%lc", "%ls", "%Lu", "%qd", "%p", "%n", "%f", "%#d", "%05s", "%.3c", "abc %",
                              "%99999d", "%.99999s", "%--------d" };
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        expect_crafted(__LINE__, refused[i], "|1", NULL);
    }
    CHECK_CASE("conversions with the device's widths");
    expect_crafted(__LINE__, "%*c|", "|3|65", "  A|");
    expect_crafted(__LINE__, "%*c|", "|-3|65", "A  |");
    /* intmax_t is 64 bits on the device too. */
    expect_crafted(__LINE__, "%jx %jd %ju", "|4886718345|-9223372036854775807|18446744073709551615",
                   "123456789 -9223372036854775807 18446744073709551615");
    expect_crafted(__LINE__, "%hhx %hd %hhu %zx %lx", "|511|40000|-1|-1|-1", "ff -25536 255 ffffffff ffffffff");
    expect_crafted(__LINE__, "%5.2d|%-4s|%+d|% d|%#o", "|7|ab|5|5|8", "   07|ab  |+5| 5|010");
    expect_crafted(__LINE__, "%.*d", "|-5|42", "42");
    CHECK_CASE("widths from the arguments beyond a line");
    char in[64], got[STSM_DECODE_LOG_LINE_MAX];
    snprintf(in, sizeof in, "$[%lx|-2147483648|5]", crafted_id("%*d"));
    stsm_decode_log_text(crafted, sizeof crafted, in, got, sizeof got);
    CHECK(got[0] == '5' && got[1] == ' ' && strlen(got) == sizeof got - 1 &&
          strcmp(got + sizeof got - 6, "[cut]") == 0);
    snprintf(in, sizeof in, "$[%lx|99999999999|5]", crafted_id("%*d"));
    stsm_decode_log_text(crafted, sizeof crafted, in, got, sizeof got);
    CHECK(got[0] == ' ' && strlen(got) == sizeof got - 1 && strcmp(got + sizeof got - 6, "[cut]") == 0);
}

static void crafted_forms(void)
{
    CHECK_CASE("an id names a text only whole");
    const struct {
        const char *in, *want;
    } cases[] = {
        { "$[4]", "def" },       { "$[0]|$[a]", "abc|hex" },
        { "$[1]", "$[1]" },      /* inside "abc": a cut id would point there */
        { "$[5|x]", "$[5|x]" },  { "$[4", "$[4" },  /* an id running into the end may be cut */
        { "$[0x4]", "$[0x4]" },  { "$[+4]", "$[+4]" }, { "$[ 4]", "$[ 4]" }, { "$[A]", "$[A]" },
        { "$[00000004]", "def" }, { "$[000000004]", "$[000000004]" },
        { "$[4}]", "def[cut]" },
    };
    char got[200];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        stsm_decode_log_text(crafted, sizeof crafted, cases[i].in, got, sizeof got);
        CHECK_STR(got, cases[i].want);
    }
    CHECK_CASE("a cut form shows where it was cut");
    char in[120];
    unsigned long id = crafted_id("%5.2d|%-4s|%+d|% d|%#o");
    snprintf(in, sizeof in, "$[%lx|7|ab}]", id);
    stsm_decode_log_text(crafted, sizeof crafted, in, got, sizeof got);
    CHECK_STR(got, "   07|ab  [cut]");
    snprintf(in, sizeof in, "$[%lx|7}] next", id);
    stsm_decode_log_text(crafted, sizeof crafted, in, got, sizeof got);
    CHECK_STR(got, "   07[cut] next");
    snprintf(in, sizeof in, "$[%lx}]", id);
    stsm_decode_log_text(crafted, sizeof crafted, in, got, sizeof got);
    CHECK_STR(got, "[cut]");
    /* No status id starts another: a status form cut in its id names no status. */
    for (int a = 0; a <= STSM_STATUS_COUNT; a++) {
        for (int b = 0; b <= STSM_STATUS_COUNT; b++) {
            const char *x = stsm_status_id((stsm_status_t)a), *y = stsm_status_id((stsm_status_t)b);
            CHECK(a == b || strncmp(x, y, strlen(x)) != 0);
        }
    }
}

/* The decoder's copies at their limits: the output buffer at every length, an argument
 * longer than its store. */
static void decode_limits(void)
{
    CHECK_CASE("decoded text at every output length");
    char in[120], full[200], got[220];
    snprintf(in, sizeof in, "at $[%lx|%s] and $[%lx|7|xyz|1|-1|8]\n", crafted_id("[%s]"), "$[=timeout",
             crafted_id("%5.2d|%-4s|%+d|% d|%#o"));
    size_t n = stsm_decode_log_text(crafted, sizeof crafted, in, full, sizeof full);
    CHECK_INT(n, strlen(full));
    CHECK(strchr(full, '$') == NULL && full[n - 1] == '\n');
    for (size_t len = 0; len <= n + 1; len++) {
        memset(got, '#', sizeof got);
        size_t m = stsm_decode_log_text(crafted, sizeof crafted, in, got, len);
        bool ok = got[len] == '#' && (len == 0 || m == strlen(got));
        if (len > n) {
            ok = ok && strcmp(got, full) == 0;
        } else if (len >= 7) {
            ok = ok && m == len - 1 && strcmp(got + m - 6, "[cut]\n") == 0 && strncmp(got, full, m - 6) == 0;
        } else if (len > 0) {
            ok = ok && m < len;
        }
        stsm_checks_run++;
        if (!ok) {
            stsm_checks_failed++;
            printf("FAIL %s:%d: decoded in %zu bytes: '%.*s'\n", __FILE__, __LINE__, len, (int)len, got);
        }
    }
    CHECK_CASE("an argument longer than the decoder keeps");
    static char big_in[STSM_DECODE_LOG_LINE_MAX + 100], big_out[2 * STSM_DECODE_LOG_LINE_MAX];
    int at = snprintf(big_in, sizeof big_in, "$[%lx|", crafted_id("%s"));
    memset(big_in + at, 'a', sizeof big_in - (size_t)at - 3);
    strcpy(big_in + sizeof big_in - 3, "]!");
    n = stsm_decode_log_text(crafted, sizeof crafted, big_in, big_out, sizeof big_out);
    CHECK(n > STSM_DECODE_LOG_LINE_MAX - 10 && n == strlen(big_out) && strcmp(big_out + n - 6, "[cut]!") == 0 &&
          strspn(big_out, "a") == n - 6);
}

static void put_le(unsigned char *p, uint32_t v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        p[i] = (unsigned char)(v >> (8 * i));
    }
}

/* A 32-bit ELF file: its header, the texts, the section names, then three section headers
 * (none, stsm_text, the names). Returns its length. */
static size_t make_elf(unsigned char *elf, const char *texts, size_t texts_len, uint32_t text_type)
{
    static const char names[] = "\0stsm_text\0.shstrtab";
    size_t at = 52;
    memset(elf, 0, 52 + texts_len + sizeof names + 3 * 40);
    memcpy(elf, "\177ELF\1\1\1", 7);
    put_le(elf + 16, 2, 2);
    put_le(elf + 18, 40, 2);
    put_le(elf + 20, 1, 4);
    put_le(elf + 40, 52, 2);
    memcpy(elf + at, texts, texts_len);
    at += texts_len;
    memcpy(elf + at, names, sizeof names);
    size_t shoff = at + sizeof names;
    put_le(elf + 32, (uint32_t)shoff, 4);
    put_le(elf + 46, 40, 2);
    put_le(elf + 48, 3, 2);
    put_le(elf + 50, 2, 2);
    unsigned char *sh = elf + shoff + 40;
    put_le(sh, 1, 4);
    put_le(sh + 4, text_type, 4);
    put_le(sh + 16, 52, 4);
    put_le(sh + 20, (uint32_t)texts_len, 4);
    sh += 40;
    put_le(sh, 11, 4);
    put_le(sh + 4, 3, 4);
    put_le(sh + 16, (uint32_t)at, 4);
    put_le(sh + 20, sizeof names, 4);
    return shoff + 3 * 40;
}

static stsm_status_t read_elf_bytes(const unsigned char *elf, size_t n, char *out, size_t cap, size_t *len)
{
    char path[] = "/tmp/test_text_elf_XXXXXX";
    int fd = mkstemp(path);
    FILE *f = fd >= 0 ? fdopen(fd, "wb") : NULL;
    bool written = f != NULL && fwrite(elf, 1, n, f) == n;
    if (f != NULL) {
        fclose(f);
    }
    stsm_status_t st = written ? stsm_decode_log_read_elf(path, out, cap, len) : STSM_ERR_IO;
    if (fd >= 0) {
        remove(path);
    }
    return st;
}

/* The ELF file is the vendor's to give, so anything: its section at the table's size and
 * one over, the wrong kind, the file cut at every length. */
static void crafted_elf(void)
{
    CHECK_CASE("a crafted ELF file");
    static const char texts[] = "%s=%d\0[%s]";
    unsigned char elf[512];
    char got[64], dec[64];
    size_t len = 0;
    size_t n = make_elf(elf, texts, sizeof texts, 1);
    CHECK_INT(read_elf_bytes(elf, n, got, sizeof texts, &len), STSM_OK);
    CHECK(len == sizeof texts && memcmp(got, texts, len) == 0);
    stsm_decode_log_text(got, len, "$[0|a|7] $[6|x]", dec, sizeof dec);
    CHECK_STR(dec, "a=7 [x]");
    CHECK_INT(read_elf_bytes(elf, n, got, sizeof texts - 1, &len), STSM_ERR_CAPACITY);
    for (size_t cut = 0; cut < n; cut++) {
        stsm_status_t st = read_elf_bytes(elf, cut, got, sizeof got, &len);
        CHECK(st == STSM_ERR_CORRUPT || st == STSM_ERR_NOT_FOUND);
    }
    n = make_elf(elf, texts, sizeof texts, 8 /* SHT_NOBITS */);
    CHECK_INT(read_elf_bytes(elf, n, got, sizeof got, &len), STSM_ERR_CORRUPT);
    n = make_elf(elf, texts, sizeof texts, 1);
    put_le(elf + n - 80 + 16, 0xffffffffu, 4);  /* the texts past the end of the file */
    CHECK_INT(read_elf_bytes(elf, n, got, sizeof got, &len), STSM_ERR_CORRUPT);
    n = make_elf(elf, texts, sizeof texts, 1);
    put_le(elf + 50, 3, 2);  /* the names' section is not one of the three */
    CHECK_INT(read_elf_bytes(elf, n, got, sizeof got, &len), STSM_ERR_CORRUPT);
    n = make_elf(elf, texts, sizeof texts, 1);
    put_le(elf + 46, 39, 2);  /* section headers shorter than ELF32's */
    CHECK_INT(read_elf_bytes(elf, n, got, sizeof got, &len), STSM_ERR_CORRUPT);
    n = make_elf(elf, texts, sizeof texts, 1);
    put_le(elf + n - 80, 2, 4);  /* named "tsm_text": no texts */
    CHECK_INT(read_elf_bytes(elf, n, got, sizeof got, &len), STSM_ERR_NOT_FOUND);
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
    cut_whole_pieces();
    cut_inside_arguments();
    crafted_formats();
    crafted_forms();
    decode_limits();
    crafted_elf();
    return stsm_check_summary("test_text");
}
