#include "stsm_settings.h"

#include <stdarg.h>
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

/* ---- the texts' pool ------------------------------------------------------------------ */

void stsm_settings_clear(struct stsm_settings *settings)
{
    stsm_wipe(settings, sizeof *settings);
    const char **texts[] = {
        &settings->network.interface,   &settings->tls.trust_store,        &settings->device.ehlo_name,
        &settings->mail.from,           &settings->mail.from_name,         &settings->delivery.relay_host,
        &settings->delivery.relay_user, &settings->delivery.relay_password, &settings->delivery.relay_policy_domain,
        &settings->mta_sts.cache_file,  &settings->outbox.store_file,
    };
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        *texts[i] = "";
    }
    for (size_t i = 0; i < STSM_SMTP_MAX_RCPT; i++) {
        settings->mail.to[i] = "";
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
};

/* The format is a literal, marked by the macro: on the MCU the reason is an id
 * (stsm_text.h) after the JSON path, which stays text. */
#define fail(ctx, path, ...) fail_text((ctx), (path), STSM_TEXT(__VA_ARGS__))

STSM_TEXT_PRINTF(3, 4)
static stsm_status_t fail_text(struct ctx *ctx, const char *path, stsm_text_fmt_t fmt, ...)
{
    int n = snprintf(ctx->why, ctx->why_len, "%s: ", path);
    if (n >= 0 && (size_t)n < ctx->why_len) {
        va_list ap;
        va_start(ap, fmt);
        stsm_text_vformat(ctx->why + n, ctx->why_len - (size_t)n, fmt, ap);
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

/* Describes a JSON value the way an error message quotes it. */
static const char *describe(const cJSON *item, char *buf, size_t len)
{
    if (cJSON_IsString(item)) {
        snprintf(buf, len, "\"%.40s\"", item->valuestring);
    } else if (cJSON_IsNumber(item) && item->valuedouble > -1e15 && item->valuedouble < 1e15 &&
               item->valuedouble == (double)(long long)item->valuedouble) {
        /* A whole number is quoted in full (%g would make 2592001 "2.592e+06"); the range
         * test comes first, as converting a larger one is undefined. */
        snprintf(buf, len, "%lld", (long long)item->valuedouble);
    } else if (cJSON_IsNumber(item)) {
        snprintf(buf, len, "%g", item->valuedouble);
    } else if (cJSON_IsBool(item)) {
        snprintf(buf, len, "%s", cJSON_IsTrue(item) ? "true" : "false");
    } else if (cJSON_IsNull(item)) {
        snprintf(buf, len, "null");
    } else if (cJSON_IsArray(item)) {
        snprintf(buf, len, "an array");
    } else {
        snprintf(buf, len, "an object");
    }
    return buf;
}

static void join(char *out, size_t len, const char *parent, const char *key)
{
    snprintf(out, len, "%s/%s", parent, key);
}

/* Refuses keys of `obj` that are not in `known` (NULL-terminated), and a key given twice:
 * cJSON keeps both and lookups find the first, so the second would never be validated.
 * Every object the parser accepts passes through here, so no duplicate goes unseen. */
static stsm_status_t only_known_keys(struct ctx *ctx, const cJSON *obj, const char *path,
                                     const char *const known[])
{
    for (const cJSON *item = obj->child; item != NULL; item = item->next) {
        bool ok = false;
        for (size_t i = 0; known[i] != NULL && !ok; i++) {
            ok = strcmp(item->string, known[i]) == 0;
        }
        char at[128];
        if (!ok) {
            join(at, sizeof at, path, item->string);
            return fail(ctx, at, "unknown key");
        }
        for (const cJSON *seen = obj->child; seen != item; seen = seen->next) {
            if (strcmp(seen->string, item->string) == 0) {
                join(at, sizeof at, path, item->string);
                return fail(ctx, at, "duplicate key");
            }
        }
    }
    return STSM_OK;
}

/* Keeps a string value of 1..`max` bytes in the settings' pool and points `*out` at it. A
 * secret's value is never quoted in the error. The value is checked before the pool, so a
 * bad one is named for what is wrong with it, not for the room it would take. */
static stsm_status_t get_text(struct ctx *ctx, const cJSON *item, const char *path, const char **out,
                              size_t max, bool secret)
{
    char seen[64];
    if (!cJSON_IsString(item) || item->valuestring[0] == '\0' || strlen(item->valuestring) > max) {
        if (secret) {
            return fail(ctx, path, "expected a non-empty string of at most %u characters", (unsigned)max);
        }
        return fail(ctx, path, "expected a non-empty string of at most %u characters, got %s",
                    (unsigned)max, describe(item, seen, sizeof seen));
    }
    if (stsm_settings_set_text(ctx->settings, out, item->valuestring) != STSM_OK) {
        return fail(ctx, path, "settings texts (STSM_SETTINGS_TEXT_POOL) full: the file's texts need more than %u bytes",
                    (unsigned)sizeof ctx->settings->text_pool);
    }
    return STSM_OK;
}

static stsm_status_t get_string(struct ctx *ctx, const cJSON *item, const char *path, const char **out,
                                size_t max)
{
    return get_text(ctx, item, path, out, max, false);
}

static stsm_status_t get_bool(struct ctx *ctx, const cJSON *item, const char *path, bool *out)
{
    char seen[64];
    if (!cJSON_IsBool(item)) {
        return fail(ctx, path, "expected true or false, got %s", describe(item, seen, sizeof seen));
    }
    *out = cJSON_IsTrue(item);
    return STSM_OK;
}

static stsm_status_t get_int(struct ctx *ctx, const cJSON *item, const char *path, long min, long max,
                             long *out)
{
    char seen[64];
    /* The range comes first: converting a double outside long's range (1e300, 2^63, inf)
     * is undefined behaviour, and a NaN fails every comparison, so it is refused too. */
    double v = cJSON_IsNumber(item) ? item->valuedouble : 0.0;
    if (!cJSON_IsNumber(item) || !(v >= (double)min && v <= (double)max) || v != (double)(long)v) {
        return fail(ctx, path, "expected an integer %ld..%ld, got %s", min, max,
                    describe(item, seen, sizeof seen));
    }
    *out = (long)v;
    return STSM_OK;
}

/* An e-mail address as settings hold it: local@domain, printable ASCII, no spaces or <>. */
static stsm_status_t get_address(struct ctx *ctx, const cJSON *item, const char *path, const char **out)
{
    stsm_status_t st = get_string(ctx, item, path, out, STSM_SETTINGS_TEXT_MAX);
    if (st != STSM_OK) {
        return st;
    }
    const char *address = *out;
    const char *at = strchr(address, '@');
    bool plain = at != NULL && at != address && at[1] != '\0' && strchr(at + 1, '@') == NULL;
    for (const char *c = address; plain && *c != '\0'; c++) {
        plain = *c > 0x20 && *c < 0x7f && strchr("<>\",;()[]", *c) == NULL;
    }
    if (!plain) {
        return fail(ctx, path, "expected an address like \"alerts@example.com\", got \"%.60s\"", address);
    }
    return STSM_OK;
}

/* Reads a string that must be one of `names` (NULL-terminated) into `*out` as its index;
 * the error lists them as "expected "a", "b" or "c", got ...". */
static stsm_status_t get_choice(struct ctx *ctx, const cJSON *item, const char *path,
                                const char *const names[], int *out)
{
    char seen[64], expected[96] = "";
    size_t n = 0;
    for (int i = 0; names[i] != NULL; i++) {
        if (cJSON_IsString(item) && strcmp(item->valuestring, names[i]) == 0) {
            *out = i;
            return STSM_OK;
        }
        n++;
    }
    for (size_t i = 0; i < n; i++) {
        size_t used = strlen(expected);
        snprintf(expected + used, sizeof expected - used, "%s\"%s\"",
                 i == 0 ? "" : i + 1 == n ? " or " : ", ", names[i]);
    }
    return fail(ctx, path, "expected %s, got %s", expected, describe(item, seen, sizeof seen));
}

/* Looks up `key` in an object that has been checked for unknown keys; `path` gets the
 * key's JSON path. */
static const cJSON *member(const cJSON *obj, const char *parent, const char *key, char *path,
                           size_t path_len)
{
    join(path, path_len, parent, key);
    return cJSON_GetObjectItemCaseSensitive(obj, key);
}

static stsm_status_t need_object(struct ctx *ctx, const cJSON *obj, const char *path,
                                 const char *const keys[])
{
    char seen[64];
    if (!cJSON_IsObject(obj)) {
        return fail(ctx, path, "expected an object, got %s", describe(obj, seen, sizeof seen));
    }
    return only_known_keys(ctx, obj, path, keys);
}

static stsm_status_t get_ipv4(struct ctx *ctx, const cJSON *item, const char *path, uint8_t out[4],
                              uint8_t *prefix_len)
{
    char seen[64];
    if (!cJSON_IsString(item) || !stsm_ipv4_parse(item->valuestring, out, prefix_len)) {
        return prefix_len ? fail(ctx, path, "expected an IPv4 address with a prefix like \"192.0.2.11/24\", got %s",
                                 describe(item, seen, sizeof seen))
                          : fail(ctx, path, "expected an IPv4 address like \"192.0.2.1\", got %s",
                                 describe(item, seen, sizeof seen));
    }
    return STSM_OK;
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
        const char *bad = NULL;
        while (i < len && json[i] != '"') {
            const uint8_t *u = (const uint8_t *)json + i;
            if (u[0] == '\\') {
                bool nul = i + 5 < len && u[1] == 'u' && memcmp(u + 2, "0000", 4) == 0;
                if (nul && bad == NULL) {
                    bad = "contains a NUL character (\\u0000), which would cut it short";
                    bad_at = i;
                }
                i += u[1] == 'u' ? 6 : 2;
                continue;
            }
            size_t n = u[0] == 0 ? 0 : stsm_utf8_sequence(u, len - i);
            if (n == 0 && bad == NULL) {
                bad = u[0] == 0 ? "contains a NUL byte, which would cut it short" : "is not valid UTF-8";
                bad_at = i;
            }
            i += n == 0 ? 1 : n;
        }
        size_t end = i;   /* the closing quote */
        size_t next = end + 1;
        while (next < len && (json[next] == ' ' || json[next] == '\t' || json[next] == '\r' ||
                              json[next] == '\n')) {
            next++;
        }
        bool key = next < len && json[next] == ':';
        if (key && depth > 0 && depth <= PATH_DEPTH) {
            stack[depth - 1].key_at = start;
            stack[depth - 1].key_len = end - start;
        }
        if (bad != NULL) {
            text_path(path, sizeof path, json, stack, depth);
            return fail(ctx, path, "the %s %s (byte %u of the file)", key ? "key" : "string", bad,
                        (unsigned)bad_at);
        }
    }
    return STSM_OK;
}

/* ---- sections ---------------------------------------------------------------------- */

static stsm_status_t parse_network(struct ctx *ctx, const cJSON *obj, struct stsm_settings_network *net)
{
    static const char *const keys[] = { "interface", "address", "gateway", "dns", NULL };
    char seen[64];
    stsm_status_t st;

    if ((st = need_object(ctx, obj, "/network", keys)) != STSM_OK) {
        return st;
    }
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, "interface");
    if (item != NULL &&
        (st = get_string(ctx, item, "/network/interface", &net->interface, STSM_SETTINGS_INTERFACE_MAX)) != STSM_OK) {
        return st;
    }
    item = cJSON_GetObjectItemCaseSensitive(obj, "address");
    net->dhcp = item == NULL;
    if (item != NULL &&
        (st = get_ipv4(ctx, item, "/network/address", net->address, &net->prefix_len)) != STSM_OK) {
        return st;
    }
    item = cJSON_GetObjectItemCaseSensitive(obj, "gateway");
    if (item != NULL) {
        if (net->dhcp) {
            return fail(ctx, "/network/gateway", "needs /network/address (with DHCP the server provides it)");
        }
        if ((st = get_ipv4(ctx, item, "/network/gateway", net->gateway, NULL)) != STSM_OK) {
            return st;
        }
    }
    item = cJSON_GetObjectItemCaseSensitive(obj, "dns");
    if (item != NULL) {
        if (!cJSON_IsArray(item) || cJSON_GetArraySize(item) > 2) {
            return fail(ctx, "/network/dns", "expected an array of at most 2 IPv4 addresses, got %s",
                        describe(item, seen, sizeof seen));
        }
        const cJSON *server;
        cJSON_ArrayForEach(server, item) {
            char at[32];
            snprintf(at, sizeof at, "/network/dns/%u", (unsigned)net->dns_count);
            if ((st = get_ipv4(ctx, server, at, net->dns[net->dns_count], NULL)) != STSM_OK) {
                return st;
            }
            net->dns_count++;
        }
    }
    return STSM_OK;
}

static stsm_status_t parse_tls(struct ctx *ctx, const cJSON *obj, struct stsm_settings_tls *tls)
{
    static const char *const keys[] = { "trust_store", NULL };
    stsm_status_t st;

    if ((st = need_object(ctx, obj, "/tls", keys)) != STSM_OK) {
        return st;
    }
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, "trust_store");
    if (item != NULL) {
        return get_string(ctx, item, "/tls/trust_store", &tls->trust_store, STSM_SETTINGS_PATH_MAX);
    }
    return STSM_OK;
}

static stsm_status_t parse_device(struct ctx *ctx, const cJSON *obj, struct stsm_settings_device *dev)
{
    static const char *const keys[] = { "ehlo_name", NULL };
    char path[64];
    stsm_status_t st = need_object(ctx, obj, "/device", keys);
    const cJSON *item = member(obj, "/device", "ehlo_name", path, sizeof path);
    if (st == STSM_OK && item != NULL) {
        st = get_string(ctx, item, path, &dev->ehlo_name, STSM_SETTINGS_TEXT_MAX);
        for (const char *c = dev->ehlo_name; st == STSM_OK && *c != '\0'; c++) {
            if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
                  *c == '-' || *c == '.')) {
                st = fail(ctx, path, "expected a host name (letters, digits, '-' and '.'), got \"%.60s\"",
                          dev->ehlo_name);
            }
        }
    }
    return st;
}

static stsm_status_t parse_mail(struct ctx *ctx, const cJSON *obj, struct stsm_settings_mail *mail)
{
    static const char *const keys[] = { "from", "from_name", "to", NULL };
    char path[64], seen[64];
    stsm_status_t st = need_object(ctx, obj, "/mail", keys);
    const cJSON *item;
    if (st == STSM_OK && (item = member(obj, "/mail", "from", path, sizeof path)) != NULL) {
        st = get_address(ctx, item, path, &mail->from);
    }
    if (st == STSM_OK && (item = member(obj, "/mail", "from_name", path, sizeof path)) != NULL) {
        st = get_string(ctx, item, path, &mail->from_name, STSM_SETTINGS_FROM_NAME_MAX);
        for (const char *c = mail->from_name; st == STSM_OK && *c != '\0'; c++) {
            if (*c < 0x20 || *c > 0x7e || *c == '"' || *c == '\\') {
                st = fail(ctx, path, "expected printable ASCII without quotes");
            }
        }
    }
    if (st == STSM_OK && (item = member(obj, "/mail", "to", path, sizeof path)) != NULL) {
        if (!cJSON_IsArray(item) || cJSON_GetArraySize(item) > STSM_SMTP_MAX_RCPT) {
            return fail(ctx, path, "expected an array of at most %u addresses (STSM_SMTP_MAX_RCPT), got %s",
                        (unsigned)STSM_SMTP_MAX_RCPT, describe(item, seen, sizeof seen));
        }
        const cJSON *to;
        cJSON_ArrayForEach(to, item) {
            char at[48];
            snprintf(at, sizeof at, "/mail/to/%u", (unsigned)mail->to_count);
            if ((st = get_address(ctx, to, at, &mail->to[mail->to_count])) != STSM_OK) {
                return st;
            }
            mail->to_count++;
        }
    }
    return st;
}

static stsm_status_t parse_relay(struct ctx *ctx, const cJSON *obj, struct stsm_settings_delivery *d)
{
    static const char *const keys[] = { "host", "port", "tls", "auth", "policy_domain", NULL };
    static const char *const auth_keys[] = { "user", "password", NULL };
    char path[64];
    long port = 0;
    stsm_status_t st = need_object(ctx, obj, "/delivery/relay", keys);
    const cJSON *item;
    if (st == STSM_OK && (item = member(obj, "/delivery/relay", "host", path, sizeof path)) != NULL) {
        st = get_string(ctx, item, path, &d->relay_host, STSM_SETTINGS_TEXT_MAX);
    }
    if (st == STSM_OK && (item = member(obj, "/delivery/relay", "policy_domain", path, sizeof path)) != NULL) {
        st = get_string(ctx, item, path, &d->relay_policy_domain, STSM_SETTINGS_TEXT_MAX);
    }
    if (st == STSM_OK && (item = member(obj, "/delivery/relay", "tls", path, sizeof path)) != NULL) {
        static const char *const names[] = { "starttls", "implicit", "none", NULL };
        static const enum stsm_settings_relay_tls values[] = { STSM_RELAY_STARTTLS, STSM_RELAY_IMPLICIT,
                                                               STSM_RELAY_NONE };
        int choice;
        if ((st = get_choice(ctx, item, path, names, &choice)) != STSM_OK) {
            return st;
        }
        d->relay_tls = values[choice];
    }
    d->relay_port = d->relay_tls == STSM_RELAY_IMPLICIT ? 465 : 587;
    if (st == STSM_OK && (item = member(obj, "/delivery/relay", "port", path, sizeof path)) != NULL) {
        st = get_int(ctx, item, path, 1, 65535, &port);
        d->relay_port = (uint16_t)port;
    }
    if (st == STSM_OK && (item = member(obj, "/delivery/relay", "auth", path, sizeof path)) != NULL) {
        const cJSON *auth = item;
        if ((st = need_object(ctx, auth, "/delivery/relay/auth", auth_keys)) != STSM_OK) {
            return st;
        }
        const cJSON *user = member(auth, "/delivery/relay/auth", "user", path, sizeof path);
        if (user == NULL) {
            return fail(ctx, path, "required with /delivery/relay/auth");
        }
        if ((st = get_string(ctx, user, path, &d->relay_user, STSM_SETTINGS_TEXT_MAX)) != STSM_OK) {
            return st;
        }
        const cJSON *password = member(auth, "/delivery/relay/auth", "password", path, sizeof path);
        if (password == NULL) {
            return fail(ctx, path, "required with /delivery/relay/auth");
        }
        st = get_text(ctx, password, path, &d->relay_password, STSM_SETTINGS_TEXT_MAX, true);
        if (st == STSM_OK && d->relay_tls == STSM_RELAY_NONE) {
            return fail(ctx, "/delivery/relay/auth", "AUTH is only sent over TLS; not with \"tls\": \"none\"");
        }
    }
    if (st == STSM_OK && d->relay_host[0] == '\0') {
        return fail(ctx, "/delivery/relay/host", "required in relay mode");
    }
    return st;
}

static stsm_status_t parse_delivery(struct ctx *ctx, const cJSON *obj, struct stsm_settings_delivery *d)
{
    /* require_tls is listed so that an old file gets told what replaced it. */
    static const char *const keys[] = { "mode", "tls_level", "require_tls", "opportunistic_plaintext",
                                        "timeout_percent", "attempt_timeout", "relay", NULL };
    char path[64];
    long percent, seconds;
    stsm_status_t st = need_object(ctx, obj, "/delivery", keys);
    const cJSON *item;
    if (st == STSM_OK && (item = member(obj, "/delivery", "mode", path, sizeof path)) != NULL) {
        static const char *const names[] = { "mx", "relay", NULL };
        static const enum stsm_settings_mode values[] = { STSM_DELIVERY_MX, STSM_DELIVERY_RELAY };
        int choice;
        if ((st = get_choice(ctx, item, path, names, &choice)) != STSM_OK) {
            return st;
        }
        d->mode = values[choice];
    }
    if (st == STSM_OK && (item = member(obj, "/delivery", "require_tls", path, sizeof path)) != NULL) {
        return fail(ctx, path, "replaced by /delivery/tls_level (\"verify\")");
    }
    if (st == STSM_OK && (item = member(obj, "/delivery", "tls_level", path, sizeof path)) != NULL) {
        static const char *const names[] = { "may", "encrypt", "verify", NULL };
        static const enum stsm_tls_level values[] = { STSM_TLS_LEVEL_MAY, STSM_TLS_LEVEL_ENCRYPT,
                                                      STSM_TLS_LEVEL_VERIFY };
        int choice;
        if ((st = get_choice(ctx, item, path, names, &choice)) != STSM_OK) {
            return st;
        }
        d->tls_level = values[choice];
    }
    if (st == STSM_OK && (item = member(obj, "/delivery", "attempt_timeout", path, sizeof path)) != NULL) {
        st = get_int(ctx, item, path, 10, 86400, &seconds);
        d->attempt_timeout_s = (uint32_t)seconds;
    }
    if (st == STSM_OK && (item = member(obj, "/delivery", "opportunistic_plaintext", path, sizeof path)) != NULL) {
        st = get_bool(ctx, item, path, &d->opportunistic_plaintext);
    }
    if (st == STSM_OK && (item = member(obj, "/delivery", "timeout_percent", path, sizeof path)) != NULL) {
        st = get_int(ctx, item, path, 1, 1000, &percent);
        d->timeout_percent = (uint16_t)percent;
    }
    item = cJSON_GetObjectItemCaseSensitive(obj, "relay");
    if (st == STSM_OK && d->mode == STSM_DELIVERY_RELAY && item == NULL) {
        return fail(ctx, "/delivery/relay", "required when /delivery/mode is \"relay\"");
    }
    if (st == STSM_OK && item != NULL) {
        st = parse_relay(ctx, item, d);
    }
    return st;
}

unsigned stsm_settings_strict_scope(const char *name, size_t len)
{
    if (len == 2 && memcmp(name, "mx", 2) == 0) {
        return STSM_STRICT_CNAME_MX;
    }
    if (len == 11 && memcmp(name, "policy_host", 11) == 0) {
        return STSM_STRICT_CNAME_POLICY_HOST;
    }
    if (len == 3 && memcmp(name, "txt", 3) == 0) {
        return STSM_STRICT_CNAME_TXT;
    }
    return 0;
}

static stsm_status_t parse_mta_sts(struct ctx *ctx, const cJSON *obj, struct stsm_settings_mta_sts *m)
{
    static const char *const keys[] = { "enabled", "strict_cname", "fetch_timeout", "relax_content_type",
                                        "cache_file", NULL };
    char path[64], seen[64];
    long seconds;
    stsm_status_t st = need_object(ctx, obj, "/mta_sts", keys);
    const cJSON *item;
    if (st == STSM_OK && (item = member(obj, "/mta_sts", "enabled", path, sizeof path)) != NULL) {
        st = get_bool(ctx, item, path, &m->enabled);
    }
    if (st == STSM_OK && (item = member(obj, "/mta_sts", "relax_content_type", path, sizeof path)) != NULL) {
        st = get_bool(ctx, item, path, &m->relax_content_type);
    }
    if (st == STSM_OK && (item = member(obj, "/mta_sts", "cache_file", path, sizeof path)) != NULL) {
        st = get_string(ctx, item, path, &m->cache_file, STSM_SETTINGS_PATH_MAX);
    }
    if (st == STSM_OK && (item = member(obj, "/mta_sts", "fetch_timeout", path, sizeof path)) != NULL) {
        st = get_int(ctx, item, path, 1, 600, &seconds);
        m->fetch_timeout_ms = (uint32_t)seconds * 1000u;
    }
    if (st == STSM_OK && (item = member(obj, "/mta_sts", "strict_cname", path, sizeof path)) != NULL) {
        if (!cJSON_IsArray(item)) {
            return fail(ctx, path, "expected an array of \"mx\", \"policy_host\", \"txt\", got %s",
                        describe(item, seen, sizeof seen));
        }
        const cJSON *scope;
        unsigned index = 0;
        cJSON_ArrayForEach(scope, item) {
            unsigned bit = cJSON_IsString(scope) ? stsm_settings_strict_scope(scope->valuestring,
                                                                             strlen(scope->valuestring)) : 0;
            if (bit == 0) {
                snprintf(path, sizeof path, "/mta_sts/strict_cname/%u", index);
                return fail(ctx, path, "expected \"mx\", \"policy_host\" or \"txt\", got %s",
                            describe(scope, seen, sizeof seen));
            }
            m->strict_cname |= bit;
            index++;
        }
    }
    return st;
}

/* Reads an optional integer member into a uint32_t; absent leaves the default. */
static stsm_status_t get_u32_member(struct ctx *ctx, const cJSON *obj, const char *parent, const char *key,
                                    long min, long max, uint32_t *out)
{
    char path[64];
    long value;
    const cJSON *item = member(obj, parent, key, path, sizeof path);
    if (item == NULL) {
        return STSM_OK;
    }
    stsm_status_t st = get_int(ctx, item, path, min, max, &value);
    if (st == STSM_OK) {
        *out = (uint32_t)value;
    }
    return st;
}

static stsm_status_t parse_outbox(struct ctx *ctx, const cJSON *obj, struct stsm_settings_outbox *o)
{
    static const char *const keys[] = { "retry_first", "retry_max", "give_up", "coalesce_window",
                                        "domain_hourly_cap", "when_full", "store_file", "store_size", NULL };
    char path[64], seen[64];
    stsm_status_t st = need_object(ctx, obj, "/outbox", keys);
    const cJSON *item;
    if (st == STSM_OK) {
        st = get_u32_member(ctx, obj, "/outbox", "retry_first", 1, 86400, &o->retry_first_s);
    }
    if (st == STSM_OK) {
        st = get_u32_member(ctx, obj, "/outbox", "retry_max", 1, 604800, &o->retry_max_s);
    }
    /* Named at retry_max whichever of the two was set: the cap is what must not be below
     * the start (a retry_first above the default cap is fixed by raising retry_max). */
    if (st == STSM_OK && o->retry_max_s < o->retry_first_s) {
        return fail(ctx, "/outbox/retry_max", "must be at least /outbox/retry_first (%lu), got %lu",
                    (unsigned long)o->retry_first_s, (unsigned long)o->retry_max_s);
    }
    if (st == STSM_OK) {
        st = get_u32_member(ctx, obj, "/outbox", "give_up", 60, 2592000, &o->give_up_s);
    }
    if (st == STSM_OK) {
        st = get_u32_member(ctx, obj, "/outbox", "coalesce_window", 0, 86400, &o->coalesce_window_s);
    }
    if (st == STSM_OK) {
        st = get_u32_member(ctx, obj, "/outbox", "domain_hourly_cap", 0, 10000, &o->domain_hourly_cap);
    }
    if (st == STSM_OK && (item = member(obj, "/outbox", "when_full", path, sizeof path)) != NULL) {
        static const char *const names[] = { "refuse", "drop_lower", NULL };
        int choice;
        if ((st = get_choice(ctx, item, path, names, &choice)) != STSM_OK) {
            return st;
        }
        o->drop_lower_when_full = choice == 1;
    }
    if (st == STSM_OK && (item = member(obj, "/outbox", "store_file", path, sizeof path)) != NULL) {
        st = get_string(ctx, item, path, &o->store_file, STSM_SETTINGS_PATH_MAX);
    }
    if (st == STSM_OK && (item = member(obj, "/outbox", "store_size", path, sizeof path)) != NULL) {
        /* Whole 4 KiB pages, at least three: stsm_store mounts no smaller ring. */
        double v = cJSON_IsNumber(item) ? item->valuedouble : 0.0;
        if (!(v >= 12288.0 && v <= 262144.0) || v != (double)(long)v || (long)v % 4096 != 0) {
            return fail(ctx, path, "expected a multiple of 4096 from 12288 to 262144, got %s",
                        describe(item, seen, sizeof seen));
        }
        o->store_size = (uint32_t)v;
    }
    return st;
}

static stsm_status_t parse_root(struct ctx *ctx, const cJSON *root, struct stsm_settings *settings)
{
    static const char *const keys[] = { "device", "network", "mail", "delivery", "tls", "mta_sts", "outbox",
                                        NULL };
    char seen[64];
    stsm_status_t st;

    if (!cJSON_IsObject(root)) {
        return fail(ctx, "/", "expected an object, got %s", describe(root, seen, sizeof seen));
    }
    if ((st = only_known_keys(ctx, root, "", keys)) != STSM_OK) {
        return st;
    }
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(root, "device");
    if (item != NULL && (st = parse_device(ctx, item, &settings->device)) != STSM_OK) {
        return st;
    }
    item = cJSON_GetObjectItemCaseSensitive(root, "network");
    if (item != NULL && (st = parse_network(ctx, item, &settings->network)) != STSM_OK) {
        return st;
    }
    item = cJSON_GetObjectItemCaseSensitive(root, "mail");
    if (item != NULL && (st = parse_mail(ctx, item, &settings->mail)) != STSM_OK) {
        return st;
    }
    item = cJSON_GetObjectItemCaseSensitive(root, "delivery");
    if (item != NULL && (st = parse_delivery(ctx, item, &settings->delivery)) != STSM_OK) {
        return st;
    }
    item = cJSON_GetObjectItemCaseSensitive(root, "mta_sts");
    if (item != NULL && (st = parse_mta_sts(ctx, item, &settings->mta_sts)) != STSM_OK) {
        return st;
    }
    item = cJSON_GetObjectItemCaseSensitive(root, "tls");
    if (item != NULL && (st = parse_tls(ctx, item, &settings->tls)) != STSM_OK) {
        return st;
    }
    item = cJSON_GetObjectItemCaseSensitive(root, "outbox");
    if (item != NULL && (st = parse_outbox(ctx, item, &settings->outbox)) != STSM_OK) {
        return st;
    }
    return STSM_OK;
}

stsm_status_t stsm_settings_parse(const char *json, size_t len, struct stsm_settings *settings,
                                  char *why, size_t why_len)
{
    struct ctx ctx = { why, why_len, settings };
    cJSON_Hooks hooks = { arena_alloc, arena_free };

    stsm_settings_clear(settings);
    settings->network.dhcp = true;
    settings->delivery.opportunistic_plaintext = true;
    settings->delivery.timeout_percent = 100;
    settings->delivery.tls_level = STSM_TLS_LEVEL_MAY;
    settings->delivery.attempt_timeout_s = 1800;
    settings->delivery.relay_port = 587;
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
        while (at < len && (json[at] == ' ' || json[at] == '\t' || json[at] == '\r' ||
                            json[at] == '\n')) {
            at++;
        }
        st = at < len ? fail(&ctx, "/", "not valid JSON (text after the value at byte %u)",
                             (unsigned)at)
                      : check_strings(&ctx, json, (size_t)(end - json));
        if (st == STSM_OK) {
            st = parse_root(&ctx, root, settings);
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
