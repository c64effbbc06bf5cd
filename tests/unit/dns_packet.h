/*
 * Builder of DNS messages for tests: answers (well-formed or deliberately broken) are
 * assembled byte by byte, so each test shows exactly what the server sent.
 */
#ifndef DNS_PACKET_H
#define DNS_PACKET_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

struct pkt {
    uint8_t b[4096];
    size_t n;
};

static inline void pkt_u8(struct pkt *p, unsigned v)
{
    p->b[p->n++] = (uint8_t)v;
}

static inline void pkt_u16(struct pkt *p, unsigned v)
{
    pkt_u8(p, v >> 8);
    pkt_u8(p, v);
}

static inline void pkt_u32(struct pkt *p, uint32_t v)
{
    pkt_u16(p, v >> 16);
    pkt_u16(p, v & 0xFFFFu);
}

static inline void pkt_bytes(struct pkt *p, const void *data, size_t n)
{
    memcpy(p->b + p->n, data, n);
    p->n += n;
}

/* Labels of a dotted name, without the terminating root label. */
static inline void pkt_labels(struct pkt *p, const char *name)
{
    while (*name != '\0') {
        const char *dot = strchr(name, '.');
        size_t len = dot ? (size_t)(dot - name) : strlen(name);
        pkt_u8(p, (unsigned)len);
        pkt_bytes(p, name, len);
        name += len + (dot ? 1 : 0);
    }
}

/* A full name ("" is the root). */
static inline void pkt_name(struct pkt *p, const char *name)
{
    pkt_labels(p, name);
    pkt_u8(p, 0);
}

/* A compression pointer to `offset`. */
static inline void pkt_ptr(struct pkt *p, size_t offset)
{
    pkt_u16(p, 0xC000u | (unsigned)offset);
}

/* Header of a response: QR set, RD+RA set, with the given rcode and counts. */
static inline void pkt_header(struct pkt *p, unsigned id, unsigned extra_flags, unsigned rcode,
                              unsigned qd, unsigned an, unsigned ns, unsigned ar)
{
    p->n = 0;
    pkt_u16(p, id);
    pkt_u16(p, 0x8180u | extra_flags | rcode);
    pkt_u16(p, qd);
    pkt_u16(p, an);
    pkt_u16(p, ns);
    pkt_u16(p, ar);
}

/* The question section; the name starts at offset 12 (pointer target QNAME_AT). */
#define QNAME_AT 12
static inline void pkt_question(struct pkt *p, const char *name, unsigned type)
{
    pkt_name(p, name);
    pkt_u16(p, type);
    pkt_u16(p, 1);
}

/* Start of a resource record whose owner name the caller has just written. */
static inline void pkt_rr_fixed(struct pkt *p, unsigned type, uint32_t ttl, unsigned rdlen)
{
    pkt_u16(p, type);
    pkt_u16(p, 1);
    pkt_u32(p, ttl);
    pkt_u16(p, rdlen);
}

static inline void pkt_rr_a(struct pkt *p, const char *owner, uint8_t a, uint8_t b, uint8_t c, uint8_t d)
{
    pkt_name(p, owner);
    pkt_rr_fixed(p, 1, 300, 4);
    uint8_t addr[4] = { a, b, c, d };
    pkt_bytes(p, addr, 4);
}

static inline void pkt_rr_cname(struct pkt *p, const char *owner, const char *target)
{
    pkt_name(p, owner);
    pkt_rr_fixed(p, 5, 300, (unsigned)(strlen(target) + 2));
    pkt_name(p, target);
}

static inline void pkt_rr_mx(struct pkt *p, const char *owner, unsigned pref, const char *exchange)
{
    pkt_name(p, owner);
    pkt_rr_fixed(p, 15, 300, (unsigned)(2 + (exchange[0] ? strlen(exchange) + 2 : 1)));
    pkt_u16(p, pref);
    pkt_name(p, exchange);
}

/* A TXT record made of the given strings (NULL-terminated list). */
static inline void pkt_rr_txt(struct pkt *p, const char *owner, ...)
{
    va_list ap;
    size_t rdlen = 0;
    pkt_name(p, owner);
    va_start(ap, owner);
    for (const char *s = va_arg(ap, const char *); s != NULL; s = va_arg(ap, const char *)) {
        rdlen += 1 + strlen(s);
    }
    va_end(ap);
    pkt_rr_fixed(p, 16, 300, (unsigned)rdlen);
    va_start(ap, owner);
    for (const char *s = va_arg(ap, const char *); s != NULL; s = va_arg(ap, const char *)) {
        pkt_u8(p, (unsigned)strlen(s));
        pkt_bytes(p, s, strlen(s));
    }
    va_end(ap);
}

/* The reply to the query `q` of `n` bytes, for scripted servers: its ID and question as
 * asked (the query's OPT record left out) with the A record `a4` for that name, or, when
 * `a4` is NULL, no answer and TC set. Returns false if `q` is too short to hold a question. */
static inline bool pkt_reply_a(struct pkt *r, const uint8_t *q, size_t n, const uint8_t *a4)
{
    size_t qend = QNAME_AT;
    while (qend < n && q[qend] != 0) {
        qend += 1u + q[qend];
    }
    qend += 5;
    if (n < QNAME_AT + 5 || qend > n) {
        return false;
    }
    pkt_header(r, (unsigned)q[0] << 8 | q[1], a4 == NULL ? 0x0200u : 0, 0, 1, a4 == NULL ? 0 : 1, 0, 0);
    pkt_bytes(r, q + QNAME_AT, qend - QNAME_AT);
    if (a4 != NULL) {
        pkt_ptr(r, QNAME_AT);
        pkt_rr_fixed(r, 1, 60, 4);
        pkt_bytes(r, a4, 4);
    }
    return true;
}

#endif /* DNS_PACKET_H */
