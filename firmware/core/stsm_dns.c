#include "stsm_dns.h"

#include <string.h>

#include "stsm_cursor.h"

#define FLAG_QR       0x8000u
#define FLAG_TC       0x0200u
#define FLAG_RD       0x0100u
#define OPCODE(flags) (((flags) >> 11) & 0xFu)
#define RCODE(flags)  ((flags) & 0xFu)

#define RCODE_NOERROR  0
#define RCODE_NXDOMAIN 3

#define NAME_WIRE_MAX  255
#define LABEL_MAX      63

/* ---- names ------------------------------------------------------------------------- */

static char ascii_lower(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

bool stsm_dns_name_equal(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 0 && a[la - 1] == '.') {
        la--;
    }
    if (lb > 0 && b[lb - 1] == '.') {
        lb--;
    }
    if (la != lb) {
        return false;
    }
    for (size_t i = 0; i < la; i++) {
        if (ascii_lower(a[i]) != ascii_lower(b[i])) {
            return false;
        }
    }
    return true;
}

/* Appends one label byte to `out` in presentation form: '.', '\\' and bytes outside
 * printable ASCII become \DDD, so distinct wire names never share a text form. */
static bool put_label_byte(char *out, size_t cap, size_t *n, uint8_t b)
{
    if (b > 0x20 && b < 0x7f && b != '.' && b != '\\') {
        if (*n + 1 >= cap) {
            return false;
        }
        out[(*n)++] = (char)b;
        return true;
    }
    if (*n + 4 >= cap) {
        return false;
    }
    out[(*n)++] = '\\';
    out[(*n)++] = (char)('0' + b / 100);
    out[(*n)++] = (char)('0' + (b / 10) % 10);
    out[(*n)++] = (char)('0' + b % 10);
    return true;
}

/*
 * Reads the (possibly compressed) name at the cursor into `text` ("" for the root) and
 * leaves the cursor after the name's bytes at that place. Compression pointers must point
 * strictly backwards and are followed at most STSM_DNS_MAX_POINTERS times, so hostile
 * input cannot loop; the expanded name is capped at 255 octets.
 */
static stsm_status_t read_name(struct stsm_cursor *c, char *text, size_t cap)
{
    struct stsm_cursor walk = *c;
    bool jumped = false;
    unsigned pointers = 0;
    size_t wire_len = 1;   /* the terminating root label */
    size_t n = 0;

    for (;;) {
        size_t here = walk.pos;
        uint8_t len;
        if (!stsm_cursor_u8(&walk, &len)) {
            return STSM_ERR_DNS_MALFORMED;
        }
        if (len == 0) {
            break;
        }
        if ((len & 0xC0u) == 0xC0u) {
            uint8_t low;
            if (!stsm_cursor_u8(&walk, &low)) {
                return STSM_ERR_DNS_MALFORMED;
            }
            size_t target = ((size_t)(len & 0x3Fu) << 8) | low;
            if (target >= here || ++pointers > STSM_DNS_MAX_POINTERS) {
                return STSM_ERR_DNS_MALFORMED;
            }
            if (!jumped) {
                c->pos = walk.pos;   /* the name ends, in place, after its first pointer */
                jumped = true;
            }
            stsm_cursor_seek(&walk, target);
            continue;
        }
        if ((len & 0xC0u) != 0) {
            return STSM_ERR_DNS_MALFORMED;   /* 0x40 and 0x80 label types are obsolete */
        }
        wire_len += 1u + len;
        if (wire_len > NAME_WIRE_MAX) {
            return STSM_ERR_DNS_MALFORMED;
        }
        if (stsm_cursor_remaining(&walk) < len) {
            return STSM_ERR_DNS_MALFORMED;
        }
        if (n > 0) {
            if (n + 1 >= cap) {
                return STSM_ERR_CAPACITY;
            }
            text[n++] = '.';
        }
        for (uint8_t i = 0; i < len; i++) {
            if (!put_label_byte(text, cap, &n, walk.buf[walk.pos + i])) {
                return STSM_ERR_CAPACITY;
            }
        }
        stsm_cursor_skip(&walk, len);
    }
    if (!jumped) {
        c->pos = walk.pos;
    }
    text[n] = '\0';
    return STSM_OK;
}

/* Writes `name` (text) in wire form. Labels are 1..63 bytes, the whole at most 255. */
static stsm_status_t write_name(const char *name, uint8_t *buf, size_t cap, size_t *pos)
{
    size_t len = strlen(name);
    if (len > 0 && name[len - 1] == '.') {
        len--;
    }
    if (len == 0 || len > STSM_HOSTNAME_MAX) {
        return STSM_ERR_ARGUMENT;
    }
    if (*pos + len + 2 > cap) {
        return STSM_ERR_CAPACITY;
    }
    size_t start = 0;
    while (start <= len) {
        size_t end = start;
        while (end < len && name[end] != '.') {
            uint8_t b = (uint8_t)name[end];
            if (b <= 0x20 || b >= 0x7f || b == '\\') {
                return STSM_ERR_ARGUMENT;
            }
            end++;
        }
        size_t label = end - start;
        if (label == 0 || label > LABEL_MAX) {
            return STSM_ERR_ARGUMENT;
        }
        buf[(*pos)++] = (uint8_t)label;
        memcpy(buf + *pos, name + start, label);
        *pos += label;
        start = end + 1;
    }
    buf[(*pos)++] = 0;
    return STSM_OK;
}

/* ---- queries ----------------------------------------------------------------------- */

static void put_u16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

stsm_status_t stsm_dns_encode_query(const struct stsm_dns_query *query, uint8_t *buf, size_t cap,
                                    size_t *len)
{
    if (stsm_dns_type_str(query->type) == NULL || query->type == STSM_DNS_TYPE_CNAME) {
        return STSM_ERR_ARGUMENT;
    }
    if (cap < STSM_DNS_HEADER_LEN) {
        return STSM_ERR_CAPACITY;
    }
    put_u16(buf, query->id);
    put_u16(buf + 2, FLAG_RD);
    put_u16(buf + 4, 1);   /* QDCOUNT */
    put_u16(buf + 6, 0);   /* ANCOUNT */
    put_u16(buf + 8, 0);   /* NSCOUNT */
    put_u16(buf + 10, 1);  /* ARCOUNT: the OPT record */
    size_t pos = STSM_DNS_HEADER_LEN;
    stsm_status_t st = write_name(query->name, buf, cap, &pos);
    if (st != STSM_OK) {
        return st;
    }
    /* QTYPE, QCLASS, then OPT: root owner, type 41, class = UDP payload size, TTL 0
     * (extended RCODE 0, version 0, DO clear), no options. */
    static const size_t tail_len = 4 + 11;
    if (pos + tail_len > cap) {
        return STSM_ERR_CAPACITY;
    }
    put_u16(buf + pos, query->type);
    put_u16(buf + pos + 2, STSM_DNS_CLASS_IN);
    pos += 4;
    buf[pos++] = 0;
    put_u16(buf + pos, STSM_DNS_TYPE_OPT);
    put_u16(buf + pos + 2, STSM_DNS_EDNS_PAYLOAD);
    memset(buf + pos + 4, 0, 6);   /* TTL and RDLENGTH */
    pos += 10;
    *len = pos;
    return STSM_OK;
}

/* ---- answers ----------------------------------------------------------------------- */

/* The fixed part of a resource record, after its owner name. */
struct rr_head {
    uint16_t type;
    uint16_t class_;
    uint32_t ttl;
    uint16_t rdlen;
    size_t rdata;          /* offset of RDATA in the message */
};

static stsm_status_t read_rr(struct stsm_cursor *c, char *owner, size_t cap, struct rr_head *rr)
{
    stsm_status_t st = read_name(c, owner, cap);
    if (st != STSM_OK) {
        return st;
    }
    uint32_t type_class;
    if (!stsm_cursor_u32(c, &type_class) || !stsm_cursor_u32(c, &rr->ttl) || !stsm_cursor_u16(c, &rr->rdlen)) {
        return STSM_ERR_DNS_MALFORMED;
    }
    rr->type = (uint16_t)(type_class >> 16);
    rr->class_ = (uint16_t)type_class;
    rr->rdata = c->pos;
    return stsm_cursor_skip(c, rr->rdlen) ? STSM_OK : STSM_ERR_DNS_MALFORMED;
}

static stsm_status_t pool_add(struct stsm_dns_answer *a, const char *bytes, size_t n,
                              uint16_t *offset)
{
    if (n + 1 > sizeof a->pool - a->pool_used) {
        return STSM_ERR_CAPACITY;
    }
    *offset = (uint16_t)a->pool_used;
    memcpy(a->pool + a->pool_used, bytes, n);
    a->pool[a->pool_used + n] = '\0';
    a->pool_used += n + 1;
    return STSM_OK;
}

/* Not inlined into its uses here: a call is smaller. */
__attribute__((noinline)) const char *stsm_dns_str(const struct stsm_dns_answer *answer, uint16_t offset)
{
    return offset < answer->pool_used ? answer->pool + offset : "";
}

/* Reads the name inside RDATA that must end exactly where the RDATA ends. */
static stsm_status_t read_rdata_name(const uint8_t *msg, size_t len, const struct rr_head *rr,
                                     size_t skip, char *text, size_t cap)
{
    struct stsm_cursor c;
    stsm_cursor_init(&c, msg, len);
    stsm_cursor_seek(&c, rr->rdata + skip);
    stsm_status_t st = read_name(&c, text, cap);
    if (st == STSM_OK && c.pos != rr->rdata + rr->rdlen) {
        st = STSM_ERR_DNS_MALFORMED;
    }
    return st;
}

/* Finds the target of a CNAME owned by `owner` in the answer section, and its TTL; ""
 * when none. */
static stsm_status_t find_cname(const uint8_t *msg, size_t len, size_t answers, uint16_t ancount,
                                const char *owner, char *target, size_t cap, uint32_t *ttl)
{
    struct stsm_cursor c;
    char name[STSM_HOSTNAME_MAX + 1];
    stsm_cursor_init(&c, msg, len);
    stsm_cursor_seek(&c, answers);
    target[0] = '\0';
    for (uint16_t i = 0; i < ancount; i++) {
        struct rr_head rr;
        stsm_status_t st = read_rr(&c, name, sizeof name, &rr);
        if (st != STSM_OK) {
            return st;
        }
        if (rr.type == STSM_DNS_TYPE_CNAME && rr.class_ == STSM_DNS_CLASS_IN &&
            stsm_dns_name_equal(name, owner)) {
            st = read_rdata_name(msg, len, &rr, 0, target, cap);
            *ttl = rr.ttl;
            if (st == STSM_OK && target[0] == '\0') {
                st = STSM_ERR_DNS_MALFORMED;   /* an alias of the root is not a name */
            }
            return st;
        }
    }
    return STSM_OK;
}

/* Decodes the RDATA of a record of the asked type into `rec`. */
static stsm_status_t decode_rdata(const uint8_t *msg, size_t len, const struct rr_head *rr,
                                  struct stsm_dns_answer *a, struct stsm_dns_record *rec)
{
    struct stsm_cursor c;
    stsm_cursor_init(&c, msg, rr->rdata + rr->rdlen);
    stsm_cursor_seek(&c, rr->rdata);
    rec->type = rr->type;
    rec->ttl = rr->ttl;

    switch (rr->type) {
    case STSM_DNS_TYPE_A:
    case STSM_DNS_TYPE_AAAA: {
        size_t want = rr->type == STSM_DNS_TYPE_A ? 4 : 16;
        if (rr->rdlen != want) {
            return STSM_ERR_DNS_MALFORMED;
        }
        stsm_cursor_bytes(&c, rec->address, want);
        return STSM_OK;
    }
    case STSM_DNS_TYPE_MX: {
        char exchange[STSM_HOSTNAME_MAX + 1];
        if (!stsm_cursor_u16(&c, &rec->preference)) {
            return STSM_ERR_DNS_MALFORMED;
        }
        stsm_status_t st = read_rdata_name(msg, len, rr, 2, exchange, sizeof exchange);
        if (st != STSM_OK) {
            return st;
        }
        return pool_add(a, exchange, strlen(exchange), &rec->data);
    }
    case STSM_DNS_TYPE_TXT: {
        /* One or more <length><bytes> strings filling RDATA exactly; kept concatenated.
         * Copied while they fit, and all of them walked: a malformed record is malformed
         * whether or not it would have fitted. */
        if (rr->rdlen == 0) {
            return STSM_ERR_DNS_MALFORMED;
        }
        size_t total = 0, room = sizeof a->pool - a->pool_used;
        while (stsm_cursor_remaining(&c) > 0) {
            uint8_t slen;
            stsm_cursor_u8(&c, &slen);
            const uint8_t *piece = c.buf + c.pos;
            if (!stsm_cursor_skip(&c, slen)) {
                return STSM_ERR_DNS_MALFORMED;
            }
            if (total + slen < room) {
                memcpy(a->pool + a->pool_used + total, piece, slen);
            }
            total += slen;
        }
        if (total + 1 > room) {
            return STSM_ERR_CAPACITY;
        }
        rec->data = (uint16_t)a->pool_used;
        rec->data_len = (uint16_t)total;
        a->pool_used += total;
        a->pool[a->pool_used++] = '\0';
        return STSM_OK;
    }
    default:
        return STSM_ERR_ARGUMENT;
    }
}

/* One record chosen for keeping: its preference (0 for other types) and where it starts. */
struct choice {
    uint16_t preference;
    size_t at;
};

/*
 * Chooses the records of type `type` to keep among the `ancount` answers at `answers`
 * that are owned by `owner`: all of them when they fit, else the STSM_DNS_MAX_RECORDS
 * with the lowest preference values, earlier records first among equals (so, for types
 * without a preference, the first ones). Fills `best` in that order, `*kept` with how
 * many and `*total` with how many there were. Every MX one is checked, kept or not, so a
 * broken record spoils the answer as it always did; other types are checked when decoded.
 */
static stsm_status_t choose(const uint8_t *msg, size_t len, size_t answers, uint16_t ancount, uint16_t type,
                            const char *owner, struct choice best[STSM_DNS_MAX_RECORDS], size_t *kept_out,
                            size_t *total)
{
    struct stsm_cursor c;
    char name[STSM_HOSTNAME_MAX + 1];
    size_t kept = 0;
    *total = 0;
    stsm_cursor_init(&c, msg, len);
    stsm_cursor_seek(&c, answers);
    for (uint16_t i = 0; i < ancount; i++) {
        struct rr_head rr;
        size_t at = c.pos;
        read_rr(&c, name, sizeof name, &rr);   /* validated by the first walk */
        if (rr.type != type || rr.class_ != STSM_DNS_CLASS_IN || !stsm_dns_name_equal(name, owner)) {
            continue;
        }
        uint16_t preference = 0;
        if (type == STSM_DNS_TYPE_MX) {
            if (rr.rdlen < 2) {
                return STSM_ERR_DNS_MALFORMED;
            }
            stsm_status_t st = read_rdata_name(msg, len, &rr, 2, name, sizeof name);
            if (st != STSM_OK) {
                return st;
            }
            preference = (uint16_t)((msg[rr.rdata] << 8) | msg[rr.rdata + 1]);
        }
        (*total)++;
        if (kept == STSM_DNS_MAX_RECORDS) {
            if (preference >= best[kept - 1].preference) {
                continue;
            }
            kept--;   /* the worst kept one gives way */
        }
        size_t k = kept;
        while (k > 0 && best[k - 1].preference > preference) {
            best[k] = best[k - 1];
            k--;
        }
        best[k] = (struct choice){ preference, at };
        kept++;
    }
    *kept_out = kept;
    return STSM_OK;
}

stsm_status_t stsm_dns_decode(const uint8_t *msg, size_t len, const struct stsm_dns_query *query,
                              struct stsm_dns_answer *answer)
{
    struct stsm_cursor c;
    uint16_t head[6];   /* ID, flags, QDCOUNT, ANCOUNT, NSCOUNT, ARCOUNT */
    uint32_t question;  /* QTYPE and QCLASS */
    char name[STSM_HOSTNAME_MAX + 1];
    stsm_status_t st;

    memset(answer, 0, offsetof(struct stsm_dns_answer, pool));   /* pool_used included */
    if (len < STSM_DNS_HEADER_LEN) {
        return STSM_ERR_DNS_MALFORMED;
    }
    for (size_t i = 0; i < 6; i++) {
        head[i] = (uint16_t)((msg[2 * i] << 8) | msg[2 * i + 1]);
    }
    uint16_t id = head[0], flags = head[1], qdcount = head[2], ancount = head[3], nscount = head[4],
             arcount = head[5];
    stsm_cursor_init(&c, msg, len);
    stsm_cursor_seek(&c, STSM_DNS_HEADER_LEN);

    /* Is this an answer to our question at all? */
    if (id != query->id || !(flags & FLAG_QR) || OPCODE(flags) != 0 || qdcount != 1) {
        return STSM_ERR_DNS_NOT_ANSWER;
    }
    st = read_name(&c, name, sizeof name);
    if (st == STSM_ERR_CAPACITY) {
        return STSM_ERR_DNS_NOT_ANSWER;   /* longer than any name we ask */
    }
    if (st != STSM_OK) {
        return st;
    }
    if (!stsm_cursor_u32(&c, &question)) {
        return STSM_ERR_DNS_MALFORMED;
    }
    if (!stsm_dns_name_equal(name, query->name) || question != ((uint32_t)query->type << 16 | STSM_DNS_CLASS_IN)) {
        return STSM_ERR_DNS_NOT_ANSWER;
    }

    answer->type = query->type;
    answer->rcode = (uint8_t)RCODE(flags);
    size_t asked_len = strlen(query->name);
    if (asked_len > 0 && query->name[asked_len - 1] == '.') {
        asked_len--;
    }
    if ((st = pool_add(answer, query->name, asked_len, &answer->asked)) != STSM_OK) {
        return st;
    }
    answer->canonical = answer->asked;

    if (flags & FLAG_TC) {
        answer->outcome = STSM_DNS_TRUNCATED;   /* what follows may be cut anywhere */
        return STSM_OK;
    }

    /* Walk every record once so that a broken message is rejected as a whole. */
    size_t answers = c.pos;
    size_t additional = 0;
    for (uint32_t i = 0; i < (uint32_t)ancount + nscount + arcount; i++) {
        struct rr_head rr;
        if (i == (uint32_t)ancount + nscount) {
            additional = c.pos;
        }
        if ((st = read_rr(&c, name, sizeof name, &rr)) != STSM_OK) {
            return st == STSM_ERR_CAPACITY ? STSM_ERR_DNS_MALFORMED : st;
        }
    }

    if (answer->rcode != RCODE_NOERROR && answer->rcode != RCODE_NXDOMAIN) {
        answer->outcome = STSM_DNS_TEMPFAIL;
        return STSM_OK;
    }

    /* Follow the CNAME chain from the asked name; `current`, where it ends so far, is read
     * in the pool, where names stay put. */
    const char *current = answer->pool + answer->asked;
    char target[STSM_HOSTNAME_MAX + 1];
    for (;;) {
        uint32_t ttl = 0;
        if ((st = find_cname(msg, len, answers, ancount, current, target, sizeof target, &ttl)) !=
            STSM_OK) {
            return st;
        }
        if (target[0] == '\0') {
            break;
        }
        if (answer->cname_hops == 0 || ttl < answer->cname_ttl) {
            answer->cname_ttl = ttl;   /* the chain is only as fresh as its shortest link */
        }
        if (answer->cname_hops == STSM_DNS_MAX_CNAME_HOPS) {
            return STSM_ERR_DNS_CNAME_CHAIN;
        }
        for (uint8_t h = 0; h <= answer->cname_hops; h++) {   /* the asked name, then each target */
            if (stsm_dns_name_equal(target, stsm_dns_str(answer, h == 0 ? answer->asked : answer->chain[h - 1]))) {
                return STSM_ERR_DNS_CNAME_CHAIN;
            }
        }
        if ((st = pool_add(answer, target, strlen(target), &answer->chain[answer->cname_hops])) !=
            STSM_OK) {
            return st;
        }
        answer->canonical = answer->chain[answer->cname_hops++];
        current = answer->pool + answer->canonical;
    }

    /* Records of the asked type that belong to the end of the chain. More than we keep
     * is not an error where a subset still serves (our limit must not lose mail): an MX
     * set keeps its best preferences, an address set its first addresses. A TXT set is
     * all or nothing, since a dropped record could be a second MTA-STS record. */
    struct choice best[STSM_DNS_MAX_RECORDS];
    size_t kept, total;
    if ((st = choose(msg, len, answers, ancount, query->type, current, best, &kept, &total)) != STSM_OK) {
        return st;
    }
    answer->dropped = total - kept;
    /* Best first, so that if the pool runs out it is the worst MX that go. */
    for (size_t k = 0; k < kept; k++) {
        struct rr_head rr;
        stsm_cursor_seek(&c, best[k].at);
        read_rr(&c, name, sizeof name, &rr);
        struct stsm_dns_record *rec = &answer->records[answer->count];
        rec->owner = answer->canonical;
        st = decode_rdata(msg, len, &rr, answer, rec);
        if (st == STSM_ERR_CAPACITY && answer->count > 0 && query->type != STSM_DNS_TYPE_TXT) {
            answer->dropped += kept - k;
            break;
        }
        if (st != STSM_OK) {
            return st;
        }
        answer->count++;
    }
    if (answer->dropped > 0 && query->type == STSM_DNS_TYPE_TXT) {
        return STSM_ERR_CAPACITY;
    }

    /* Addresses offered in the additional section. */
    stsm_cursor_seek(&c, additional);
    for (uint16_t i = 0; additional != 0 && i < arcount; i++) {
        struct rr_head rr;
        read_rr(&c, name, sizeof name, &rr);
        if ((rr.type != STSM_DNS_TYPE_A && rr.type != STSM_DNS_TYPE_AAAA) ||
            rr.class_ != STSM_DNS_CLASS_IN) {
            continue;
        }
        if (answer->extra_count == STSM_DNS_MAX_EXTRA) {
            answer->extra_incomplete = true;
            break;
        }
        struct stsm_dns_record *rec = &answer->extra[answer->extra_count];
        if ((st = decode_rdata(msg, len, &rr, answer, rec)) != STSM_OK) {
            return st;
        }
        if (pool_add(answer, name, strlen(name), &rec->owner) != STSM_OK) {
            answer->extra_incomplete = true;   /* addresses are looked up instead */
            break;
        }
        answer->extra_count++;
    }

    if (answer->rcode == RCODE_NXDOMAIN) {
        answer->outcome = STSM_DNS_NXDOMAIN;
    } else {
        answer->outcome = answer->count > 0 ? STSM_DNS_ANSWER : STSM_DNS_NODATA;
    }
    return STSM_OK;
}

const char *stsm_dns_outcome_str(enum stsm_dns_outcome outcome)
{
    switch (outcome) {
    case STSM_DNS_ANSWER: return "answer";
    case STSM_DNS_NODATA: return "nodata";
    case STSM_DNS_NXDOMAIN: return "nxdomain";
    case STSM_DNS_TEMPFAIL: return "tempfail";
    case STSM_DNS_TRUNCATED: return "truncated";
    }
    return "unknown";
}

const char *stsm_dns_type_str(uint16_t type)
{
    /* A loop over the five, not a switch: a switch compiles to a table with a row for
     * every value up to the largest (AAAA, 28). */
    static const uint8_t codes[] = { STSM_DNS_TYPE_A, STSM_DNS_TYPE_AAAA, STSM_DNS_TYPE_MX, STSM_DNS_TYPE_TXT,
                                     STSM_DNS_TYPE_CNAME };
    static const char names[][6] = { "A", "AAAA", "MX", "TXT", "CNAME" };
    for (size_t i = 0; i < sizeof codes; i++) {
        if (type == codes[i]) {
            return names[i];
        }
    }
    return NULL;
}
