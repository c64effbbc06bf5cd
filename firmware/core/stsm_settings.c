#include "stsm_settings.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cJSON.h"
#include "stsm_ipv4.h"

/* ---- cJSON's arena: a bump allocator that lives only for one parse ------------------- */

static uint8_t arena[STSM_SETTINGS_ARENA_SIZE];
static size_t arena_used;
static bool arena_exhausted;

static void *arena_alloc(size_t size)
{
    size_t aligned = (size + 7u) & ~(size_t)7u;
    if (aligned < size || aligned > sizeof arena - arena_used) {
        arena_exhausted = true;
        return NULL;
    }
    void *p = arena + arena_used;
    arena_used += aligned;
    return p;
}

static void arena_free(void *p)
{
    (void)p;   /* everything goes at once when the parse ends */
}

/* ---- errors that name the JSON path ------------------------------------------------- */

struct ctx {
    char *why;
    size_t why_len;
};

__attribute__((format(printf, 3, 4)))
static stsm_status_t fail(struct ctx *ctx, const char *path, const char *fmt, ...)
{
    int n = snprintf(ctx->why, ctx->why_len, "%s: ", path);
    if (n >= 0 && (size_t)n < ctx->why_len) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(ctx->why + n, ctx->why_len - (size_t)n, fmt, ap);
        va_end(ap);
    }
    return STSM_ERR_ARGUMENT;
}

/* Describes a JSON value the way an error message quotes it. */
static const char *describe(const cJSON *item, char *buf, size_t len)
{
    if (cJSON_IsString(item)) {
        snprintf(buf, len, "\"%.40s\"", item->valuestring);
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

/* Refuses keys of `obj` that are not in `known` (NULL-terminated). */
static stsm_status_t only_known_keys(struct ctx *ctx, const cJSON *obj, const char *path,
                                     const char *const known[])
{
    for (const cJSON *item = obj->child; item != NULL; item = item->next) {
        bool ok = false;
        for (size_t i = 0; known[i] != NULL && !ok; i++) {
            ok = strcmp(item->string, known[i]) == 0;
        }
        if (!ok) {
            char at[128];
            join(at, sizeof at, path, item->string);
            return fail(ctx, at, "unknown key");
        }
    }
    return STSM_OK;
}

/* Copies a string value of at most `cap - 1` bytes, non-empty. */
static stsm_status_t get_string(struct ctx *ctx, const cJSON *item, const char *path, char *out,
                                size_t cap)
{
    char seen[64];
    if (!cJSON_IsString(item) || item->valuestring[0] == '\0' || strlen(item->valuestring) >= cap) {
        return fail(ctx, path, "expected a non-empty string of at most %u characters, got %s",
                    (unsigned)(cap - 1), describe(item, seen, sizeof seen));
    }
    memcpy(out, item->valuestring, strlen(item->valuestring) + 1);
    return STSM_OK;
}

static stsm_status_t get_ipv4(struct ctx *ctx, const cJSON *item, const char *path, uint8_t out[4],
                              uint8_t *prefix_len)
{
    char seen[64];
    if (!cJSON_IsString(item) || !stsm_ipv4_parse(item->valuestring, out, prefix_len)) {
        return fail(ctx, path, prefix_len ? "expected an IPv4 address with a prefix like "
                                            "\"192.0.2.11/24\", got %s"
                                          : "expected an IPv4 address like \"192.0.2.1\", got %s",
                    describe(item, seen, sizeof seen));
    }
    return STSM_OK;
}

/* ---- sections ---------------------------------------------------------------------- */

static stsm_status_t parse_network(struct ctx *ctx, const cJSON *obj, struct stsm_settings_network *net)
{
    static const char *const keys[] = { "interface", "address", "gateway", "dns", NULL };
    char seen[64];
    stsm_status_t st;

    if (!cJSON_IsObject(obj)) {
        return fail(ctx, "/network", "expected an object, got %s", describe(obj, seen, sizeof seen));
    }
    if ((st = only_known_keys(ctx, obj, "/network", keys)) != STSM_OK) {
        return st;
    }
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, "interface");
    if (item != NULL &&
        (st = get_string(ctx, item, "/network/interface", net->interface, sizeof net->interface)) != STSM_OK) {
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
    char seen[64];
    stsm_status_t st;

    if (!cJSON_IsObject(obj)) {
        return fail(ctx, "/tls", "expected an object, got %s", describe(obj, seen, sizeof seen));
    }
    if ((st = only_known_keys(ctx, obj, "/tls", keys)) != STSM_OK) {
        return st;
    }
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, "trust_store");
    if (item != NULL) {
        return get_string(ctx, item, "/tls/trust_store", tls->trust_store, sizeof tls->trust_store);
    }
    return STSM_OK;
}

static stsm_status_t parse_root(struct ctx *ctx, const cJSON *root, struct stsm_settings *settings)
{
    static const char *const keys[] = { "network", "tls", NULL };
    char seen[64];
    stsm_status_t st;

    if (!cJSON_IsObject(root)) {
        return fail(ctx, "/", "expected an object, got %s", describe(root, seen, sizeof seen));
    }
    if ((st = only_known_keys(ctx, root, "", keys)) != STSM_OK) {
        return st;
    }
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(root, "network");
    if (item != NULL && (st = parse_network(ctx, item, &settings->network)) != STSM_OK) {
        return st;
    }
    item = cJSON_GetObjectItemCaseSensitive(root, "tls");
    if (item != NULL && (st = parse_tls(ctx, item, &settings->tls)) != STSM_OK) {
        return st;
    }
    return STSM_OK;
}

stsm_status_t stsm_settings_parse(const char *json, size_t len, struct stsm_settings *settings,
                                  char *why, size_t why_len)
{
    struct ctx ctx = { why, why_len };
    cJSON_Hooks hooks = { arena_alloc, arena_free };

    memset(settings, 0, sizeof *settings);
    settings->network.dhcp = true;

    arena_used = 0;
    arena_exhausted = false;
    cJSON_InitHooks(&hooks);
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(json, len, &end, false);
    stsm_status_t st;
    if (root == NULL) {
        if (arena_exhausted) {
            st = fail(&ctx, "/", "settings too large for the %u-byte parse arena",
                      (unsigned)sizeof arena);
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
                      : parse_root(&ctx, root, settings);
    }
    cJSON_Delete(root);
    cJSON_InitHooks(NULL);   /* back to the C library for anyone else using cJSON */
    arena_used = 0;
    if (st != STSM_OK) {
        memset(settings, 0, sizeof *settings);
    }
    return st;
}
