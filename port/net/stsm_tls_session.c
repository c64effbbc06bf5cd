#include "stsm_tls_session.h"

#include <stdbool.h>
#include <string.h>

#include "stsm_wipe.h"

/* A slot's bytes include the resumption secret (TLS 1.3) or the master secret (TLS 1.2):
 * never left behind in a slot that changes hands. Not inlined: three callers. */
__attribute__((noinline)) static void wipe_slot(struct stsm_tls_session_slot *s)
{
    stsm_wipe(s, sizeof *s);
}

/* A board may keep no session at all (STSM_TLS_SESSION_SLOTS 0: every connection a full
 * handshake); a constant object, not the macro, so the loops compile without a warning
 * that they never run. */
static const size_t slot_count = STSM_TLS_SESSION_SLOTS;

static struct stsm_tls_session_slot *find(struct stsm_tls_session_table *table, const char *host,
                                          uint16_t port)
{
    for (size_t i = 0; i < slot_count; i++) {
        struct stsm_tls_session_slot *s = &table->slot[i];
        if (s->used != 0 && s->port == port && strcmp(s->host, host) == 0) {
            return s;
        }
    }
    return NULL;
}

static bool host_ok(const char *host)
{
    return host != NULL && host[0] != '\0' && memchr(host, '\0', STSM_HOSTNAME_MAX + 1) != NULL;
}

/* The table clock orders slots by last use; it starts over (every slot at 1) long before
 * it could wrap, so that 0 keeps meaning "empty". */
static uint32_t tick(struct stsm_tls_session_table *table)
{
    if (table->clock >= UINT32_MAX - 1) {
        table->clock = 1;
        for (size_t i = 0; i < slot_count; i++) {
            if (table->slot[i].used != 0) {
                table->slot[i].used = 1;
            }
        }
    }
    return ++table->clock;
}

void stsm_tls_session_init(struct stsm_tls_session_table *table)
{
    stsm_wipe(table, sizeof *table);
}

unsigned char *stsm_tls_session_reserve(struct stsm_tls_session_table *table, const char *host,
                                        uint16_t port, size_t *cap)
{
    *cap = 0;
    if (!host_ok(host)) {
        return NULL;
    }
    struct stsm_tls_session_slot *s = find(table, host, port);
    for (size_t i = 0; s == NULL && i < slot_count; i++) {
        if (table->slot[i].used == 0) {
            s = &table->slot[i];
        }
    }
    if (s == NULL && slot_count == 0) {
        return NULL;   /* no slot to keep it in */
    }
    if (s == NULL) {   /* every slot holds a session: the least recently used gives way */
        s = &table->slot[0];
        for (size_t i = 1; i < slot_count; i++) {
            if (table->slot[i].used < s->used) {
                s = &table->slot[i];
            }
        }
    }
    wipe_slot(s);
    s->port = port;
    memcpy(s->host, host, strlen(host) + 1);
    *cap = sizeof s->blob;
    return s->blob;
}

void stsm_tls_session_commit(struct stsm_tls_session_table *table, unsigned char *blob, size_t len)
{
    for (size_t i = 0; i < slot_count; i++) {
        struct stsm_tls_session_slot *s = &table->slot[i];
        if (s->blob != blob) {
            continue;
        }
        if (len == 0 || len > sizeof s->blob) {
            wipe_slot(s);
            table->not_kept++;
            return;
        }
        s->len = (uint16_t)len;
        s->used = tick(table);
        return;
    }
}

stsm_status_t stsm_tls_session_put(struct stsm_tls_session_table *table, const char *host, uint16_t port,
                                   const void *blob, size_t len)
{
    if (!host_ok(host)) {
        return STSM_ERR_ARGUMENT;
    }
    if (len == 0 || len > STSM_TLS_SESSION_BLOB_MAX) {
        stsm_tls_session_drop(table, host, port);
        table->not_kept++;
        return STSM_ERR_CAPACITY;
    }
    size_t cap;
    unsigned char *dst = stsm_tls_session_reserve(table, host, port, &cap);
    if (dst == NULL) {   /* no slots */
        table->not_kept++;
        return STSM_ERR_CAPACITY;
    }
    memcpy(dst, blob, len);
    stsm_tls_session_commit(table, dst, len);
    return STSM_OK;
}

const unsigned char *stsm_tls_session_get(struct stsm_tls_session_table *table, const char *host,
                                          uint16_t port, size_t *len)
{
    *len = 0;
    if (!host_ok(host)) {
        return NULL;
    }
    struct stsm_tls_session_slot *s = find(table, host, port);
    if (s == NULL) {
        return NULL;
    }
    s->used = tick(table);
    *len = s->len;
    return s->blob;
}

void stsm_tls_session_drop(struct stsm_tls_session_table *table, const char *host, uint16_t port)
{
    struct stsm_tls_session_slot *s = host_ok(host) ? find(table, host, port) : NULL;
    if (s != NULL) {
        wipe_slot(s);
    }
}

void stsm_tls_session_forget_all(struct stsm_tls_session_table *table)
{
    uint32_t clock = table->clock, not_kept = table->not_kept;
    stsm_wipe(table, sizeof *table);
    table->clock = clock;
    table->not_kept = not_kept;
}

uint32_t stsm_tls_session_not_kept(const struct stsm_tls_session_table *table)
{
    return table->not_kept;
}

size_t stsm_tls_session_count(const struct stsm_tls_session_table *table)
{
    size_t n = 0;
    for (size_t i = 0; i < slot_count; i++) {
        n += table->slot[i].used != 0;
    }
    return n;
}
