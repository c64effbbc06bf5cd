#include "stsm_settings.h"

#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "cJSON.h"
#include "stsm_ipv4.h"
#include "stsm_utf8.h"
#include "stsm_wipe.h"

/* ---- cJSON's arena: a bump allocator that lives only for one parse ------------------- */

static uint8_t own_arena[STSM_SETTINGS_ARENA_SIZE];
/* Where the parse allocates: its own arena, or bytes a board lends (stsm_settings_lend_arena). */
static uint8_t *arena = own_arena;
static size_t arena_size = sizeof own_arena;
static size_t arena_used;
static size_t arena_peak;   /* the most any parse needed, for footprint reports */
static bool arena_exhausted;

static void *arena_alloc(size_t size)
{
    size_t aligned = (size + 7u) & ~(size_t)7u;
    if (aligned < size || aligned > arena_size - arena_used) {
        arena_exhausted = true;
        return NULL;
    }
    void *p = arena + arena_used;
    arena_used += aligned;
    if (arena_used > arena_peak) {
        arena_peak = arena_used;
    }
    return p;
}

static void arena_free(void *p)
{
    (void)p;   /* everything goes at once when the parse ends */
}

void stsm_settings_lend_arena(uint8_t *buf, size_t size)
{
    arena = buf != NULL ? buf : own_arena;
    arena_size = buf != NULL ? size : sizeof own_arena;
}

size_t stsm_settings_arena_peak(void)
{
    return arena_peak;
}


/* ---- the file's members: one table ---------------------------------------------------- */

/* What a member holds and how it is checked. Kinds up to K_AUTH are objects, K_TEXT to
 * K_ADDRESS texts kept in the pool, K_BOOL to K_STORE_SIZE values of 1, 2 or 4 bytes. */
enum kind {
    K_OBJECT,         /* `at`: its first member's index in `members`, `arg`: how many */
    K_RELAY,          /* an object: required in relay mode, and requires its host */
    K_AUTH,           /* an object: its members are required; not with "tls": "none" */
    K_TEXT,           /* a non-empty string of at most text_max[arg] bytes */
    K_SECRET,         /* a text whose value an error never quotes */
    K_HOST,           /* a text of letters, digits, '-' and '.' */
    K_NAME,           /* a text of printable ASCII without quotes */
    K_ADDRESS,        /* a text "local@domain" */
    K_BOOL,
    K_CHOICE,         /* one of choices[arg], kept as its index */
    K_INT,            /* an integer in ranges[arg] */
    K_RETRY_MAX,      /* an integer, then not below /outbox/retry_first */
    K_SECONDS_MS,     /* an integer of seconds, kept in milliseconds */
    K_STORE_SIZE,     /* an integer, a multiple of 4096 */
    K_IPV4_PREFIX,    /* /network/address: no DHCP */
    K_GATEWAY,        /* /network/gateway: needs /network/address */
    K_DNS,            /* arrays: of IPv4 addresses, of e-mail addresses, of no-CNAME scopes */
    K_TO,
    K_SCOPES,
    K_REPLACED,       /* a key no longer read, refused naming what replaced it */
};

/* A member of the file: its key is the same entry of `keys`. `kind` holds the enum kind in
 * its low 5 bits and, for a value, the width of its field above them. */
struct member {
    uint16_t at;      /* offsetof(struct stsm_settings, field); an object's first member */
    uint8_t kind;
    uint8_t arg;
};
#define KIND(m) ((m)->kind & 31u)
#define WIDTH(m) ((m)->kind >> 5)

/* Where each object's members begin in `members`; its count is the next one's start less
 * its own. */
enum {
    ROOT = 1,
    DEVICE = ROOT + 7,
    NETWORK = DEVICE + 1,
    MAIL = NETWORK + 4,
    DELIVERY = MAIL + 3,
    RELAY = DELIVERY + 7,
    AUTH = RELAY + 5,
    MTA_STS = AUTH + 2,
    TLS = MTA_STS + 5,
    OUTBOX = TLS + 1,
    MEMBERS = OUTBOX + 8,
};

enum { T_TEXT, T_INTERFACE, T_FROM_NAME, T_PATH };
static const uint16_t text_max[] = { STSM_SETTINGS_TEXT_MAX, STSM_SETTINGS_INTERFACE_MAX,
                                     STSM_SETTINGS_FROM_NAME_MAX, STSM_SETTINGS_PATH_MAX };

enum { R_PERCENT, R_ATTEMPT, R_PORT, R_FETCH, R_RETRY_FIRST, R_RETRY_MAX, R_GIVE_UP, R_WINDOW, R_CAP, R_STORE };
static const int32_t ranges[][2] = {
    { 1, 1000 }, { 10, 86400 }, { 1, 65535 }, { 1, 600 }, { 1, 86400 }, { 1, 604800 }, { 60, 2592000 },
    { 0, 86400 }, { 0, 10000 }, { 12288, 262144 },
};

/* Each name ends with its NUL, the list with an empty name; a name's index is its value.
 * The error lists them from the same words (read_choice). */
enum { C_MODE, C_TLS_LEVEL, C_RELAY_TLS, C_WHEN_FULL, C_SCOPES };
static const char *const choices[] = {
    "mx\0relay\0", "may\0encrypt\0verify\0", "starttls\0implicit\0none\0", "refuse\0drop_lower\0",
    "mx\0policy_host\0txt\0",
};
_Static_assert(STSM_DELIVERY_RELAY == 1 && STSM_TLS_LEVEL_VERIFY == 2 && STSM_RELAY_NONE == 2 &&
                   STSM_STRICT_CNAME_POLICY_HOST == 2 && STSM_STRICT_CNAME_TXT == 4,
               "choices[] lists each enum's names in the order of its values");

#define AT(field) (uint16_t)offsetof(struct stsm_settings, field)
#define OBJECT(kind, first, next) { first, kind, (next) - (first) }
#define TEXT(kind, field, max) { AT(field), kind, max }
#define VALUE(kind, field, arg) { AT(field), (uint8_t)((kind) | sizeof(((struct stsm_settings *)0)->field) << 5), arg }
#define SPECIAL(kind) { 0, kind, 0 }

/* Each object's members in the order they are read: the order the texts take the pool
 * and errors are found in. The entry and its key on one line: MEMBER(key, entry). */
#define MEMBERS(MEMBER)                                                          \
    MEMBER("", OBJECT(K_OBJECT, ROOT, DEVICE))                                   \
    MEMBER("device", OBJECT(K_OBJECT, DEVICE, NETWORK))                          \
    MEMBER("network", OBJECT(K_OBJECT, NETWORK, MAIL))                           \
    MEMBER("mail", OBJECT(K_OBJECT, MAIL, DELIVERY))                             \
    MEMBER("delivery", OBJECT(K_OBJECT, DELIVERY, RELAY))                        \
    MEMBER("mta_sts", OBJECT(K_OBJECT, MTA_STS, TLS))                            \
    MEMBER("tls", OBJECT(K_OBJECT, TLS, OUTBOX))                                 \
    MEMBER("outbox", OBJECT(K_OBJECT, OUTBOX, MEMBERS))                          \
    /* DEVICE */                                                                 \
    MEMBER("ehlo_name", TEXT(K_HOST, device.ehlo_name, T_TEXT))                  \
    /* NETWORK */                                                                \
    MEMBER("interface", TEXT(K_TEXT, network.interface, T_INTERFACE))            \
    MEMBER("address", SPECIAL(K_IPV4_PREFIX))                                    \
    MEMBER("gateway", SPECIAL(K_GATEWAY))                                        \
    MEMBER("dns", SPECIAL(K_DNS))                                                \
    /* MAIL */                                                                   \
    MEMBER("from", TEXT(K_ADDRESS, mail.from, T_TEXT))                           \
    MEMBER("from_name", TEXT(K_NAME, mail.from_name, T_FROM_NAME))               \
    MEMBER("to", TEXT(K_TO, mail.to, 0))                                         \
    /* DELIVERY */                                                               \
    MEMBER("mode", VALUE(K_CHOICE, delivery.mode, C_MODE))                       \
    MEMBER("require_tls", SPECIAL(K_REPLACED))                                   \
    MEMBER("tls_level", VALUE(K_CHOICE, delivery.tls_level, C_TLS_LEVEL))        \
    MEMBER("attempt_timeout", VALUE(K_INT, delivery.attempt_timeout_s, R_ATTEMPT)) \
    MEMBER("opportunistic_plaintext", VALUE(K_BOOL, delivery.opportunistic_plaintext, 0)) \
    MEMBER("timeout_percent", VALUE(K_INT, delivery.timeout_percent, R_PERCENT)) \
    MEMBER("relay", OBJECT(K_RELAY, RELAY, AUTH))                                \
    /* RELAY */                                                                  \
    MEMBER("host", TEXT(K_TEXT, delivery.relay_host, T_TEXT))                    \
    MEMBER("policy_domain", TEXT(K_TEXT, delivery.relay_policy_domain, T_TEXT))  \
    MEMBER("tls", VALUE(K_CHOICE, delivery.relay_tls, C_RELAY_TLS))              \
    MEMBER("port", VALUE(K_INT, delivery.relay_port, R_PORT))                    \
    MEMBER("auth", OBJECT(K_AUTH, AUTH, MTA_STS))                                \
    /* AUTH */                                                                   \
    MEMBER("user", TEXT(K_TEXT, delivery.relay_user, T_TEXT))                    \
    MEMBER("password", TEXT(K_SECRET, delivery.relay_password, T_TEXT))          \
    /* MTA_STS */                                                                \
    MEMBER("enabled", VALUE(K_BOOL, mta_sts.enabled, 0))                         \
    MEMBER("relax_content_type", VALUE(K_BOOL, mta_sts.relax_content_type, 0))   \
    MEMBER("cache_file", TEXT(K_TEXT, mta_sts.cache_file, T_PATH))               \
    MEMBER("fetch_timeout", VALUE(K_SECONDS_MS, mta_sts.fetch_timeout_ms, R_FETCH)) \
    MEMBER("strict_cname", SPECIAL(K_SCOPES))                                    \
    /* TLS */                                                                    \
    MEMBER("trust_store", TEXT(K_TEXT, tls.trust_store, T_PATH))                 \
    /* OUTBOX */                                                                 \
    MEMBER("retry_first", VALUE(K_INT, outbox.retry_first_s, R_RETRY_FIRST))     \
    MEMBER("retry_max", VALUE(K_RETRY_MAX, outbox.retry_max_s, R_RETRY_MAX))     \
    MEMBER("give_up", VALUE(K_INT, outbox.give_up_s, R_GIVE_UP))                 \
    MEMBER("coalesce_window", VALUE(K_INT, outbox.coalesce_window_s, R_WINDOW))  \
    MEMBER("domain_hourly_cap", VALUE(K_INT, outbox.domain_hourly_cap, R_CAP))   \
    MEMBER("when_full", VALUE(K_CHOICE, outbox.drop_lower_when_full, C_WHEN_FULL)) \
    MEMBER("store_file", TEXT(K_TEXT, outbox.store_file, T_PATH))                \
    MEMBER("store_size", VALUE(K_STORE_SIZE, outbox.store_size, R_STORE))

#define MEMBER_ENTRY(key, entry) entry,
#define MEMBER_KEY(key, entry) key "\0"
static const struct member members[] = { MEMBERS(MEMBER_ENTRY) };
static const char keys[] = MEMBERS(MEMBER_KEY);
_Static_assert(sizeof members / sizeof members[0] == MEMBERS, "each object's count matches its members");

/* The key of member `m`. */
static const char *key_of(const struct member *m)
{
    const char *key = keys;
    for (const struct member *at = members; at < m; at++) {
        key += strlen(key) + 1;
    }
    return key;
}

/* ---- the texts' pool ------------------------------------------------------------------ */

void stsm_settings_clear(struct stsm_settings *settings)
{
    stsm_wipe(settings, sizeof *settings);
    for (const struct member *m = members; m < members + MEMBERS; m++) {
        const char **text = (const char **)(void *)((char *)settings + m->at);
        for (size_t n = KIND(m) >= K_TEXT && KIND(m) <= K_ADDRESS ? 1 : KIND(m) == K_TO ? STSM_SMTP_MAX_RCPT : 0;
             n > 0; n--) {
            *text++ = "";
        }
    }
}

stsm_status_t stsm_settings_set_text(struct stsm_settings *settings, const char **field, const char *text)
{
    /* Only a member of this struct: a text kept for another would outlive its wipe. */
    const char *at = (const char *)field;
    if (at < (const char *)settings || at + sizeof *field > (const char *)&settings->text_used) {
        return STSM_ERR_ARGUMENT;
    }
    size_t len = strlen(text);
    if (len == 0) {
        *field = "";
        return STSM_OK;
    }
    if (len >= sizeof settings->text_pool - settings->text_used) {
        return STSM_ERR_CAPACITY;
    }
    char *copy = settings->text_pool + settings->text_used;
    memcpy(copy, text, len + 1);
    settings->text_used += len + 1;
    *field = copy;
    return STSM_OK;
}


/* ---- errors that name the JSON path ------------------------------------------------- */

struct ctx {
    char *why;
    size_t why_len;
    struct stsm_settings *settings;   /* whose pool keeps the texts */
    char path[128];                   /* the JSON path of what is being read */
    char seen[64];                    /* describe()'s */
};

/* The format is a literal, marked by the macro: on the MCU the reason is an id
 * (stsm_text.h) after the JSON path, which stays text. */
#define fail(ctx, path, ...) fail_text((ctx), (path), STSM_TEXT(__VA_ARGS__))

STSM_TEXT_PRINTF(3, 4)
static stsm_status_t STSM_TEXT_WORDS(fail_text)(struct ctx *ctx, const char *path, STSM_TEXT_PARAMS, ...)
{
    int n = snprintf(ctx->why, ctx->why_len, "%s: ", path);
    if (n >= 0 && (size_t)n < ctx->why_len) {
        va_list ap;
        va_start(ap, STSM_TEXT_LAST);
        stsm_text_vformat(ctx->why + n, ctx->why_len - (size_t)n, STSM_TEXT_FMT, ap);
        va_end(ap);
    }
    /* Keys and values are quoted from the file: a control character in one (a raw or
     * escaped line break) must not split the one-line reason or forge a log line. */
    for (char *c = ctx->why; ctx->why_len > 0 && *c != '\0'; c++) {
        if ((unsigned char)*c < 0x20 || *c == 0x7f) {
            *c = '?';
        }
    }
    /* Nor may it carry invalid UTF-8: a key that is not, or a quote cut inside a sequence. */
    size_t len = ctx->why_len > 0 ? strlen(ctx->why) : 0;
    for (size_t i = 0; i < len;) {
        size_t seq = stsm_utf8_sequence((uint8_t *)ctx->why + i, len - i);
        if (seq == 0) {
            ctx->why[i] = '?';
            seq = 1;
        }
        i += seq;
    }
    return STSM_ERR_ARGUMENT;
}
STSM_TEXT_SPLIT_RET(stsm_status_t, fail_text, (struct ctx *ctx, const char *path), ctx, path);

static int type(const cJSON *item)
{
    return item->type & 0xFF;
}

/* Describes a JSON value the way an error message quotes it. */
static const char *describe(struct ctx *ctx, const cJSON *item)
{
    double v = item->valuedouble;
    switch (type(item)) {
    case cJSON_String:
        snprintf(ctx->seen, sizeof ctx->seen, "\"%.40s\"", item->valuestring);
        return ctx->seen;
    case cJSON_Number:
        /* A whole number is quoted in full (%g would make 2592001 "2.592e+06"); the range
         * test comes first, as converting a larger one is undefined. */
        if (v > -1e15 && v < 1e15 && v == (double)(long long)v) {
            snprintf(ctx->seen, sizeof ctx->seen, "%lld", (long long)v);
        } else {
            snprintf(ctx->seen, sizeof ctx->seen, "%g", v);
        }
        return ctx->seen;
    case cJSON_True:
        return "true";
    case cJSON_False:
        return "false";
    case cJSON_NULL:
        return "null";
    case cJSON_Array:
        return "an array";
    }
    return "an object";
}

/* "<path>: <reason>" */
static stsm_status_t fail_fixed(struct ctx *ctx, const char *path, stsm_text_fixed_t reason)
{
    return fail(ctx, path, "%s", reason);
}

/* "<path>: expected <what>, got <item described>" */
static stsm_status_t expected(struct ctx *ctx, const char *path, const cJSON *item, stsm_text_fixed_t what)
{
    return fail(ctx, path, "expected %s, got %s", what, describe(ctx, item));
}

/* ---- every string of the file: valid UTF-8, no NUL ---------------------------------- */

/* cJSON copies a string's raw bytes as they are (any byte sequence) and decodes "\u0000"
 * to a NUL that ends its C string, so "printer\u0000lab.test" would be read as "printer".
 * Neither can be seen in the parsed tree, so the text itself is scanned, once cJSON has
 * accepted it as JSON: every string, keys included, must be valid UTF-8 without a NUL
 * (raw or escaped). The scan keeps the JSON path of the first PATH_DEPTH levels for the
 * message; deeper strings are named by the path above them. Escapes other than \u0000
 * decode to valid UTF-8: cJSON refuses a lone surrogate escape as invalid JSON. */

#define PATH_DEPTH 6

/* The first byte of json[at..len) that is not JSON white space. */
static size_t skip_space(const char *json, size_t at, size_t len)
{
    while (at < len && (json[at] == ' ' || json[at] == '\t' || json[at] == '\r' || json[at] == '\n')) {
        at++;
    }
    return at;
}

struct level {
    bool object;
    unsigned index;         /* array element, counted at each ',' */
    size_t key_at, key_len; /* object member: its key in the text, quotes excluded */
};

/* The path of a string found at `depth` (the containers around it; those past PATH_DEPTH
 * are "..."). */
static void text_path(char *out, size_t cap, const char *json, const struct level *stack, size_t depth)
{
    size_t used = 0;
    out[0] = '\0';
    for (size_t d = 0; d < depth && d < PATH_DEPTH && used < cap; d++) {
        int n = stack[d].object
                    ? snprintf(out + used, cap - used, "/%.*s", (int)(stack[d].key_len > 40 ? 40 : stack[d].key_len),
                               json + stack[d].key_at)
                    : snprintf(out + used, cap - used, "/%u", stack[d].index);
        used += n > 0 ? (size_t)n : 0;
    }
    if (depth > PATH_DEPTH && used < cap) {
        snprintf(out + used, cap - used, "/...");
    }
    if (out[0] == '\0') {
        snprintf(out, cap, "/");
    }
}

static stsm_status_t check_strings(struct ctx *ctx, const char *json, size_t len)
{
    struct level stack[PATH_DEPTH];
    size_t depth = 0;
    char path[160];
    for (size_t i = 0; i < len; i++) {
        char c = json[i];
        if (c == '{' || c == '[') {
            if (depth < PATH_DEPTH) {
                stack[depth] = (struct level){ c == '{', 0, 0, 0 };
            }
            depth++;
            continue;
        }
        if ((c == '}' || c == ']') && depth > 0) {
            depth--;
            continue;
        }
        if (c == ',' && depth > 0 && depth <= PATH_DEPTH) {
            stack[depth - 1].index++;
            continue;
        }
        if (c != '"') {
            continue;   /* white space, ':', numbers, literals */
        }
        size_t start = ++i;
        size_t bad_at = 0;
        stsm_text_fixed_t bad = NULL;
        while (i < len && json[i] != '"') {
            const uint8_t *u = (const uint8_t *)json + i;
            if (u[0] == '\\') {
                bool nul = i + 5 < len && u[1] == 'u' && memcmp(u + 2, "0000", 4) == 0;
                if (nul && bad == NULL) {
                    bad = STSM_TEXT_FIXED("contains a NUL character (\\u0000), which would cut it short");
                    bad_at = i;
                }
                i += u[1] == 'u' ? 6 : 2;
                continue;
            }
            size_t n = u[0] == 0 ? 0 : stsm_utf8_sequence(u, len - i);
            if (n == 0 && bad == NULL) {
                bad = u[0] == 0 ? STSM_TEXT_FIXED("contains a NUL byte, which would cut it short")
                                : STSM_TEXT_FIXED("is not valid UTF-8");
                bad_at = i;
            }
            i += n == 0 ? 1 : n;
        }
        size_t end = i;   /* the closing quote */
        size_t next = end + 1;
        next = skip_space(json, next, len);
        bool key = next < len && json[next] == ':';
        if (key && depth > 0 && depth <= PATH_DEPTH) {
            stack[depth - 1].key_at = start;
            stack[depth - 1].key_len = end - start;
        }
        if (bad != NULL) {
            text_path(path, sizeof path, json, stack, depth);
            return fail(ctx, path, "the %s %s (byte %u of the file)",
                        key ? STSM_TEXT_FIXED("key") : STSM_TEXT_FIXED("string"), bad,
                        (unsigned)bad_at);
        }
    }
    return STSM_OK;
}


/* ---- reading the members ------------------------------------------------------------ */

/* Keeps a string of 1..`max` bytes in the settings' pool and points `*out` at it, then
 * checks what its kind allows. The value is checked before the pool, so a bad one is named
 * for what is wrong with it, not for the room it would take. */
static stsm_status_t read_text(struct ctx *ctx, const cJSON *item, unsigned kind, size_t max, const char **out)
{
    if (type(item) != cJSON_String || item->valuestring[0] == '\0' || strlen(item->valuestring) > max) {
        if (kind == K_SECRET) {
            return fail(ctx, ctx->path, "expected a non-empty string of at most %u characters", (unsigned)max);
        }
        return fail(ctx, ctx->path, "expected a non-empty string of at most %u characters, got %s", (unsigned)max,
                    describe(ctx, item));
    }
    if (stsm_settings_set_text(ctx->settings, out, item->valuestring) != STSM_OK) {
        return fail(ctx, ctx->path, "settings texts (STSM_SETTINGS_TEXT_POOL) full: the file's texts need more than %u bytes",
                    (unsigned)sizeof ctx->settings->text_pool);
    }
    /* What a host name (letters, digits, '-' and '.'), a display name (printable ASCII
     * without quotes) and an address (local@domain, printable ASCII, no spaces or <>) may
     * hold: the characters from the first to the second of its set, less the rest. */
    static const char *const sets[] = { "-z/:;<=>?@[\\]^_`", " ~\"\\", "!~<>\",;()[]" };
    _Static_assert(K_NAME == K_HOST + 1 && K_ADDRESS == K_HOST + 2, "sets[] is in the order of the kinds");
    const char *text = *out, *at = strchr(text, '@');
    const char *set = kind >= K_HOST ? sets[kind - K_HOST] : "\x01\xff";
    bool ok = kind != K_ADDRESS || (at != NULL && at != text && at[1] != '\0' && strchr(at + 1, '@') == NULL);
    for (const unsigned char *c = (const unsigned char *)text; ok && *c != '\0'; c++) {
        ok = *c >= (unsigned char)set[0] && *c <= (unsigned char)set[1] && strchr(set + 2, *c) == NULL;
    }
    if (ok) {
        return STSM_OK;
    }
    if (kind == K_NAME) {
        return fail_fixed(ctx, ctx->path, STSM_TEXT_FIXED("expected printable ASCII without quotes"));
    }
    return fail(ctx, ctx->path, "expected %s, got \"%.60s\"",
                kind == K_HOST ? STSM_TEXT_FIXED("a host name (letters, digits, '-' and '.')")
                               : STSM_TEXT_FIXED("an address like \"alerts@example.com\""), text);
}

/* Reads a string that must be one of choices[`set`] into `*index`. */
static stsm_status_t read_choice(struct ctx *ctx, const cJSON *item, unsigned set, uint32_t *index)
{
    *index = 0;
    for (const char *name = choices[set]; *name != '\0'; name += strlen(name) + 1, ++*index) {
        if (type(item) == cJSON_String && strcmp(item->valuestring, name) == 0) {
            return STSM_OK;
        }
    }
    /* The names again, as the error lists them. */
    stsm_text_fixed_t names = STSM_TEXT_FIXED("\"mx\" or \"relay\"");
    if (set == C_TLS_LEVEL) {
        names = STSM_TEXT_FIXED("\"may\", \"encrypt\" or \"verify\"");
    } else if (set == C_RELAY_TLS) {
        names = STSM_TEXT_FIXED("\"starttls\", \"implicit\" or \"none\"");
    } else if (set == C_WHEN_FULL) {
        names = STSM_TEXT_FIXED("\"refuse\" or \"drop_lower\"");
    } else if (set == C_SCOPES) {
        names = STSM_TEXT_FIXED("\"mx\", \"policy_host\" or \"txt\"");
    }
    return expected(ctx, ctx->path, item, names);
}

unsigned stsm_settings_strict_scope(const char *name, size_t len)
{
    unsigned bit = 1;
    for (const char *scope = choices[C_SCOPES]; *scope != '\0'; scope += strlen(scope) + 1, bit <<= 1) {
        if (strlen(scope) == len && memcmp(scope, name, len) == 0) {
            return bit;
        }
    }
    return 0;
}

static stsm_status_t read_ipv4(struct ctx *ctx, const cJSON *item, uint8_t out[4], uint8_t *prefix_len)
{
    if (type(item) == cJSON_String && stsm_ipv4_parse(item->valuestring, out, prefix_len)) {
        return STSM_OK;
    }
    return expected(ctx, ctx->path, item,
                    prefix_len != NULL ? STSM_TEXT_FIXED("an IPv4 address with a prefix like \"192.0.2.11/24\"")
                                       : STSM_TEXT_FIXED("an IPv4 address like \"192.0.2.1\""));
}

/* /network/dns, /mail/to and /mta_sts/strict_cname: an array of at most its capacity, each
 * element named by its index. */
static stsm_status_t read_array(struct ctx *ctx, const cJSON *array, unsigned kind, size_t path_len)
{
    struct stsm_settings *s = ctx->settings;
    unsigned max = kind == K_DNS ? 2 : kind == K_TO ? STSM_SMTP_MAX_RCPT : UINT_MAX;
    if (type(array) != cJSON_Array || (unsigned)cJSON_GetArraySize(array) > max) {
        if (kind == K_TO) {
            return fail(ctx, ctx->path, "expected an array of at most %u addresses (STSM_SMTP_MAX_RCPT), got %s",
                        (unsigned)STSM_SMTP_MAX_RCPT, describe(ctx, array));
        }
        return expected(ctx, ctx->path, array,
                        kind == K_DNS ? STSM_TEXT_FIXED("an array of at most 2 IPv4 addresses")
                                      : STSM_TEXT_FIXED("an array of \"mx\", \"policy_host\", \"txt\""));
    }
    unsigned n = 0;
    stsm_status_t st = STSM_OK;
    for (const cJSON *item = array->child; item != NULL && st == STSM_OK; item = item->next, n++) {
        snprintf(ctx->path + path_len, sizeof ctx->path - path_len, "/%u", n);
        if (kind == K_DNS) {
            st = read_ipv4(ctx, item, s->network.dns[n], NULL);
            s->network.dns_count = (uint8_t)(n + 1);
        } else if (kind == K_TO) {
            st = read_text(ctx, item, K_ADDRESS, STSM_SETTINGS_TEXT_MAX, &s->mail.to[n]);
            s->mail.to_count = n + 1;
        } else {
            uint32_t index;
            st = read_choice(ctx, item, C_SCOPES, &index);
            s->mta_sts.strict_cname |= 1u << index;
        }
    }
    return st;
}

static stsm_status_t read_object(struct ctx *ctx, const cJSON *obj, const struct member *object, size_t path_len);

/* Reads `item`, the value of member `m`, whose JSON path (`path_len` bytes) is in ctx->path. */
/* Not inlined into read_object: inlined, -Os makes the two of them 24 bytes larger. */
__attribute__((noinline)) static stsm_status_t read_value(struct ctx *ctx, const cJSON *item, const struct member *m,
                                                          size_t path_len)
{
    struct stsm_settings *s = ctx->settings;
    unsigned kind = KIND(m);
    uint32_t value;
    stsm_status_t st;
    if (kind <= K_AUTH) {
        return read_object(ctx, item, m, path_len);
    }
    if (kind <= K_ADDRESS) {
        return read_text(ctx, item, kind, text_max[m->arg], (const char **)(void *)((char *)s + m->at));
    }
    switch (kind) {
    case K_BOOL:
        if ((type(item) & (cJSON_True | cJSON_False)) == 0) {
            return expected(ctx, ctx->path, item, STSM_TEXT_FIXED("true or false"));
        }
        value = type(item) == cJSON_True;
        break;
    case K_CHOICE:
        if ((st = read_choice(ctx, item, m->arg, &value)) != STSM_OK) {
            return st;
        }
        break;
    case K_IPV4_PREFIX:
        s->network.dhcp = false;
        return read_ipv4(ctx, item, s->network.address, &s->network.prefix_len);
    case K_GATEWAY:
        if (s->network.dhcp) {
            return fail_fixed(ctx, ctx->path, STSM_TEXT_FIXED("needs /network/address (with DHCP the server provides it)"));
        }
        return read_ipv4(ctx, item, s->network.gateway, NULL);
    case K_DNS:
    case K_TO:
    case K_SCOPES:
        return read_array(ctx, item, kind, path_len);
    case K_REPLACED:
        return fail_fixed(ctx, ctx->path, STSM_TEXT_FIXED("replaced by /delivery/tls_level (\"verify\")"));
    default: {
        /* The integers. cJSON's valueint is the number cut to an int and held within
         * INT_MIN..INT_MAX, so a number whose valueint is in range and equal to it is a
         * whole number in range (1e300, inf and 2.5 are not; no double is converted out of
         * range). A store is whole 4 KiB pages, at least three: stsm_store mounts no
         * smaller ring. */
        long min = ranges[m->arg][0], max = ranges[m->arg][1];
        value = (uint32_t)item->valueint;
        if (type(item) != cJSON_Number || item->valueint < min || item->valueint > max ||
            (double)item->valueint != item->valuedouble || (kind == K_STORE_SIZE && value % 4096 != 0)) {
            return kind == K_STORE_SIZE
                       ? fail(ctx, ctx->path, "expected a multiple of 4096 from %ld to %ld, got %s", min, max,
                              describe(ctx, item))
                       : fail(ctx, ctx->path, "expected an integer %ld..%ld, got %s", min, max, describe(ctx, item));
        }
        if (kind == K_SECONDS_MS) {
            value *= 1000u;
        }
    }
    }
    /* Into its field of 1, 2 or 4 bytes, through memcpy: an enum's or a bool's type is not
     * the integer type of its size. */
    uint8_t u8 = (uint8_t)value;
    uint16_t u16 = (uint16_t)value;
    memcpy((char *)s + m->at, WIDTH(m) == 1 ? (void *)&u8 : WIDTH(m) == 2 ? (void *)&u16 : (void *)&value, WIDTH(m));
    return STSM_OK;
}

/* Reads the members of `object` from `obj`, whose JSON path (`path_len` bytes, none for the
 * root) is in ctx->path. */
static stsm_status_t read_object(struct ctx *ctx, const cJSON *obj, const struct member *object, size_t path_len)
{
    struct stsm_settings *s = ctx->settings;
    char *path = ctx->path;
    const struct member *first = &members[object->at], *end = first + object->arg;
    stsm_status_t st = STSM_OK;
    if (type(obj) != cJSON_Object) {
        return expected(ctx, path_len > 0 ? path : "/", obj, STSM_TEXT_FIXED("an object"));
    }
    /* Unknown keys, and a key given twice: cJSON keeps both and lookups find the first, so
     * the second would never be validated. Every object read passes through here. */
    for (const cJSON *item = obj->child; item != NULL; item = item->next) {
        const struct member *m = first;
        while (m < end && strcmp(key_of(m), item->string) != 0) {
            m++;
        }
        snprintf(path + path_len, sizeof ctx->path - path_len, "/%s", item->string);
        if (m == end) {
            return fail_fixed(ctx, path, STSM_TEXT_FIXED("unknown key"));
        }
        for (const cJSON *seen = obj->child; seen != item; seen = seen->next) {
            if (strcmp(seen->string, item->string) == 0) {
                return fail_fixed(ctx, path, STSM_TEXT_FIXED("duplicate key"));
            }
        }
    }
    for (const struct member *m = first; m < end && st == STSM_OK; m++) {
        const char *key = key_of(m);
        size_t len = path_len + (size_t)snprintf(path + path_len, sizeof ctx->path - path_len, "/%s", key);
        const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);
        unsigned kind = KIND(m);
        if (item != NULL) {
            st = read_value(ctx, item, m, len);
            path[len] = '\0';
        } else if (KIND(object) == K_AUTH) {
            st = fail_fixed(ctx, path, STSM_TEXT_FIXED("required with /delivery/relay/auth"));
        } else if (kind == K_RELAY && s->delivery.mode == STSM_DELIVERY_RELAY) {
            st = fail_fixed(ctx, path, STSM_TEXT_FIXED("required when /delivery/mode is \"relay\""));
        }
        /* Named at retry_max whichever of the two was set: the cap is what must not be
         * below the start (a retry_first above the default cap is fixed by raising
         * retry_max). */
        if (st == STSM_OK && kind == K_RETRY_MAX && s->outbox.retry_max_s < s->outbox.retry_first_s) {
            st = fail(ctx, path, "must be at least /outbox/retry_first (%lu), got %lu",
                      (unsigned long)s->outbox.retry_first_s, (unsigned long)s->outbox.retry_max_s);
        }
        if (st == STSM_OK && item != NULL && kind == K_AUTH && s->delivery.relay_tls == STSM_RELAY_NONE) {
            st = fail_fixed(ctx, path, STSM_TEXT_FIXED("AUTH is only sent over TLS; not with \"tls\": \"none\""));
        }
        if (st == STSM_OK && item != NULL && kind == K_RELAY && s->delivery.relay_host[0] == '\0') {
            st = fail_fixed(ctx, "/delivery/relay/host", STSM_TEXT_FIXED("required in relay mode"));
        }
    }
    return st;
}

stsm_status_t stsm_settings_parse(const char *json, size_t len, struct stsm_settings *settings,
                                  char *why, size_t why_len)
{
    struct ctx ctx;
    ctx.why = why;
    ctx.why_len = why_len;
    ctx.settings = settings;
    ctx.path[0] = '\0';
    cJSON_Hooks hooks = { arena_alloc, arena_free };

    stsm_settings_clear(settings);
    settings->network.dhcp = true;
    settings->delivery.opportunistic_plaintext = true;
    settings->delivery.timeout_percent = 100;
    settings->delivery.tls_level = STSM_TLS_LEVEL_MAY;
    settings->delivery.attempt_timeout_s = 1800;
    settings->mta_sts.enabled = true;
    settings->mta_sts.fetch_timeout_ms = 60000;
    settings->outbox.retry_first_s = 60;
    settings->outbox.retry_max_s = 3600;
    settings->outbox.give_up_s = 259200;
    settings->outbox.coalesce_window_s = 300;
    settings->outbox.store_size = 65536;

    arena_used = 0;
    arena_exhausted = false;
    cJSON_InitHooks(&hooks);
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(json, len, &end, false);
    stsm_status_t st;
    if (root == NULL) {
        if (arena_exhausted) {
            if (arena == own_arena) {
                st = fail(&ctx, "/", "settings too large for the %u-byte parse arena (STSM_SETTINGS_ARENA_SIZE)",
                          (unsigned)arena_size);
            } else {
                st = fail(&ctx, "/", "settings too large for the %u-byte parse arena (lent by the board: "
                          "stsm_settings_lend_arena)", (unsigned)arena_size);
            }
        } else {
            size_t at = end != NULL && end >= json ? (size_t)(end - json) : 0;
            st = fail(&ctx, "/", "not valid JSON (near byte %u)", (unsigned)at);
        }
    } else {
        /* Only white space may follow the one JSON value. */
        size_t at = (size_t)(end - json);
        at = skip_space(json, at, len);
        st = at < len ? fail(&ctx, "/", "not valid JSON (text after the value at byte %u)",
                             (unsigned)at)
                      : check_strings(&ctx, json, (size_t)(end - json));
        if (st == STSM_OK) {
            st = read_object(&ctx, root, members, 0);
        }
        /* The relay's port, when not given, follows its TLS. */
        if (settings->delivery.relay_port == 0) {
            settings->delivery.relay_port = settings->delivery.relay_tls == STSM_RELAY_IMPLICIT ? 465 : 587;
        }
    }
    cJSON_Delete(root);
    cJSON_InitHooks(NULL);   /* back to the C library for anyone else using cJSON */
    /* The arena holds every string of the file, the relay password among them: nothing of
     * it may outlive the parse. */
    stsm_wipe(arena, arena_used);
    arena_used = 0;
    if (st != STSM_OK) {
        stsm_settings_clear(settings);
    }
    return st;
}
