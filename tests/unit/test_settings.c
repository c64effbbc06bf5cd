/* Settings: values and defaults, and one clear line naming the JSON path for each kind of
 * bad input. */
#include <stddef.h>
#include <stdint.h>

#include "cJSON.h"
#include "stsm_check.h"
#include "stsm_settings.h"

static struct stsm_settings settings;

static stsm_status_t parse(const char *json, char *why, size_t len)
{
    return stsm_settings_parse(json, strlen(json), &settings, why, len);
}

/* The program's static memory (.data and .bss, where the parse arena lives), as the
 * Linux/glibc linker marks it. */
extern char __data_start[], _end[];

/* Counts copies of `needle` in static memory. Read byte by byte and outside ASan's view:
 * the walk crosses the red zones ASan puts between globals. */
__attribute__((no_sanitize("address"))) __attribute__((noinline))
static size_t copies_in_static_memory(const char *needle, size_t len)
{
    size_t found = 0;
    for (const volatile char *p = __data_start; p + len <= _end; p++) {
        size_t i = 0;
        while (i < len && p[i] == needle[i]) {
            i++;
        }
        found += i == len;
    }
    return found;
}

/* Text of a case of the bad-settings file into `out`: "settings" as it is, or
 * "settings_x" with each \\xHH written for a byte that is not UTF-8 text. */
static size_t case_text(const cJSON *c, char *out, size_t cap)
{
    const cJSON *plain = cJSON_GetObjectItemCaseSensitive(c, "settings");
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(c, "settings_x");
    const char *in = cJSON_IsString(plain) ? plain->valuestring : cJSON_IsString(x) ? x->valuestring : "";
    size_t n = 0;
    for (const char *p = in; *p != '\0' && n < cap; n++) {
        unsigned byte;
        if (cJSON_IsString(x) && p[0] == '\\' && p[1] == 'x' && sscanf(p + 2, "%2x", &byte) == 1) {
            out[n] = (char)byte;
            p += 4;
        } else {
            out[n] = *p++;
        }
    }
    return n;
}

/* Parses each case of the bad-settings file: each must be refused with a reason that
 * starts with its "error", leaving nothing half-applied. Returns the number of cases. */
static size_t check_bad_settings(const char *path, char *why, size_t why_len)
{
    static char file[64 * 1024], text[4096];
    FILE *f = fopen(path, "rb");
    size_t len = f != NULL ? fread(file, 1, sizeof file - 1, f) : 0;
    if (f != NULL) {
        fclose(f);
    }
    file[len] = '\0';
    cJSON *root = cJSON_Parse(file);   /* the C library's malloc: stsm_settings_parse puts it back */
    const cJSON *c;
    size_t count = 0;
    CHECK(root != NULL);
    cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(root, "cases")) {
        const cJSON *intent = cJSON_GetObjectItemCaseSensitive(c, "intent");
        const cJSON *error = cJSON_GetObjectItemCaseSensitive(c, "error");
        CHECK_CASE(cJSON_IsString(intent) ? intent->valuestring : "(a case without intent)");
        CHECK(cJSON_IsString(error));
        const char *expected = cJSON_IsString(error) ? error->valuestring : "(none)";
        why[0] = '\0';
        CHECK_INT(stsm_settings_parse(text, case_text(c, text, sizeof text), &settings, why, why_len),
                  STSM_ERR_ARGUMENT);
        CHECK(strncmp(why, expected, strlen(expected)) == 0);
        if (strncmp(why, expected, strlen(expected)) != 0) {
            printf("     message was: %s\n", why);
        }
        CHECK(settings.network.interface[0] == '\0');   /* nothing half-applied */
        count++;
    }
    CHECK_CASE("bad settings file");   /* the intents go with the tree */
    cJSON_Delete(root);
    return count;
}

/* ---- the texts' pool (STSM_SETTINGS_TEXT_POOL) ---------------------------------------- */

/* Every text key, in the order the parser keeps them: the last one is the one a file one
 * byte over the pool is refused at. `kind`: 'a' an address, 'h' a host name, 't' text. */
static const struct {
    const char *path;
    size_t max;
    char kind;
} text_keys[] = {
    { "/device/ehlo_name", STSM_SETTINGS_TEXT_MAX, 'h' },
    { "/network/interface", STSM_SETTINGS_INTERFACE_MAX, 't' },
    { "/mail/from", STSM_SETTINGS_TEXT_MAX, 'a' },
    { "/mail/from_name", STSM_SETTINGS_FROM_NAME_MAX, 't' },
#define TO_KEY(i) { "/mail/to/" #i, STSM_SETTINGS_TEXT_MAX, 'a' }
    TO_KEY(0), TO_KEY(1), TO_KEY(2), TO_KEY(3), TO_KEY(4), TO_KEY(5), TO_KEY(6), TO_KEY(7),
#undef TO_KEY
    { "/delivery/relay/host", STSM_SETTINGS_TEXT_MAX, 'h' },
    { "/delivery/relay/policy_domain", STSM_SETTINGS_TEXT_MAX, 'h' },
    { "/delivery/relay/auth/user", STSM_SETTINGS_TEXT_MAX, 't' },
    { "/delivery/relay/auth/password", STSM_SETTINGS_TEXT_MAX, 't' },
    { "/mta_sts/cache_file", STSM_SETTINGS_PATH_MAX, 't' },
    { "/tls/trust_store", STSM_SETTINGS_PATH_MAX, 't' },
    { "/outbox/store_file", STSM_SETTINGS_PATH_MAX, 't' },
};
#define TEXT_KEYS (sizeof text_keys / sizeof text_keys[0])
#define FIRST_TO 4
_Static_assert(STSM_SMTP_MAX_RCPT <= 8, "text_keys lists eight recipients");

/* Whether text_keys[i] is in the file (recipients past STSM_SMTP_MAX_RCPT are not). */
static bool key_used(size_t i)
{
    return i < FIRST_TO || i >= FIRST_TO + 8 || i - FIRST_TO < STSM_SMTP_MAX_RCPT;
}

/* Shortest valid text of a key ("a@example.test" for an address). */
static size_t key_min(size_t i)
{
    return text_keys[i].kind == 'a' ? 14 : 1;
}

/* Lengths of the texts of a file whose texts take `budget` pool bytes (each text and its
 * NUL), the first ones at their longest and the rest as short as they can be; returns the
 * bytes they take, less than `budget` when every text at its longest does not need it. */
static size_t text_lengths(size_t budget, size_t len[TEXT_KEYS])
{
    size_t rest = 0, used = 0;
    for (size_t i = 0; i < TEXT_KEYS; i++) {
        rest += key_used(i) ? key_min(i) + 1 : 0;
    }
    for (size_t i = 0; i < TEXT_KEYS; i++) {
        len[i] = 0;
        if (!key_used(i)) {
            continue;
        }
        rest -= key_min(i) + 1;
        size_t room = budget - used - rest - 1;
        len[i] = room < text_keys[i].max ? room : text_keys[i].max;
        used += len[i] + 1;
    }
    return used;
}

/* Text `i` of `len` bytes: an address "aa...@example.test", or a run of one letter. */
static const char *key_text(size_t i, size_t len, char *out)
{
    size_t fill = text_keys[i].kind == 'a' ? len - 13 : len;
    memset(out, text_keys[i].kind == 'a' ? 'a' : (int)('b' + i), fill);
    strcpy(out + fill, text_keys[i].kind == 'a' ? "@example.test" : "");
    return out;
}

/* The settings file with every text key, of the lengths `len`. */
static size_t texts_file(const size_t len[TEXT_KEYS], char *json, size_t cap)
{
    static char t[TEXT_KEYS][STSM_SETTINGS_TEXT_MAX + 1];
    for (size_t i = 0; i < TEXT_KEYS; i++) {
        if (key_used(i)) {
            key_text(i, len[i], t[i]);
        }
    }
    int n = snprintf(json, cap, "{\"device\": {\"ehlo_name\": \"%s\"}, \"network\": {\"interface\": \"%s\"}, "
                     "\"mail\": {\"from\": \"%s\", \"from_name\": \"%s\", \"to\": [", t[0], t[1], t[2], t[3]);
    for (size_t i = 0; i < STSM_SMTP_MAX_RCPT; i++) {
        n += snprintf(json + n, cap - (size_t)n, "%s\"%s\"", i > 0 ? ", " : "", t[FIRST_TO + i]);
    }
    size_t r = FIRST_TO + 8;
    n += snprintf(json + n, cap - (size_t)n, "]}, \"delivery\": {\"relay\": {\"host\": \"%s\", \"policy_domain\": "
                  "\"%s\", \"auth\": {\"user\": \"%s\", \"password\": \"%s\"}}}, \"mta_sts\": {\"cache_file\": "
                  "\"%s\"}, \"tls\": {\"trust_store\": \"%s\"}, \"outbox\": {\"store_file\": \"%s\"}}",
                  t[r], t[r + 1], t[r + 2], t[r + 3], t[r + 4], t[r + 5], t[r + 6]);
    return (size_t)n;
}

/* Where the parser put text_keys[i]. */
static const char *key_field(size_t i)
{
    const char *const fields[] = {
        settings.device.ehlo_name, settings.network.interface, settings.mail.from, settings.mail.from_name,
    };
    const char *const last[] = {
        settings.delivery.relay_host, settings.delivery.relay_policy_domain, settings.delivery.relay_user,
        settings.delivery.relay_password, settings.mta_sts.cache_file, settings.tls.trust_store,
        settings.outbox.store_file,
    };
    if (i < FIRST_TO) {
        return fields[i];
    }
    if (i < FIRST_TO + 8) {
        return settings.mail.to[i - FIRST_TO];
    }
    return last[i - FIRST_TO - 8];
}

/* Every text of the struct is "" (cleared, or refused). */
static bool no_texts(void)
{
    bool empty = settings.text_used == 0;
    for (size_t i = 0; i < TEXT_KEYS; i++) {
        empty = empty && (!key_used(i) || (key_field(i) != NULL && key_field(i)[0] == '\0'));
    }
    return empty;
}

/* A file whose texts fill the pool parses, each text whole; one byte more is refused at the
 * last text, naming the pool. With the host's pool, which holds every text at its longest,
 * the first is the largest valid file and there is no second. */
static void check_text_pool(char *why, size_t why_len)
{
    static char json[8192];
    size_t len[TEXT_KEYS], longest = 0;
    for (size_t i = 0; i < TEXT_KEYS; i++) {
        longest += key_used(i) ? text_keys[i].max + 1 : 0;
    }
    size_t limit = sizeof settings.text_pool < longest ? sizeof settings.text_pool : longest;
    printf("     text pool: %u bytes; every text at its longest needs %u\n", (unsigned)sizeof settings.text_pool,
           (unsigned)longest);

    CHECK_CASE("texts that fill the pool (or every text at its longest) are kept whole");
    CHECK_INT(text_lengths(limit, len), limit);
    size_t n = texts_file(len, json, sizeof json);
    CHECK(n < sizeof json - 1);
    CHECK_INT(stsm_settings_parse(json, n, &settings, why, why_len), STSM_OK);
    CHECK_INT(settings.text_used, limit);
    for (size_t i = 0; i < TEXT_KEYS; i++) {
        char expect[STSM_SETTINGS_TEXT_MAX + 1];
        if (key_used(i)) {
            CHECK_CASE(text_keys[i].path);
            CHECK_STR(key_field(i), key_text(i, len[i], expect));
        }
    }
    if (sizeof settings.text_pool >= longest) {
        CHECK_CASE("the default pool is every text at its longest, exactly");
        CHECK_INT(sizeof settings.text_pool, longest);
        return;
    }
    CHECK_CASE("texts one byte over the pool: refused at the last, naming the pool");
    CHECK_INT(text_lengths(limit + 1, len), limit + 1);
    n = texts_file(len, json, sizeof json);
    CHECK_INT(stsm_settings_parse(json, n, &settings, why, why_len), STSM_ERR_ARGUMENT);
    char expect[160];
    snprintf(expect, sizeof expect, "/outbox/store_file: settings texts (STSM_SETTINGS_TEXT_POOL) full: "
             "the file's texts need more than %u bytes", (unsigned)sizeof settings.text_pool);
    CHECK_STR(why, expect);
    CHECK(no_texts());
}

/* ---- each key at its limits and one past them; each error once ---------------------------- */

/* Parses `json` expecting the reason `expect` exactly, and nothing half-applied. */
static void refused(const char *json, const char *expect)
{
    char why[300] = "";
    CHECK_INT(parse(json, why, sizeof why), STSM_ERR_ARGUMENT);
    CHECK_STR(why, expect);
    if (strcmp(why, expect) != 0) {
        printf("     settings were: %s\n", json);
    }
    CHECK(no_texts());
}

#define FIELD(member) offsetof(struct stsm_settings, member)

/* `template` with its "%s" replaced by `value` (templates are not printf formats). */
static void with_value(char *out, size_t cap, const char *template, const char *value)
{
    const char *at = strstr(template, "%s");
    snprintf(out, cap, "%.*s%s%s", (int)(at - template), template, value, at + 2);
}

/* Every text key at its longest is kept whole; one byte longer is refused naming its limit
 * (a secret without quoting it). `json` has one %s for the text. */
static void check_text_limits(void)
{
    static const struct {
        const char *json;
        const char *path;
        size_t max;
        char kind;   /* 'a' an address, 'h' a host name, 't' text, 's' a secret */
        size_t field;
    } keys[] = {
        { "{\"device\": {\"ehlo_name\": \"%s\"}}", "/device/ehlo_name", STSM_SETTINGS_TEXT_MAX, 'h',
          FIELD(device.ehlo_name) },
        { "{\"network\": {\"interface\": \"%s\"}}", "/network/interface", STSM_SETTINGS_INTERFACE_MAX, 't',
          FIELD(network.interface) },
        { "{\"mail\": {\"from\": \"%s\"}}", "/mail/from", STSM_SETTINGS_TEXT_MAX, 'a', FIELD(mail.from) },
        { "{\"mail\": {\"from_name\": \"%s\"}}", "/mail/from_name", STSM_SETTINGS_FROM_NAME_MAX, 't',
          FIELD(mail.from_name) },
        { "{\"mail\": {\"to\": [\"a@example.test\", \"%s\"]}}", "/mail/to/1", STSM_SETTINGS_TEXT_MAX, 'a',
          FIELD(mail.to[1]) },
        { "{\"delivery\": {\"relay\": {\"host\": \"%s\"}}}", "/delivery/relay/host", STSM_SETTINGS_TEXT_MAX, 'h',
          FIELD(delivery.relay_host) },
        { "{\"delivery\": {\"relay\": {\"host\": \"h\", \"policy_domain\": \"%s\"}}}", "/delivery/relay/policy_domain",
          STSM_SETTINGS_TEXT_MAX, 'h', FIELD(delivery.relay_policy_domain) },
        { "{\"delivery\": {\"relay\": {\"host\": \"h\", \"auth\": {\"user\": \"%s\", \"password\": \"p\"}}}}",
          "/delivery/relay/auth/user", STSM_SETTINGS_TEXT_MAX, 't', FIELD(delivery.relay_user) },
        { "{\"delivery\": {\"relay\": {\"host\": \"h\", \"auth\": {\"user\": \"u\", \"password\": \"%s\"}}}}",
          "/delivery/relay/auth/password", STSM_SETTINGS_TEXT_MAX, 's', FIELD(delivery.relay_password) },
        { "{\"mta_sts\": {\"cache_file\": \"%s\"}}", "/mta_sts/cache_file", STSM_SETTINGS_PATH_MAX, 't',
          FIELD(mta_sts.cache_file) },
        { "{\"tls\": {\"trust_store\": \"%s\"}}", "/tls/trust_store", STSM_SETTINGS_PATH_MAX, 't',
          FIELD(tls.trust_store) },
        { "{\"outbox\": {\"store_file\": \"%s\"}}", "/outbox/store_file", STSM_SETTINGS_PATH_MAX, 't',
          FIELD(outbox.store_file) },
    };
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        static char text[STSM_SETTINGS_TEXT_MAX + 2], json[STSM_SETTINGS_TEXT_MAX + 200], expect[200];
        char why[300];
        CHECK_CASE(keys[i].path);
        for (size_t len = keys[i].max; len <= keys[i].max + 1; len++) {
            size_t fill = keys[i].kind == 'a' ? len - 13 : len;
            memset(text, keys[i].kind == 'h' ? 'h' : 'a', fill);
            strcpy(text + fill, keys[i].kind == 'a' ? "@example.test" : "");
            with_value(json, sizeof json, keys[i].json, text);
            if (len == keys[i].max) {
                CHECK_INT(parse(json, why, sizeof why), STSM_OK);
                CHECK_STR(*(const char *const *)(const void *)((const char *)&settings + keys[i].field), text);
            } else if (keys[i].kind == 's') {
                snprintf(expect, sizeof expect, "%s: expected a non-empty string of at most %u characters",
                         keys[i].path, (unsigned)keys[i].max);
                refused(json, expect);
            } else {
                snprintf(expect, sizeof expect, "%s: expected a non-empty string of at most %u characters, got \"%.40s\"",
                         keys[i].path, (unsigned)keys[i].max, text);
                refused(json, expect);
            }
        }
    }
}

/* Every integer at both ends of its range is kept; one past either end, a fraction, a
 * string and null are refused naming the range. `json` has one %s for the number. */
static void check_int_limits(void)
{
    static const struct {
        const char *json;
        const char *path;
        long min, max;
        size_t field, width;
        long scale;   /* kept as seconds (1) or milliseconds (1000) */
    } keys[] = {
        { "{\"delivery\": {\"timeout_percent\": %s}}", "/delivery/timeout_percent", 1, 1000,
          FIELD(delivery.timeout_percent), 2, 1 },
        { "{\"delivery\": {\"attempt_timeout\": %s}}", "/delivery/attempt_timeout", 10, 86400,
          FIELD(delivery.attempt_timeout_s), 4, 1 },
        { "{\"delivery\": {\"relay\": {\"host\": \"h\", \"port\": %s}}}", "/delivery/relay/port", 1, 65535,
          FIELD(delivery.relay_port), 2, 1 },
        { "{\"mta_sts\": {\"fetch_timeout\": %s}}", "/mta_sts/fetch_timeout", 1, 600, FIELD(mta_sts.fetch_timeout_ms),
          4, 1000 },
        { "{\"outbox\": {\"retry_first\": %s, \"retry_max\": 604800}}", "/outbox/retry_first", 1, 86400,
          FIELD(outbox.retry_first_s), 4, 1 },
        { "{\"outbox\": {\"retry_max\": %s, \"retry_first\": 1}}", "/outbox/retry_max", 1, 604800,
          FIELD(outbox.retry_max_s), 4, 1 },
        { "{\"outbox\": {\"give_up\": %s}}", "/outbox/give_up", 60, 2592000, FIELD(outbox.give_up_s), 4, 1 },
        { "{\"outbox\": {\"coalesce_window\": %s}}", "/outbox/coalesce_window", 0, 86400,
          FIELD(outbox.coalesce_window_s), 4, 1 },
        { "{\"outbox\": {\"domain_hourly_cap\": %s}}", "/outbox/domain_hourly_cap", 0, 10000,
          FIELD(outbox.domain_hourly_cap), 4, 1 },
    };
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        char json[160], number[32], expect[160], why[300];
        CHECK_CASE(keys[i].path);
        const long kept[] = { keys[i].min, keys[i].max };
        for (size_t k = 0; k < 2; k++) {
            snprintf(number, sizeof number, "%ld", kept[k]);
            with_value(json, sizeof json, keys[i].json, number);
            CHECK_INT(parse(json, why, sizeof why), STSM_OK);
            uint16_t u16;
            uint32_t u32;
            const char *at = (const char *)&settings + keys[i].field;
            memcpy(&u16, at, sizeof u16);
            memcpy(&u32, at, sizeof u32);
            CHECK_INT(keys[i].width == 2 ? u16 : u32, kept[k] * keys[i].scale);
        }
        char below[32], above[32], fraction[32];
        snprintf(below, sizeof below, "%ld", keys[i].min - 1);
        snprintf(above, sizeof above, "%ld", keys[i].max + 1);
        snprintf(fraction, sizeof fraction, "%ld.5", keys[i].min);
        const char *const bad[][2] = {
            { below, below }, { above, above }, { fraction, fraction }, { "\"7\"", "\"7\"" }, { "null", "null" },
            { "-0.0e0", keys[i].min > 0 ? "0" : NULL },   /* -0 is 0: kept where 0 is */
        };
        for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
            with_value(json, sizeof json, keys[i].json, bad[k][0]);
            if (bad[k][1] == NULL) {
                CHECK_INT(parse(json, why, sizeof why), STSM_OK);
                continue;
            }
            snprintf(expect, sizeof expect, "%s: expected an integer %ld..%ld, got %s", keys[i].path, keys[i].min,
                     keys[i].max, bad[k][1]);
            refused(json, expect);
        }
    }
}

/* Each object refuses what is not an object, and a key it does not know. `json` has one
 * %s for the object. */
static void check_objects(void)
{
    static const struct {
        const char *json;
        const char *path;
    } objects[] = {
        { "%s", "" },
        { "{\"device\": %s}", "/device" },
        { "{\"network\": %s}", "/network" },
        { "{\"mail\": %s}", "/mail" },
        { "{\"delivery\": %s}", "/delivery" },
        { "{\"delivery\": {\"relay\": %s}}", "/delivery/relay" },
        { "{\"delivery\": {\"relay\": {\"host\": \"h\", \"auth\": %s}}}", "/delivery/relay/auth" },
        { "{\"mta_sts\": %s}", "/mta_sts" },
        { "{\"tls\": %s}", "/tls" },
        { "{\"outbox\": %s}", "/outbox" },
    };
    for (size_t i = 0; i < sizeof objects / sizeof objects[0]; i++) {
        char json[160], expect[160];
        CHECK_CASE(objects[i].path[0] != '\0' ? objects[i].path : "/");
        with_value(json, sizeof json, objects[i].json, "1");
        snprintf(expect, sizeof expect, "%s: expected an object, got 1", objects[i].path[0] != '\0' ? objects[i].path : "/");
        refused(json, expect);
        with_value(json, sizeof json, objects[i].json, "{\"x\": true}");
        snprintf(expect, sizeof expect, "%s/x: unknown key", objects[i].path);
        refused(json, expect);
        with_value(json, sizeof json, objects[i].json, "[]");
        snprintf(expect, sizeof expect, "%s: expected an object, got an array", objects[i].path[0] != '\0' ? objects[i].path : "/");
        refused(json, expect);
    }
}

/* Which error a file with several is refused for: the keys of an object before its values,
 * then its members in the order they are read (not the order of the file), a missing
 * member where its check is. And the errors no other case makes. */
static void check_errors(void)
{
    static char long_key[300], json[400], expect[200];
    static const struct {
        const char *intent, *json, *why;
    } cases[] = {
        { "an unknown key before a bad value", "{\"network\": {\"interface\": 0, \"mtu\": 1}}", "/network/mtu: unknown key" },
        { "a duplicate before a bad value", "{\"delivery\": {\"relay\": {\"host\": 1, \"tls\": \"none\", \"tls\": \"none\"}}}",
          "/delivery/relay/tls: duplicate key" },
        { "members in the order read, not the file's",
          "{\"outbox\": {\"give_up\": 1, \"retry_first\": 0}}",
          "/outbox/retry_first: expected an integer 1..86400, got 0" },
        { "sections in the order read", "{\"tls\": 1, \"outbox\": 1, \"mta_sts\": 1, \"device\": 2}",
          "/device: expected an object, got 2" },
        { "mta_sts is read before tls", "{\"tls\": 1, \"mta_sts\": 2}", "/mta_sts: expected an object, got 2" },
        { "the relay's host is required after its other members",
          "{\"delivery\": {\"relay\": {\"port\": 0}}}", "/delivery/relay/port: expected an integer 1..65535, got 0" },
        { "the relay's host is required whatever the mode",
          "{\"delivery\": {\"mode\": \"mx\", \"relay\": {\"tls\": \"implicit\"}}}",
          "/delivery/relay/host: required in relay mode" },
        { "the mode is read before the relay, wherever it is",
          "{\"delivery\": {\"relay\": {\"auth\": {\"user\": \"u\", \"password\": \"p\"}}, \"mode\": \"relay\"}}",
          "/delivery/relay/host: required in relay mode" },
        { "the mode is checked before the missing relay", "{\"delivery\": {\"mode\": \"smtp\"}}",
          "/delivery/mode: expected \"mx\" or \"relay\", got \"smtp\"" },
        { "auth needs a user", "{\"delivery\": {\"relay\": {\"host\": \"h\", \"auth\": {\"password\": \"p\"}}}}",
          "/delivery/relay/auth/user: required with /delivery/relay/auth" },
        { "auth needs a password", "{\"delivery\": {\"relay\": {\"host\": \"h\", \"auth\": {\"user\": \"u\"}}}}",
          "/delivery/relay/auth/password: required with /delivery/relay/auth" },
        { "a missing password before TLS none",
          "{\"delivery\": {\"relay\": {\"host\": \"h\", \"tls\": \"none\", \"auth\": {\"user\": \"u\"}}}}",
          "/delivery/relay/auth/password: required with /delivery/relay/auth" },
        { "the relay's TLS", "{\"delivery\": {\"relay\": {\"host\": \"h\", \"tls\": \"ssl\"}}}",
          "/delivery/relay/tls: expected \"starttls\", \"implicit\" or \"none\", got \"ssl\"" },
        { "the mode's names", "{\"delivery\": {\"mode\": 1}}", "/delivery/mode: expected \"mx\" or \"relay\", got 1" },
        { "strict_cname not an array", "{\"mta_sts\": {\"strict_cname\": \"mx\"}}",
          "/mta_sts/strict_cname: expected an array of \"mx\", \"policy_host\", \"txt\", got \"mx\"" },
        { "a scope of another type", "{\"mta_sts\": {\"strict_cname\": [\"txt\", null]}}",
          "/mta_sts/strict_cname/1: expected \"mx\", \"policy_host\" or \"txt\", got null" },
        { "enabled is true or false", "{\"mta_sts\": {\"enabled\": 1}}", "/mta_sts/enabled: expected true or false, got 1" },
        { "relax_content_type is true or false", "{\"mta_sts\": {\"relax_content_type\": \"no\"}}",
          "/mta_sts/relax_content_type: expected true or false, got \"no\"" },
        { "a display name with a quote", "{\"mail\": {\"from_name\": \"Printer \\\"3F\\\"\"}}",
          "/mail/from_name: expected printable ASCII without quotes" },
        { "a display name with a tab", "{\"mail\": {\"from_name\": \"a\\tb\"}}",
          "/mail/from_name: expected printable ASCII without quotes" },
        { "an address without a local part", "{\"mail\": {\"from\": \"@example.test\"}}",
          "/mail/from: expected an address like \"alerts@example.com\", got \"@example.test\"" },
        { "an address without a domain", "{\"mail\": {\"from\": \"a@\"}}",
          "/mail/from: expected an address like \"alerts@example.com\", got \"a@\"" },
        { "an address with two @", "{\"mail\": {\"to\": [\"a@b@example.test\"]}}",
          "/mail/to/0: expected an address like \"alerts@example.com\", got \"a@b@example.test\"" },
        { "an address with a space", "{\"mail\": {\"from\": \"a b@example.test\"}}",
          "/mail/from: expected an address like \"alerts@example.com\", got \"a b@example.test\"" },
        { "an address in brackets", "{\"mail\": {\"from\": \"<a@example.test>\"}}",
          "/mail/from: expected an address like \"alerts@example.com\", got \"<a@example.test>\"" },
        { "a host name with '_'", "{\"device\": {\"ehlo_name\": \"a_b.example\"}}",
          "/device/ehlo_name: expected a host name (letters, digits, '-' and '.'), got \"a_b.example\"" },
        { "a host name with a non-ASCII letter", "{\"device\": {\"ehlo_name\": \"caf\xc3\xa9\"}}",
          "/device/ehlo_name: expected a host name (letters, digits, '-' and '.'), got \"caf\xc3\xa9\"" },
        { "a store size in range, not whole pages", "{\"outbox\": {\"store_size\": 12289}}",
          "/outbox/store_size: expected a multiple of 4096 from 12288 to 262144, got 12289" },
        { "a store size below three pages", "{\"outbox\": {\"store_size\": 4096}}",
          "/outbox/store_size: expected a multiple of 4096 from 12288 to 262144, got 4096" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        CHECK_CASE(cases[i].intent);
        refused(cases[i].json, cases[i].why);
    }

    CHECK_CASE("an unknown key's path is cut at 127 bytes");
    memset(long_key, 'k', 200);
    snprintf(json, sizeof json, "{\"network\": {\"%s\": 1}}", long_key);
    snprintf(expect, sizeof expect, "/network/%.118s: unknown key", long_key);
    refused(json, expect);

    /* The relay's port follows its TLS unless given; the choices are kept as their values. */
    static const struct {
        const char *json;
        enum stsm_settings_relay_tls tls;
        uint16_t port;
    } relays[] = {
        { "{\"delivery\": {\"relay\": {\"host\": \"h\"}}}", STSM_RELAY_STARTTLS, 587 },
        { "{\"delivery\": {\"relay\": {\"host\": \"h\", \"tls\": \"starttls\"}}}", STSM_RELAY_STARTTLS, 587 },
        { "{\"delivery\": {\"relay\": {\"host\": \"h\", \"tls\": \"implicit\"}}}", STSM_RELAY_IMPLICIT, 465 },
        { "{\"delivery\": {\"relay\": {\"host\": \"h\", \"tls\": \"none\"}}}", STSM_RELAY_NONE, 587 },
        { "{\"delivery\": {\"relay\": {\"port\": 2525, \"host\": \"h\", \"tls\": \"implicit\"}}}", STSM_RELAY_IMPLICIT,
          2525 },
        { "{}", STSM_RELAY_STARTTLS, 587 },
    };
    for (size_t i = 0; i < sizeof relays / sizeof relays[0]; i++) {
        char why[300];
        CHECK_CASE(relays[i].json);
        CHECK_INT(parse(relays[i].json, why, sizeof why), STSM_OK);
        CHECK_INT(settings.delivery.relay_tls, relays[i].tls);
        CHECK_INT(settings.delivery.relay_port, relays[i].port);
    }
    char why[300];
    CHECK_CASE("mode mx, a relay given: kept, not used");
    CHECK_INT(parse("{\"delivery\": {\"mode\": \"mx\", \"relay\": {\"host\": \"h\"}}}", why, sizeof why), STSM_OK);
    CHECK_INT(settings.delivery.mode, STSM_DELIVERY_MX);
    CHECK_STR(settings.delivery.relay_host, "h");
    CHECK_CASE("a gateway with an address; every scope once");
    CHECK_INT(parse("{\"network\": {\"gateway\": \"192.0.2.1\", \"address\": \"192.0.2.9/30\"}, \"mta_sts\": "
                    "{\"strict_cname\": [\"txt\", \"policy_host\", \"mx\", \"txt\"], \"enabled\": false}}",
                    why, sizeof why), STSM_OK);
    CHECK_INT(settings.network.prefix_len, 30);
    CHECK_INT(settings.network.gateway[3], 1);
    CHECK_INT(settings.mta_sts.strict_cname, STSM_STRICT_CNAME_MX | STSM_STRICT_CNAME_POLICY_HOST | STSM_STRICT_CNAME_TXT);
    CHECK(!settings.mta_sts.enabled);
    CHECK_CASE("strict scope names");
    CHECK_INT(stsm_settings_strict_scope("policy_host", 11), STSM_STRICT_CNAME_POLICY_HOST);
    CHECK_INT(stsm_settings_strict_scope("policy_hostx", 11), STSM_STRICT_CNAME_POLICY_HOST);   /* by length */
    CHECK_INT(stsm_settings_strict_scope("mx", 1), 0);
    CHECK_INT(stsm_settings_strict_scope("MX", 2), 0);
    CHECK_INT(stsm_settings_strict_scope("", 0), 0);
}

/* Writers other than the parser: stsm_settings_set_text(). */
static void check_set_text(char *why, size_t why_len)
{
    CHECK_CASE("set_text: a text copied into the pool");
    CHECK_INT(parse("{}", why, why_len), STSM_OK);
    CHECK(no_texts());
    char text[] = "relay.example.net";
    CHECK_INT(stsm_settings_set_text(&settings, &settings.delivery.relay_host, text), STSM_OK);
    text[0] = 'X';   /* the caller's buffer is not kept */
    CHECK_STR(settings.delivery.relay_host, "relay.example.net");
    CHECK(settings.delivery.relay_host == settings.text_pool);
    CHECK_INT(settings.text_used, sizeof text);
    CHECK_INT(stsm_settings_set_text(&settings, &settings.mail.to[1], ""), STSM_OK);
    CHECK_INT(settings.text_used, sizeof text);   /* "" takes no pool bytes */

    CHECK_CASE("set_text: a member of another struct is refused");
    const char *elsewhere = "kept";
    CHECK_INT(stsm_settings_set_text(&settings, &elsewhere, "x"), STSM_ERR_ARGUMENT);
    CHECK_STR(elsewhere, "kept");

    CHECK_CASE("set_text: a full pool refuses, the member unchanged");
    static char fill[2 * STSM_SETTINGS_TEXT_MAX];
    memset(fill, 'f', STSM_SETTINGS_TEXT_MAX);   /* 254 bytes and the NUL: 255 of the pool */
    while (sizeof settings.text_pool - settings.text_used > 255 + 2) {
        CHECK_INT(stsm_settings_set_text(&settings, &settings.mail.from_name, fill), STSM_OK);
    }
    size_t left = sizeof settings.text_pool - settings.text_used;   /* 3..257 */
    const char *before = settings.mail.from_name;
    memset(fill, 'f', left);
    fill[left] = '\0';   /* one byte more than is left, with its NUL */
    CHECK_INT(stsm_settings_set_text(&settings, &settings.mail.from_name, fill), STSM_ERR_CAPACITY);
    CHECK(settings.mail.from_name == before);
    fill[left - 1] = '\0';   /* exactly what is left */
    CHECK_INT(stsm_settings_set_text(&settings, &settings.mail.from_name, fill), STSM_OK);
    CHECK_INT(settings.text_used, sizeof settings.text_pool);
    CHECK_INT(strlen(settings.mail.from_name), left - 1);

    CHECK_CASE("clear: the pool wiped, every text \"\"");
    stsm_settings_clear(&settings);
    CHECK(no_texts());
    CHECK(memchr(settings.text_pool, 'f', sizeof settings.text_pool) == NULL);
}

int main(void)
{
    char why[300];

    CHECK_CASE("full network and tls");
    CHECK_INT(parse("{\"network\": {\"interface\": \"tap0\", \"address\": \"192.0.2.11/24\", "
                    "\"gateway\": \"192.0.2.1\", \"dns\": [\"192.0.2.53\", \"192.0.2.54\"]}, "
                    "\"tls\": {\"trust_store\": \"trust.bin\"}}", why, sizeof why), STSM_OK);
    CHECK_STR(settings.network.interface, "tap0");
    CHECK(!settings.network.dhcp);
    CHECK_INT(settings.network.address[3], 11);
    CHECK_INT(settings.network.prefix_len, 24);
    CHECK_INT(settings.network.gateway[3], 1);
    CHECK_INT(settings.network.dns_count, 2);
    CHECK_INT(settings.network.dns[1][3], 54);
    CHECK_STR(settings.tls.trust_store, "trust.bin");

    CHECK_CASE("device, mail and relay delivery");
    CHECK_INT(parse("{\"device\": {\"ehlo_name\": \"printer-3f.example\"},"
                    " \"mail\": {\"from\": \"alerts@printer.example\", \"from_name\": \"Printer 3F\","
                    " \"to\": [\"ops@example.test\", \"boss@example.test\"]},"
                    " \"delivery\": {\"mode\": \"relay\", \"timeout_percent\": 50, \"relay\": {\"host\":"
                    " \"smtp.example.net\", \"tls\": \"implicit\", \"auth\": {\"user\": \"u\","
                    " \"password\": \"p4ss\"}}}}", why, sizeof why), STSM_OK);
    CHECK_STR(settings.device.ehlo_name, "printer-3f.example");
    CHECK_STR(settings.mail.from, "alerts@printer.example");
    CHECK_STR(settings.mail.from_name, "Printer 3F");
    CHECK_INT(settings.mail.to_count, 2);
    CHECK_STR(settings.mail.to[1], "boss@example.test");
    CHECK_INT(settings.delivery.mode, STSM_DELIVERY_RELAY);
    CHECK_INT(settings.delivery.relay_tls, STSM_RELAY_IMPLICIT);
    CHECK_INT(settings.delivery.relay_port, 465);
    CHECK_STR(settings.delivery.relay_user, "u");
    CHECK_STR(settings.delivery.relay_password, "p4ss");
    CHECK_INT(settings.delivery.timeout_percent, 50);

    /* /mail/to at the limit of one message's recipients and one over: all kept, or an
     * error naming the limit, never one dropped. */
    for (int extra = 0; extra <= 1; extra++) {
        static char json[64 + (STSM_SMTP_MAX_RCPT + 1) * 32];
        size_t n = (size_t)snprintf(json, sizeof json, "{\"mail\": {\"to\": [");
        for (int i = 0; i < STSM_SMTP_MAX_RCPT + extra; i++) {
            n += (size_t)snprintf(json + n, sizeof json - n, "%s\"r%d@example.test\"", i > 0 ? ", " : "", i);
        }
        snprintf(json + n, sizeof json - n, "]}}");
        CHECK_CASE(extra == 0 ? "/mail/to: exactly STSM_SMTP_MAX_RCPT" : "/mail/to: one over STSM_SMTP_MAX_RCPT");
        stsm_status_t st = parse(json, why, sizeof why);
        if (extra == 0) {
            char last[32];
            snprintf(last, sizeof last, "r%d@example.test", STSM_SMTP_MAX_RCPT - 1);
            CHECK_INT(st, STSM_OK);
            CHECK_INT(settings.mail.to_count, STSM_SMTP_MAX_RCPT);
            CHECK_STR(settings.mail.to[STSM_SMTP_MAX_RCPT - 1], last);
        } else {
            char expect[96];
            snprintf(expect, sizeof expect, "/mail/to: expected an array of at most %d addresses (STSM_SMTP_MAX_RCPT)",
                     STSM_SMTP_MAX_RCPT);
            CHECK_INT(st, STSM_ERR_ARGUMENT);
            CHECK(strstr(why, expect) != NULL);
        }
    }

    CHECK_CASE("delivery defaults: MX, opportunistic, RFC timeouts");
    CHECK_INT(parse("{\"delivery\": {}}", why, sizeof why), STSM_OK);
    CHECK_INT(settings.delivery.mode, STSM_DELIVERY_MX);
    CHECK_INT(settings.delivery.tls_level, STSM_TLS_LEVEL_MAY);
    CHECK(settings.delivery.opportunistic_plaintext);
    CHECK_INT(settings.delivery.timeout_percent, 100);
    CHECK_INT(settings.delivery.attempt_timeout_s, 1800);

    CHECK_CASE("TLS levels");
    static const struct {
        const char *name;
        enum stsm_tls_level level;
    } levels[] = {
        { "may", STSM_TLS_LEVEL_MAY }, { "encrypt", STSM_TLS_LEVEL_ENCRYPT }, { "verify", STSM_TLS_LEVEL_VERIFY },
    };
    for (size_t i = 0; i < sizeof levels / sizeof levels[0]; i++) {
        char json[80];
        snprintf(json, sizeof json, "{\"delivery\": {\"tls_level\": \"%s\"}}", levels[i].name);
        CHECK_INT(parse(json, why, sizeof why), STSM_OK);
        CHECK_INT(settings.delivery.tls_level, levels[i].level);
    }

    CHECK_CASE("attempt timeout, both ends of its range");
    CHECK_INT(parse("{\"delivery\": {\"attempt_timeout\": 10}}", why, sizeof why), STSM_OK);
    CHECK_INT(settings.delivery.attempt_timeout_s, 10);
    CHECK_INT(parse("{\"delivery\": {\"attempt_timeout\": 86400}}", why, sizeof why), STSM_OK);
    CHECK_INT(settings.delivery.attempt_timeout_s, 86400);

    CHECK_CASE("MTA-STS options and defaults");
    CHECK(settings.mta_sts.enabled);
    CHECK_INT(settings.mta_sts.fetch_timeout_ms, 60000);
    CHECK_INT(parse("{\"mta_sts\": {\"strict_cname\": [\"mx\", \"txt\"], \"fetch_timeout\": 5,"
                    " \"relax_content_type\": true}}", why, sizeof why), STSM_OK);
    CHECK_INT(settings.mta_sts.strict_cname, STSM_STRICT_CNAME_MX | STSM_STRICT_CNAME_TXT);
    CHECK_INT(settings.mta_sts.fetch_timeout_ms, 5000);
    CHECK(settings.mta_sts.relax_content_type);
    CHECK_INT(parse("{\"mta_sts\": {\"strict_cname\": [\"mx\", \"cname\"]}}", why, sizeof why),
              STSM_ERR_ARGUMENT);
    CHECK_STR(why, "/mta_sts/strict_cname/1: expected \"mx\", \"policy_host\" or \"txt\", got \"cname\"");

    CHECK_CASE("outbox defaults");
    CHECK_INT(parse("{}", why, sizeof why), STSM_OK);
    CHECK_INT(settings.outbox.retry_first_s, 60);
    CHECK_INT(settings.outbox.retry_max_s, 3600);
    CHECK_INT(settings.outbox.give_up_s, 259200);
    CHECK_INT(settings.outbox.coalesce_window_s, 300);
    CHECK_INT(settings.outbox.domain_hourly_cap, 0);
    CHECK(!settings.outbox.drop_lower_when_full);
    CHECK_STR(settings.outbox.store_file, "");
    CHECK_INT(settings.outbox.store_size, 65536);

    CHECK_CASE("outbox, every key set");
    CHECK_INT(parse("{\"outbox\": {\"retry_first\": 30, \"retry_max\": 7200, \"give_up\": 86400,"
                    " \"coalesce_window\": 0, \"domain_hourly_cap\": 20, \"when_full\": \"drop_lower\","
                    " \"store_file\": \"outbox.img\", \"store_size\": 131072}}", why, sizeof why), STSM_OK);
    CHECK_INT(settings.outbox.retry_first_s, 30);
    CHECK_INT(settings.outbox.retry_max_s, 7200);
    CHECK_INT(settings.outbox.give_up_s, 86400);
    CHECK_INT(settings.outbox.coalesce_window_s, 0);
    CHECK_INT(settings.outbox.domain_hourly_cap, 20);
    CHECK(settings.outbox.drop_lower_when_full);
    CHECK_STR(settings.outbox.store_file, "outbox.img");
    CHECK_INT(settings.outbox.store_size, 131072);
    CHECK_INT(parse("{\"outbox\": {\"when_full\": \"refuse\"}}", why, sizeof why), STSM_OK);
    CHECK(!settings.outbox.drop_lower_when_full);

    CHECK_CASE("outbox limits: each number at both ends of its range");
    static const struct {
        const char *json;
        const uint32_t *field;
        uint32_t value;
    } limits[] = {
        { "{\"outbox\": {\"retry_first\": 1}}", &settings.outbox.retry_first_s, 1 },
        { "{\"outbox\": {\"retry_first\": 86400, \"retry_max\": 86400}}", &settings.outbox.retry_first_s, 86400 },
        { "{\"outbox\": {\"retry_first\": 1, \"retry_max\": 1}}", &settings.outbox.retry_max_s, 1 },
        { "{\"outbox\": {\"retry_max\": 604800}}", &settings.outbox.retry_max_s, 604800 },
        { "{\"outbox\": {\"retry_first\": 60, \"retry_max\": 60}}", &settings.outbox.retry_max_s, 60 },
        { "{\"outbox\": {\"give_up\": 60}}", &settings.outbox.give_up_s, 60 },
        { "{\"outbox\": {\"give_up\": 2592000}}", &settings.outbox.give_up_s, 2592000 },
        { "{\"outbox\": {\"coalesce_window\": 0}}", &settings.outbox.coalesce_window_s, 0 },
        { "{\"outbox\": {\"coalesce_window\": 86400}}", &settings.outbox.coalesce_window_s, 86400 },
        { "{\"outbox\": {\"domain_hourly_cap\": 0}}", &settings.outbox.domain_hourly_cap, 0 },
        { "{\"outbox\": {\"domain_hourly_cap\": 10000}}", &settings.outbox.domain_hourly_cap, 10000 },
        { "{\"outbox\": {\"store_size\": 12288}}", &settings.outbox.store_size, 12288 },
        { "{\"outbox\": {\"store_size\": 262144}}", &settings.outbox.store_size, 262144 },
        { "{\"outbox\": {\"store_size\": 4096e1}}", &settings.outbox.store_size, 40960 },
    };
    for (size_t i = 0; i < sizeof limits / sizeof limits[0]; i++) {
        CHECK_INT(parse(limits[i].json, why, sizeof why), STSM_OK);
        CHECK_INT(*limits[i].field, limits[i].value);
        if (*limits[i].field != limits[i].value) {
            printf("     settings were: %s\n", limits[i].json);
        }
    }

    CHECK_CASE("a secret's value never appears in an error");
    CHECK_INT(parse("{\"delivery\": {\"relay\": {\"host\": \"h\", \"auth\": {\"user\": \"u\","
                    " \"password\": 12345678}}}}", why, sizeof why), STSM_ERR_ARGUMENT);
    CHECK(strstr(why, "/delivery/relay/auth/password: expected a non-empty string") == why);
    CHECK(strstr(why, "12345678") == NULL);

    CHECK_CASE("empty object: DHCP, nothing else set");
    CHECK_INT(parse("{}", why, sizeof why), STSM_OK);
    CHECK(settings.network.dhcp);
    CHECK_INT(settings.network.dns_count, 0);
    CHECK_STR(settings.tls.trust_store, "");

    CHECK_CASE("not NUL-terminated input is read by length");
    CHECK_INT(stsm_settings_parse("{}garbage", 2, &settings, why, sizeof why), STSM_OK);

    /* The settings every consumer must refuse live in one file, which the schema test
     * (tests/schema) also reads, so that the schema and the parser are held to the same
     * cases. Its path is given by tests/schema/CMakeLists.txt. */
    CHECK_CASE("bad settings: " STSM_BAD_SETTINGS_FILE);
    size_t cases = check_bad_settings(STSM_BAD_SETTINGS_FILE, why, sizeof why);
    CHECK(cases >= 90);   /* all of them were read */

    CHECK_CASE("the reason for an invalid key is itself valid text");
    CHECK_INT(parse("{\"\xc3\x28\xff\": 1}", why, sizeof why), STSM_ERR_ARGUMENT);
    for (const char *c = why; *c != '\0'; c++) {
        CHECK((unsigned char)*c >= 0x20 && (unsigned char)*c < 0x7f);
    }

    CHECK_CASE("valid UTF-8, raw and escaped, is accepted");
    CHECK_INT(parse("{\"tls\": {\"trust_store\": \"caf\xc3\xa9-\xe2\x82\xac-\xf0\x9f\x98\x80-"
                    "\\u00e9\\ud83d\\ude00\\u0001.bin\"}}", why, sizeof why), STSM_OK);
    CHECK_STR(settings.tls.trust_store, "caf\xc3\xa9-\xe2\x82\xac-\xf0\x9f\x98\x80-\xc3\xa9\xf0\x9f\x98\x80\x01.bin");

    CHECK_CASE("larger than the parse arena");
    static char big[STSM_SETTINGS_ARENA_SIZE + 100];
    size_t n = 0;
    n += (size_t)sprintf(big, "{\"network\": {\"dns\": [");
    while (n < sizeof big - 40) {
        n += (size_t)sprintf(big + n, "\"192.0.2.1\",");
    }
    sprintf(big + n, "\"192.0.2.1\"]}}");
    CHECK_INT(parse(big, why, sizeof why), STSM_ERR_ARGUMENT);
    CHECK(strstr(why, "parse arena (STSM_SETTINGS_ARENA_SIZE)") != NULL);

    /* cJSON recurses once a nesting level (about 40 bytes of stack each on Cortex-M3):
     * CJSON_NESTING_LIMIT levels are read, one more is refused as JSON. */
    for (int extra = 0; extra <= 1; extra++) {
        static char nested[2 * (CJSON_NESTING_LIMIT + 1) + 1];
        int depth = CJSON_NESTING_LIMIT + extra;
        memset(nested, '[', (size_t)depth);
        memset(nested + depth, ']', (size_t)depth);
        nested[2 * depth] = '\0';
        CHECK_CASE(extra == 0 ? "nesting: CJSON_NESTING_LIMIT levels" : "nesting: one level more");
        CHECK_INT(parse(nested, why, sizeof why), STSM_ERR_ARGUMENT);
        CHECK((strstr(why, "not valid JSON") != NULL) == (extra == 1));
    }
    _Static_assert(CJSON_NESTING_LIMIT <= 16, "the settings parse stays within a small device's stack");

    CHECK_CASE("a good parse after an arena overflow");
    CHECK_INT(parse("{\"network\": {\"interface\": \"tap1\"}}", why, sizeof why), STSM_OK);
    CHECK_STR(settings.network.interface, "tap1");

    /* Finding 8: the relay password must not stay in the parse arena. The JSON text lives
     * in read-only data (outside the scan); the needle is built at run time so that the
     * only copies in static memory are the ones the parse made. */
    CHECK_CASE("no copy of the relay password is left in static memory after parsing");
    static const char secret_json[] = "{\"delivery\": {\"relay\": {\"host\": \"h\", \"auth\": "
                                      "{\"user\": \"u\", \"password\": \"Zq7-wipe-me-Kx\"}}}}";
    char needle[16];
    snprintf(needle, sizeof needle, "Zq7-%s-Kx", "wipe-me");
    CHECK_INT(parse(secret_json, why, sizeof why), STSM_OK);
    CHECK_STR(settings.delivery.relay_password, needle);
    CHECK_INT(copies_in_static_memory(needle, strlen(needle)), 1);   /* the settings' text pool */
    CHECK(settings.delivery.relay_password >= settings.text_pool &&
          settings.delivery.relay_password < settings.text_pool + sizeof settings.text_pool);
    stsm_settings_clear(&settings);
    CHECK_INT(copies_in_static_memory(needle, strlen(needle)), 0);   /* and nothing else */
    CHECK_STR(settings.delivery.relay_password, "");
    CHECK_CASE("nor after a refused file");
    static const char refused_json[] = "{\"delivery\": {\"relay\": {\"host\": \"h\", \"auth\": "
                                       "{\"user\": \"u\", \"password\": \"Zq7-wipe-me-Kx\"}}}, \"x\": 1}";
    CHECK_INT(parse(refused_json, why, sizeof why), STSM_ERR_ARGUMENT);
    CHECK_INT(copies_in_static_memory(needle, strlen(needle)), 0);

    /* A board may lend the parse bytes of its own (the MCU boards: the TLS arena's before
     * TLS is set up): the parse allocates there, within their size, and wipes what it used. */
    CHECK_CASE("a lent arena is used, within its size");
    static uint8_t lent[4096];
    memset(lent, 0xA5, sizeof lent);
    stsm_settings_lend_arena(lent, 64);
    CHECK_INT(parse(secret_json, why, sizeof why), STSM_ERR_ARGUMENT);
    CHECK(strstr(why, "the 64-byte parse arena (lent by the board") != NULL);   /* not ours to name */
    CHECK_CASE("a lent arena is wiped after the parse");
    stsm_settings_lend_arena(lent, sizeof lent);
    CHECK_INT(parse(secret_json, why, sizeof why), STSM_OK);
    CHECK_STR(settings.delivery.relay_password, needle);
    CHECK(lent[0] == 0);                                 /* allocated there, then wiped */
    CHECK(lent[sizeof lent - 1] == 0xA5);                /* and nothing past what it used */
    stsm_settings_clear(&settings);
    CHECK_INT(copies_in_static_memory(needle, strlen(needle)), 0);
    CHECK_CASE("lending ends with NULL: the own arena again");
    stsm_settings_lend_arena(NULL, 0);
    CHECK_INT(parse(secret_json, why, sizeof why), STSM_OK);
    memset(lent, 0xA5, sizeof lent);
    CHECK_INT(parse("{\"network\": {\"interface\": \"tap1\"}}", why, sizeof why), STSM_OK);
    CHECK(lent[0] == 0xA5);

    check_text_pool(why, sizeof why);
    check_set_text(why, sizeof why);
    check_text_limits();
    check_int_limits();
    check_objects();
    check_errors();

    return stsm_check_summary("test_settings");
}
