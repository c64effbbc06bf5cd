#include "stsm_outbox.h"

#include <stdio.h>
#include <string.h>

#include "stsm_cursor.h"

#define TYPE_CONTENT 0x01u
#define TYPE_STATE 0x02u
#define TYPE_HIGH_WATER 0x03u
#define FORMAT_VERSION 1u
#define HOUR_S 3600
/* Ids a high-water record covers ahead of the one being given out: one small record per
 * this many raises, and a reboot skips at most this many ids. */
#define ID_RESERVE 32u
#define CONTENT_FIXED 45u
#define STATE_FIXED 48u
#define STATE_RECORD_MAX (STATE_FIXED + STSM_SMTP_MAX_RCPT + 1u + STSM_OUTBOX_ERROR_MAX)
#define HIGH_WATER_LEN 6u
/* The sender is the settings' and the delivery checks it; here only the alert's own
 * fields are checked, with the same rules the message writer applies. */
#define SOME_SENDER "sender@example.com"

_Static_assert(STSM_SMTP_MAX_RCPT <= 32, "the pending mask is 32 bits");
_Static_assert(STSM_OUTBOX_RECORD_MAX <= 0xFFFF, "lengths are 16-bit on flash");
_Static_assert(STSM_OUTBOX_TEXT_MAX >= 64, "room for a key, an address and a subject");

/* A content record, parsed: views into the record. The members up to not_before are its
 * fixed part (content_fields), each a uint32_t (up to 4 bytes on flash) or an int64_t. */
struct content {
    uint32_t id;
    uint32_t severity, key_len, to_count, subject_len, body_len;
    uint32_t id_random[2];
    int64_t created, window_start, not_before;
    const uint8_t *key;
    const uint8_t *to[STSM_SMTP_MAX_RCPT];
    size_t to_len[STSM_SMTP_MAX_RCPT];
    const uint8_t *subject;
    const uint8_t *body;
};

/* A state record, parsed (or the initial state of a message without one); its fixed part
 * as in struct content (state_fields). */
struct state {
    uint32_t id;
    uint32_t severity, to_count, attempts, raised_count;
    int64_t first_queued, first_raised, last_raised, next_attempt;
    uint8_t rcpt[STSM_SMTP_MAX_RCPT];
    char error[STSM_OUTBOX_ERROR_MAX + 1];
};

/* ---- names -------------------------------------------------------------------------- */

static const char *const severity_names[STSM_SEVERITY_COUNT] = { "info", "warning", "error", "critical" };

const char *stsm_severity_name(enum stsm_severity severity)
{
    return (unsigned)severity < STSM_SEVERITY_COUNT ? severity_names[severity] : NULL;
}

bool stsm_severity_parse(const char *name, size_t len, enum stsm_severity *severity)
{
    for (unsigned i = 0; name != NULL && i < STSM_SEVERITY_COUNT; i++) {
        if (strlen(severity_names[i]) == len && memcmp(severity_names[i], name, len) == 0) {
            *severity = (enum stsm_severity)i;
            return true;
        }
    }
    return false;
}

const char *stsm_rcpt_state_name(enum stsm_rcpt_state state)
{
    static const char *const names[] = { "pending", "delivered", "failed", "gave_up" };
    return (unsigned)state < sizeof names / sizeof names[0] ? names[state] : NULL;
}

/* ---- checks ------------------------------------------------------------------------- */

/* Printable ASCII, as keys and kept errors must be. */
static bool printable(const uint8_t *text, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (text[i] < 0x20 || text[i] > 0x7E) {
            return false;
        }
    }
    return true;
}

static bool key_ok(const uint8_t *key, size_t len)
{
    return len > 0 && len <= STSM_OUTBOX_KEY_MAX && printable(key, len);
}

enum stored { STORED_ADDRESS, STORED_SUBJECT, STORED_BODY };

/* One field of a stored message against the rules a raise applied (stsm_message_check),
 * so what load returns is always something the message writer accepts. An address or
 * the subject is checked as a string (NUL inside is corrupt), the body as it lies. */
static bool stored_ok(const uint8_t *text, size_t len, enum stored field)
{
    char copy[(STSM_MESSAGE_SUBJECT_MAX > STSM_SMTP_ADDRESS_MAX ? STSM_MESSAGE_SUBJECT_MAX : STSM_SMTP_ADDRESS_MAX) + 1];
    struct stsm_message m;
    memset(&m, 0, sizeof m);
    m.from = SOME_SENDER;
    m.to[0] = SOME_SENDER;
    m.to_count = 1;
    m.subject = "";
    if (field == STORED_BODY) {
        m.body = (const char *)text;
        m.body_len = len;
    } else {
        if (len >= sizeof copy || memchr(text, '\0', len) != NULL) {
            return false;
        }
        memcpy(copy, text, len);
        copy[len] = '\0';
        *(field == STORED_ADDRESS ? &m.to[0] : &m.subject) = copy;
    }
    char why[8];
    return stsm_message_check(&m, why, sizeof why) == STSM_OK;
}

/* ---- encoding: big-endian, versioned ------------------------------------------------ */

/* One fixed field of a record: where it is in the RAM struct and its bytes on flash. One
 * table per record drives both the encoder and the decoder. */
struct field {
    uint8_t at;
    uint8_t width;
};

/* The member must be what code_record() takes for that width (a build error otherwise). */
#define FIELD(type, member, width)                                                                     \
    { (uint8_t)(offsetof(type, member) +                                                               \
                0 * sizeof(char[sizeof(((type *)0)->member) == ((width) == 8 ? 8u : 4u) ? 1 : -1])), \
      (width) }
#define COUNT(table) (sizeof (table) / sizeof (table)[0])

static const struct field content_fields[] = {
    FIELD(struct content, id, 4),           FIELD(struct content, severity, 1),
    FIELD(struct content, key_len, 1),      FIELD(struct content, to_count, 1),
    FIELD(struct content, subject_len, 2),  FIELD(struct content, body_len, 2),
    FIELD(struct content, id_random[0], 4), FIELD(struct content, id_random[1], 4),
    FIELD(struct content, created, 8),      FIELD(struct content, window_start, 8),
    FIELD(struct content, not_before, 8),
};

static const struct field state_fields[] = {
    FIELD(struct state, id, 4),           FIELD(struct state, severity, 1),
    FIELD(struct state, to_count, 1),     FIELD(struct state, attempts, 4),
    FIELD(struct state, raised_count, 4), FIELD(struct state, first_queued, 8),
    FIELD(struct state, first_raised, 8), FIELD(struct state, last_raised, 8),
    FIELD(struct state, next_attempt, 8),
};

/* The high-water record's one field: the first id it does not cover. */
static const struct field reserved_field[] = { { 0, 4 } };

/*
 * The type and format version bytes, then the `n` fields of `s` in order, in `buf` (`len`
 * bytes): written when `encode`, else read (`buf` is then only read). Returns the bytes
 * they take, or 0 when they do not fit `len`, a value is over its width, or the type or
 * version read is not this one.
 */
static size_t code_record(uint8_t *buf, size_t len, uint32_t type, const struct field *f, size_t n, void *s,
                          bool encode)
{
    if (len < 2) {
        return 0;
    }
    if (encode) {
        buf[0] = (uint8_t)type;
        buf[1] = FORMAT_VERSION;
    } else if (buf[0] != type || buf[1] != FORMAT_VERSION) {
        return 0;
    }
    size_t at = 2;
    for (; n > 0; n--, f++) {
        uint8_t *member = (uint8_t *)s + f->at;
        uint64_t v = 0;
        uint32_t v32;
        if (f->width > len - at) {
            return 0;
        }
        if (encode) {
            if (f->width == 8) {
                memcpy(&v, member, 8);
            } else {
                memcpy(&v32, member, 4);
                v = v32;
            }
            for (size_t i = f->width; i-- > 0; v >>= 8) {
                buf[at + i] = (uint8_t)v;
            }
            if (v != 0) {
                return 0;   /* what is left did not fit the width */
            }
        } else {
            for (size_t i = 0; i < f->width; i++) {
                v = v << 8 | buf[at + i];
            }
            v32 = (uint32_t)v;
            memcpy(member, f->width == 8 ? (const void *)&v : &v32, f->width == 8 ? 8 : 4);
        }
        at += f->width;
    }
    return at;
}

/* Decodes a record's fixed part into `s`; the bytes it took, 0 when it is not one. */
static size_t get_record(const uint8_t *p, size_t len, uint32_t type, const struct field *f, size_t n, void *s)
{
    return code_record((uint8_t *)p, len, type, f, n, s, false);   /* decoding only reads */
}

/* A view of the next `n` bytes. */
static bool get_view(struct stsm_cursor *c, size_t n, const uint8_t **p)
{
    if (stsm_cursor_remaining(c) < n) {
        return false;
    }
    *p = c->buf + c->pos;
    return stsm_cursor_skip(c, n);
}

/* A content record as the pieces the store writes one after the other: the fixed fields
 * here, the text and body where the caller has them (no copy of the whole record). */
struct content_pieces {
    uint8_t fixed[CONTENT_FIXED];
    uint8_t to_len[STSM_SMTP_MAX_RCPT];
    struct stsm_store_piece piece[4 + 2 * STSM_SMTP_MAX_RCPT];
    size_t count, len;
};

static void add_piece(struct content_pieces *out, const void *data, size_t len)
{
    out->piece[out->count++] = (struct stsm_store_piece){ data, len };
    out->len += len;
}

/* The pieces of `m`'s content record; false when it cannot be encoded (a field over its
 * on-flash width). */
static bool encode_content(struct content *m, struct content_pieces *out)
{
    out->count = out->len = 0;
    bool ok = code_record(out->fixed, sizeof out->fixed, TYPE_CONTENT, content_fields, COUNT(content_fields), m,
                          true) == CONTENT_FIXED && m->to_count <= STSM_SMTP_MAX_RCPT;
    add_piece(out, out->fixed, CONTENT_FIXED);
    add_piece(out, m->key, m->key_len);
    for (size_t i = 0; ok && i < m->to_count; i++) {
        ok = m->to_len[i] <= 0xFF;
        out->to_len[i] = (uint8_t)m->to_len[i];
        add_piece(out, &out->to_len[i], 1);
        add_piece(out, m->to[i], m->to_len[i]);
    }
    add_piece(out, m->subject, m->subject_len);
    add_piece(out, m->body, m->body_len);
    return ok;
}

/* The bytes a message's key, recipients and subject take with a NUL each. */
static size_t text_need(const struct content *m)
{
    size_t need = m->key_len + 1 + m->subject_len + 1;
    for (size_t i = 0; i < m->to_count; i++) {
        need += m->to_len[i] + 1;
    }
    return need;
}

static stsm_status_t parse_content(const uint8_t *p, size_t len, uint32_t id, struct content *m)
{
    memset(m, 0, sizeof *m);
    size_t fixed = get_record(p, len, TYPE_CONTENT, content_fields, COUNT(content_fields), m);
    if (fixed == 0 || m->id != id || m->severity >= STSM_SEVERITY_COUNT || m->to_count == 0 ||
        m->to_count > STSM_SMTP_MAX_RCPT || m->key_len > STSM_OUTBOX_KEY_MAX ||
        m->subject_len > STSM_MESSAGE_SUBJECT_MAX) {
        return STSM_ERR_CORRUPT;
    }
    struct stsm_cursor c;
    stsm_cursor_init(&c, p + fixed, len - fixed);
    if (!get_view(&c, m->key_len, &m->key) || (m->key_len > 0 && !key_ok(m->key, m->key_len))) {
        return STSM_ERR_CORRUPT;
    }
    for (size_t i = 0; i < m->to_count; i++) {
        uint8_t n;
        if (!stsm_cursor_u8(&c, &n) || !get_view(&c, n, &m->to[i]) || !stored_ok(m->to[i], n, STORED_ADDRESS)) {
            return STSM_ERR_CORRUPT;
        }
        m->to_len[i] = n;
    }
    if (!get_view(&c, m->subject_len, &m->subject) || !stored_ok(m->subject, m->subject_len, STORED_SUBJECT) ||
        !get_view(&c, m->body_len, &m->body) || stsm_cursor_remaining(&c) != 0 ||
        !stored_ok(m->body, m->body_len, STORED_BODY)) {
        return STSM_ERR_CORRUPT;
    }
    /* Never accepted so (a build with a larger STSM_OUTBOX_TEXT_MAX wrote it): a loader's
     * text buffer of that size must take any message decoded. */
    return text_need(m) <= STSM_OUTBOX_TEXT_MAX ? STSM_OK : STSM_ERR_CORRUPT;
}

static void initial_state(const struct content *m, struct state *s)
{
    memset(s, 0, sizeof *s);
    s->id = m->id;
    s->severity = m->severity;
    s->to_count = m->to_count;
    s->raised_count = 1;
    s->first_queued = s->first_raised = s->last_raised = m->created;
    s->next_attempt = m->not_before;
}

/* The state record of `s` into `buf` (STATE_RECORD_MAX bytes): its length. */
static size_t encode_state(struct state *s, uint8_t *buf)
{
    size_t error_len = strlen(s->error);
    size_t len = code_record(buf, STATE_FIXED, TYPE_STATE, state_fields, COUNT(state_fields), s, true);
    if (len != STATE_FIXED || s->to_count > STSM_SMTP_MAX_RCPT) {
        return 0;
    }
    memcpy(buf + len, s->rcpt, s->to_count);
    len += s->to_count;
    buf[len++] = (uint8_t)error_len;
    memcpy(buf + len, s->error, error_len);
    return len + error_len;
}

/* The state must belong to the content: same recipient count, a severity no lower. */
static stsm_status_t parse_state(const uint8_t *p, size_t len, uint32_t id, const struct content *m, struct state *s)
{
    memset(s, 0, sizeof *s);
    size_t at = get_record(p, len, TYPE_STATE, state_fields, COUNT(state_fields), s);
    /* Then a recipient state each and the error, after its length. */
    if (at == 0 || s->id != id || s->to_count != m->to_count || len - at < s->to_count + 1u ||
        s->severity >= STSM_SEVERITY_COUNT || s->severity < m->severity || s->raised_count == 0) {
        return STSM_ERR_CORRUPT;
    }
    const uint8_t *rcpt = p + at, *error = rcpt + s->to_count + 1;
    size_t error_len = rcpt[s->to_count];
    if (error_len > STSM_OUTBOX_ERROR_MAX || len - at != s->to_count + 1u + error_len || !printable(error, error_len)) {
        return STSM_ERR_CORRUPT;
    }
    for (size_t i = 0; i < s->to_count; i++) {
        if (rcpt[i] > STSM_RCPT_GAVE_UP) {
            return STSM_ERR_CORRUPT;
        }
        s->rcpt[i] = rcpt[i];
    }
    memcpy(s->error, error, error_len);
    return STSM_OK;
}
/* ---- the message as the caller sees it ---------------------------------------------- */

/* The text of `m` (key, recipients, subject, each NUL-terminated) into `text`, which the
 * caller checked has room (text_need). No text (NULL): those fields are NULL. */
/* A NUL-terminated copy of `len` bytes at `*t`, which then points past it. */
static const char *copy_text(char **t, const uint8_t *p, size_t len)
{
    char *copy = *t;
    memcpy(copy, p, len);
    copy[len] = '\0';
    *t = copy + len + 1;
    return copy;
}

static void fill_text(const struct content *m, struct stsm_outbox_message *out, char *text)
{
    if (text == NULL) {
        return;
    }
    char *t = text;
    out->key = copy_text(&t, m->key, m->key_len);
    for (size_t i = 0; i < m->to_count; i++) {
        out->to[i] = copy_text(&t, m->to[i], m->to_len[i]);
    }
    out->subject = copy_text(&t, m->subject, m->subject_len);
    out->text_len = (size_t)(t - text);
}

static stsm_status_t fill_message(const struct content *m, const struct state *s, struct stsm_outbox_message *out,
                                  char *text, size_t cap)
{
    if (text != NULL && text_need(m) > cap) {
        return STSM_ERR_CAPACITY;
    }
    memset(out, 0, sizeof *out);
    fill_text(m, out, text);
    out->id = m->id;
    out->severity = (enum stsm_severity)s->severity;
    out->to_count = m->to_count;
    for (size_t i = 0; i < m->to_count; i++) {
        out->rcpt[i] = (enum stsm_rcpt_state)s->rcpt[i];
    }
    out->body = (const char *)m->body;
    out->body_len = m->body_len;
    out->id_random[0] = m->id_random[0];
    out->id_random[1] = m->id_random[1];
    out->first_queued = s->first_queued;
    out->first_raised = s->first_raised;
    out->last_raised = s->last_raised;
    out->raised_count = s->raised_count;
    out->follow_up = m->not_before != 0;
    out->window_start = m->window_start;
    out->attempts = s->attempts;
    out->next_attempt = s->next_attempt;
    memcpy(out->last_error, s->error, sizeof out->last_error);
    return STSM_OK;
}

stsm_status_t stsm_outbox_decode(uint32_t id, const uint8_t *content, size_t content_len, const uint8_t *state,
                                 size_t state_len, struct stsm_outbox_message *out, char *text, size_t text_cap)
{
    struct content m;
    struct state s;
    if (content == NULL || out == NULL) {
        return STSM_ERR_ARGUMENT;
    }
    stsm_status_t st = parse_content(content, content_len, id, &m);
    if (st != STSM_OK) {
        return st;
    }
    if (state == NULL) {
        initial_state(&m, &s);
    } else if ((st = parse_state(state, state_len, id, &m, &s)) != STSM_OK) {
        return st;
    }
    return fill_message(&m, &s, out, text, text_cap);
}

/* ---- store access ------------------------------------------------------------------- */

static uint32_t store_key(uint32_t type, uint32_t id)
{
    return type << 24 | id;
}

static stsm_status_t read_content(const struct stsm_outbox *ob, uint32_t id, struct content *m)
{
    const uint8_t *p;
    size_t len;
    stsm_status_t st = stsm_store_get(ob->store, store_key(TYPE_CONTENT, id), &p, &len);
    return st == STSM_OK ? parse_content(p, len, id, m) : st;
}

/* The outcomes of the attempt under way that are not written yet (see
 * stsm_outbox_record), laid over what the flash says. */
static void apply_attempt(const struct stsm_outbox *ob, uint32_t id, struct state *s)
{
    if (ob->attempt_id != id) {
        return;
    }
    for (size_t i = 0; i < s->to_count; i++) {
        if ((ob->attempt_failed & (1u << i)) != 0 && s->rcpt[i] == STSM_RCPT_PENDING) {
            s->rcpt[i] = STSM_RCPT_FAILED;
        }
    }
    if (ob->attempt_error[0] != '\0') {
        memcpy(s->error, ob->attempt_error, sizeof s->error);
    }
}

static void forget_attempt(struct stsm_outbox *ob, uint32_t id)
{
    ob->attempt_id = id;
    ob->attempt_failed = 0;
    ob->attempt_error[0] = '\0';
}

/* Both records; the content's views are valid until the next write. */
static stsm_status_t read_message(const struct stsm_outbox *ob, uint32_t id, struct content *m, struct state *s)
{
    stsm_status_t st = read_content(ob, id, m);
    if (st != STSM_OK) {
        return st;
    }
    const uint8_t *p;
    size_t len;
    st = stsm_store_get(ob->store, store_key(TYPE_STATE, id), &p, &len);
    if (st == STSM_ERR_NOT_FOUND) {
        initial_state(m, s);
    } else if (st != STSM_OK || (st = parse_state(p, len, id, m, s)) != STSM_OK) {
        return st;
    }
    apply_attempt(ob, id, s);
    return STSM_OK;
}

static stsm_status_t put_state(struct stsm_outbox *ob, struct state *s)
{
    uint8_t buf[STATE_RECORD_MAX];
    size_t len = encode_state(s, buf);
    return len == 0 ? STSM_ERR_ARGUMENT : stsm_store_put(ob->store, store_key(TYPE_STATE, s->id), buf, len);
}

/* ---- summaries ---------------------------------------------------------------------- */

#define FNV_BASIS 2166136261u

static uint32_t fnv(uint32_t h, const uint8_t *p, size_t n, bool fold_case)
{
    for (size_t i = 0; i < n; i++) {
        uint8_t b = p[i];
        if (fold_case && b >= 'A' && b <= 'Z') {
            b = (uint8_t)(b - 'A' + 'a');
        }
        h = (h ^ b) * 16777619u;
    }
    return h;
}

/* What makes two raises the same alert: the key and the recipients, in order. */
static uint32_t alert_hash(const uint8_t *key, size_t key_len, const uint8_t *const *to, const size_t *to_len,
                           size_t to_count)
{
    uint32_t h = fnv(FNV_BASIS, key, key_len, false);
    for (size_t i = 0; i < to_count; i++) {
        h = fnv(fnv(h, (const uint8_t *)"", 1, false), to[i], to_len[i], false);
    }
    return h != 0 ? h : 1;
}

static uint32_t domain_hash(const uint8_t *address, size_t len)
{
    size_t at = len;
    while (at > 0 && address[at - 1] != '@') {
        at--;
    }
    return fnv(FNV_BASIS, address + at, len - at, true);
}

static void update_summary(struct stsm_outbox_summary *sum, const struct state *s)
{
    sum->next_attempt = s->next_attempt;
    sum->severity = (uint8_t)s->severity;
    sum->attempted = s->attempts > 0;
    sum->pending = 0;
    for (size_t i = 0; i < s->to_count; i++) {
        if (s->rcpt[i] == STSM_RCPT_PENDING) {
            sum->pending |= 1u << i;
        }
    }
}

static void summarize(struct stsm_outbox_summary *sum, const struct content *m, const struct state *s)
{
    memset(sum, 0, sizeof *sum);
    sum->id = m->id;
    sum->key_hash = m->key_len > 0 ? alert_hash(m->key, m->key_len, m->to, m->to_len, m->to_count) : 0;
    sum->window_start = m->window_start;
    update_summary(sum, s);
}

static struct stsm_outbox_summary *find(struct stsm_outbox *ob, uint32_t id)
{
    for (size_t i = 0; i < ob->count; i++) {
        if (ob->items[i].id == id) {
            return &ob->items[i];
        }
    }
    return NULL;
}

/* Writes `s` and brings its message's summary up to date. */
static stsm_status_t write_state(struct stsm_outbox *ob, struct state *s)
{
    stsm_status_t st = put_state(ob, s);
    struct stsm_outbox_summary *sum = find(ob, s->id);
    if (st == STSM_OK && sum != NULL) {
        update_summary(sum, s);
    }
    return st;
}

/* Ids only grow, so appending keeps the list oldest first. */
static void insert_sorted(struct stsm_outbox *ob, const struct stsm_outbox_summary *sum)
{
    size_t i = ob->count;
    while (i > 0 && ob->items[i - 1].id > sum->id) {
        ob->items[i] = ob->items[i - 1];
        i--;
    }
    ob->items[i] = *sum;
    ob->count++;
}

static bool in_window(const struct stsm_outbox *ob, int64_t start, int64_t now)
{
    uint32_t w = ob->config.coalesce_window_s;
    if (w == 0) {
        return false;
    }
    if (start == 0 || now == 0) {
        return start == 0 && now == 0;
    }
    return now >= start && now - start < (int64_t)w;
}

/* ---- removal and ids ---------------------------------------------------------------- */

static stsm_status_t write_high_water(struct stsm_outbox *ob, uint32_t reserved)
{
    uint8_t buf[HIGH_WATER_LEN];
    size_t len = code_record(buf, sizeof buf, TYPE_HIGH_WATER, reserved_field, 1, &reserved, true);
    stsm_status_t st = stsm_store_put(ob->store, store_key(TYPE_HIGH_WATER, 0), buf, len);
    if (st == STSM_OK) {
        ob->id_reserved = reserved;
    }
    return st;
}

/* Deletes both records of `id`, content first: a cut in between leaves a state without
 * content (removed at the next open), never a content whose progress was forgotten.
 * Deleting never needs a put (the store keeps room for tombstones): the high-water
 * record was written when the id was given out. */
static stsm_status_t delete_records(struct stsm_outbox *ob, uint32_t id)
{
    stsm_status_t content = stsm_store_delete(ob->store, store_key(TYPE_CONTENT, id));
    if (content != STSM_OK && content != STSM_ERR_NOT_FOUND) {
        return content;
    }
    stsm_status_t st = stsm_store_delete(ob->store, store_key(TYPE_STATE, id));
    return st == STSM_ERR_NOT_FOUND ? content : st;
}

static stsm_status_t remove_at(struct stsm_outbox *ob, size_t i)
{
    stsm_status_t st = delete_records(ob, ob->items[i].id);
    if (st != STSM_OK) {
        return st;
    }
    memmove(&ob->items[i], &ob->items[i + 1], (ob->count - i - 1) * sizeof ob->items[0]);
    ob->count--;
    return STSM_OK;
}

/* ---- open --------------------------------------------------------------------------- */

static bool parse_high_water(const uint8_t *p, size_t len, uint32_t *reserved)
{
    return get_record(p, len, TYPE_HIGH_WATER, reserved_field, 1, reserved) == len && len == HIGH_WATER_LEN &&
           *reserved <= STSM_OUTBOX_ID_MAX + 1u;
}

static void note_bad(stsm_status_t *result, uint32_t *bad_id, uint32_t id)
{
    if (*result != STSM_ERR_CORRUPT) {
        *result = STSM_ERR_CORRUPT;
        if (bad_id != NULL) {
            *bad_id = id;
        }
    }
}

stsm_status_t stsm_outbox_open(struct stsm_outbox *outbox, struct stsm_store *store,
                               const struct stsm_outbox_config *config, uint32_t *bad_id)
{
    if (outbox == NULL || store == NULL || config == NULL) {
        return STSM_ERR_ARGUMENT;
    }
    memset(outbox, 0, sizeof *outbox);
    outbox->store = store;
    outbox->config = *config;
    if (bad_id != NULL) {
        *bad_id = 0;
    }
    stsm_status_t result = STSM_OK;
    uint32_t largest = 0;
    uint32_t orphans[STSM_STORE_KEYS_MAX];
    size_t orphan_count = 0;
    size_t keys = stsm_store_count(store);
    for (size_t k = 0; k < keys; k++) {
        uint32_t key = stsm_store_key_at(store, k);
        uint32_t type = key >> 24, id = key & STSM_OUTBOX_ID_MAX;
        const uint8_t *p;
        size_t len;
        if (type == TYPE_HIGH_WATER && id == 0) {
            if (stsm_store_get(store, key, &p, &len) != STSM_OK || !parse_high_water(p, len, &outbox->id_reserved)) {
                note_bad(&result, bad_id, 0);
            }
            continue;
        }
        if ((type != TYPE_CONTENT && type != TYPE_STATE) || id == 0) {
            continue;   /* another user's record */
        }
        if (id > largest) {
            largest = id;
        }
        if (type == TYPE_STATE) {
            if (stsm_store_get(store, store_key(TYPE_CONTENT, id), &p, &len) == STSM_ERR_NOT_FOUND &&
                orphan_count < STSM_STORE_KEYS_MAX) {
                orphans[orphan_count++] = id;
            }
            continue;
        }
        struct content m;
        struct state s;
        if (read_message(outbox, id, &m, &s) != STSM_OK) {
            note_bad(&result, bad_id, id);
            continue;
        }
        struct stsm_outbox_summary sum;
        summarize(&sum, &m, &s);
        if (outbox->count == STSM_OUTBOX_MAX) {
            /* Keep the oldest STSM_OUTBOX_MAX. */
            if (result == STSM_OK) {
                result = STSM_ERR_CAPACITY;
            }
            if (outbox->items[outbox->count - 1].id < id) {
                continue;
            }
            outbox->count--;
        }
        insert_sorted(outbox, &sum);
    }
    outbox->next_id = largest + 1 > outbox->id_reserved ? largest + 1 : outbox->id_reserved;
    if (outbox->next_id == 0) {
        outbox->next_id = 1;
    }
    /* A deletion cut between its two records: finish it. Its id is below next_id already. */
    for (size_t i = 0; i < orphan_count; i++) {
        (void)stsm_store_delete(store, store_key(TYPE_STATE, orphans[i]));
    }
    return result;
}

stsm_status_t stsm_outbox_reload(struct stsm_outbox *outbox, uint32_t *bad_id)
{
    /* What open clears and the store does not hold (about 1.2 KiB of stack). */
    struct stsm_outbox_start sent[STSM_OUTBOX_CAP_TRACK];
    memcpy(sent, outbox->sent, sizeof sent);
    size_t sent_count = outbox->sent_count;
    uint32_t attempt_id = outbox->attempt_id, attempt_failed = outbox->attempt_failed;
    char attempt_error[sizeof outbox->attempt_error];
    memcpy(attempt_error, outbox->attempt_error, sizeof attempt_error);
    uint32_t due_now[STSM_OUTBOX_MAX];   /* waits stsm_outbox_retry_now() ended */
    size_t due_now_count = 0;
    for (size_t i = 0; i < outbox->count; i++) {
        if (outbox->items[i].next_attempt == 0 && outbox->items[i].attempted) {
            due_now[due_now_count++] = outbox->items[i].id;
        }
    }
    const struct stsm_outbox_config config = outbox->config;
    stsm_status_t st = stsm_outbox_open(outbox, outbox->store, &config, bad_id);
    memcpy(outbox->sent, sent, sizeof sent);
    outbox->sent_count = sent_count;
    outbox->attempt_id = attempt_id;
    outbox->attempt_failed = attempt_failed;
    memcpy(outbox->attempt_error, attempt_error, sizeof attempt_error);
    for (size_t i = 0; i < outbox->count; i++) {
        for (size_t j = 0; j < due_now_count; j++) {
            if (outbox->items[i].id == due_now[j] && outbox->items[i].attempted) {
                outbox->items[i].next_attempt = 0;
            }
        }
    }
    return st;
}

/* ---- raise -------------------------------------------------------------------------- */

/* A new message must leave room for its first state record too, or a store filled with
 * contents could not record an attempt and would never empty. The store plans one put
 * at a time, so both are asked for as one record when that is within a record's size,
 * and one after the other otherwise (approximate, and enough: the first state record
 * written lets that message progress to its deletion). */
static bool room_for(const struct stsm_outbox *ob, uint32_t key, size_t len, bool new_message)
{
    if (!stsm_store_fits(ob->store, key, len)) {
        return false;
    }
    if (!new_message) {
        return true;
    }
    size_t both = len + STATE_RECORD_MAX + 64u;   /* and the high-water record */
    if (both <= stsm_store_record_max(ob->store->area)) {
        return stsm_store_fits(ob->store, key, both);
    }
    return stsm_store_fits(ob->store, store_key(TYPE_STATE, key & STSM_OUTBOX_ID_MAX), STATE_RECORD_MAX);
}

/* Settled messages hold nothing to deliver: they go first, silently. Then, when allowed,
 * one message of strictly lower severity, oldest first. `exclude` is the message the
 * raise is about to write to. */
static stsm_status_t make_room(struct stsm_outbox *ob, uint32_t key, size_t len, bool new_message,
                               uint8_t severity, uint32_t exclude, uint32_t *dropped_id)
{
    for (;;) {
        if ((!new_message || ob->count < STSM_OUTBOX_MAX) && room_for(ob, key, len, new_message)) {
            return STSM_OK;
        }
        /* The oldest settled message, else the oldest of lower severity (when allowed). */
        size_t victim = ob->count;
        bool dropping = false;
        for (size_t i = 0; i < ob->count; i++) {
            const struct stsm_outbox_summary *sum = &ob->items[i];
            if (sum->id == exclude) {
                continue;
            }
            if (sum->pending == 0) {
                victim = i;
                dropping = false;
                break;
            }
            if (victim == ob->count && sum->severity < severity && ob->config.drop_lower_when_full &&
                *dropped_id == 0) {
                victim = i;
                dropping = true;
            }
        }
        if (victim == ob->count) {
            return STSM_ERR_FULL;
        }
        uint32_t victim_id = ob->items[victim].id;
        stsm_status_t st = remove_at(ob, victim);
        if (st != STSM_OK) {
            return st;
        }
        if (dropping) {
            *dropped_id = victim_id;
        }
    }
}

static bool same_alert(const struct content *m, const struct content *alert)
{
    if (m->key_len != alert->key_len || memcmp(m->key, alert->key, m->key_len) != 0 ||
        m->to_count != alert->to_count) {
        return false;
    }
    for (size_t i = 0; i < m->to_count; i++) {
        if (m->to_len[i] != alert->to_len[i] || memcmp(m->to[i], alert->to[i], m->to_len[i]) != 0) {
            return false;
        }
    }
    return true;
}

/* Counts the raise into message `id`. */
static stsm_status_t count_into(struct stsm_outbox *ob, uint32_t id, uint8_t severity, int64_t now,
                                uint32_t *dropped_id)
{
    struct content m;
    struct state s;
    stsm_status_t st = read_message(ob, id, &m, &s);
    if (st != STSM_OK) {
        return st;
    }
    if (s.raised_count < UINT32_MAX) {
        s.raised_count++;
    }
    s.last_raised = now;
    if (severity > s.severity) {
        s.severity = severity;
    }
    st = make_room(ob, store_key(TYPE_STATE, id), STATE_RECORD_MAX, false, severity, id, dropped_id);
    if (st == STSM_OK) {
        st = write_state(ob, &s);
    }
    return st;
}

static stsm_status_t check_alert(const struct stsm_alert *alert, const char *const *to, size_t to_count,
                                 char *why, size_t why_len)
{
    if ((unsigned)alert->severity >= STSM_SEVERITY_COUNT) {
        return stsm_refuse(why, why_len, "the severity is not one of info, warning, error, critical");
    }
    size_t key_len = 0;
    while (alert->key != NULL && key_len <= STSM_OUTBOX_KEY_MAX && alert->key[key_len] != '\0') {
        key_len++;
    }
    if (alert->key != NULL && !key_ok((const uint8_t *)alert->key, key_len)) {
        return stsm_refuse(why, why_len, "the key must be 1 to %u printable ASCII characters",
                           (unsigned)STSM_OUTBOX_KEY_MAX);
    }
    if (to_count == 0 || to_count > STSM_SMTP_MAX_RCPT) {
        return stsm_refuse(why, why_len, "the recipients: a message needs 1 to %u",
                           (unsigned)STSM_SMTP_MAX_RCPT);
    }
    struct stsm_message m;
    memset(&m, 0, sizeof m);
    m.from = SOME_SENDER;
    for (size_t i = 0; i < to_count; i++) {
        m.to[i] = to[i];
        for (size_t j = 0; j < i; j++) {
            if (to[i] != NULL && to[j] != NULL && strcmp(to[i], to[j]) == 0) {
                return stsm_refuse(why, why_len, "recipient '%.60s' is listed twice", to[i]);
            }
        }
    }
    m.to_count = to_count;
    m.subject = alert->subject != NULL ? alert->subject : "";
    m.body = alert->body;
    m.body_len = alert->body_len;
    return stsm_message_check(&m, why, why_len);
}

static size_t record_max(const struct stsm_outbox *ob)
{
    size_t max = stsm_store_record_max(ob->store->area);
    return max < STSM_OUTBOX_RECORD_MAX ? max : STSM_OUTBOX_RECORD_MAX;
}

stsm_status_t stsm_outbox_raise(struct stsm_outbox *outbox, const struct stsm_alert *alert,
                                const char *const *default_to, size_t default_to_count, int64_t now,
                                uint32_t random, uint32_t *id, bool *coalesced, uint32_t *dropped_id,
                                char *why, size_t why_len)
{
    /* Every output valid from here on: `*id` and `*coalesced` change on success only. */
    uint32_t spare_id, spare_dropped;
    bool spare_coalesced;
    id = id != NULL ? id : &spare_id;
    coalesced = coalesced != NULL ? coalesced : &spare_coalesced;
    dropped_id = dropped_id != NULL ? dropped_id : &spare_dropped;
    *id = 0;
    *coalesced = false;
    *dropped_id = 0;
    if (outbox == NULL || outbox->store == NULL || alert == NULL) {
        return stsm_refuse(why, why_len, "no outbox or no alert");
    }
    const char *const *to = alert->to_count > 0 ? alert->to : default_to;
    size_t to_count = to == NULL ? 0 : alert->to_count > 0 ? alert->to_count : default_to_count;
    stsm_status_t st = check_alert(alert, to, to_count, why, why_len);
    if (st != STSM_OK) {
        return st;
    }

    struct content a;
    memset(&a, 0, sizeof a);
    a.severity = (uint32_t)alert->severity;
    a.key = (const uint8_t *)alert->key;
    a.key_len = alert->key != NULL ? (uint32_t)strlen(alert->key) : 0;   /* checked: short */
    a.to_count = (uint32_t)to_count;
    for (size_t i = 0; i < to_count; i++) {
        a.to[i] = (const uint8_t *)to[i];
        a.to_len[i] = strlen(to[i]);
    }
    a.subject = (const uint8_t *)(alert->subject != NULL ? alert->subject : "");
    a.subject_len = (uint32_t)strlen((const char *)a.subject);
    a.body = (const uint8_t *)alert->body;
    a.id_random[0] = random;
    a.created = now;
    a.window_start = now;

    size_t need = text_need(&a);
    if (need > STSM_OUTBOX_TEXT_MAX) {
        return stsm_refuse(why, why_len, "the key, recipients and subject take %lu bytes with a NUL each: at most "
                           "%lu (STSM_OUTBOX_TEXT_MAX)", (unsigned long)need, (unsigned long)STSM_OUTBOX_TEXT_MAX);
    }
    /* The fixed part, the key, each recipient after its length byte, the subject. */
    size_t max = record_max(outbox), rest = CONTENT_FIXED - 2 + need;
    if (rest > max || alert->body_len > max - rest) {
        return stsm_refuse(why, why_len, "the body (%lu bytes) is too long: with these recipients and subject "
                           "a message holds at most %lu bytes of body",
                           (unsigned long)alert->body_len, (unsigned long)(rest < max ? max - rest : 0));
    }
    a.body_len = (uint32_t)alert->body_len;

    /* The window this raise falls in, if any: the messages of the same alert opened in
     * it, and among them the newest not attempted yet. */
    if (a.key_len > 0) {
        uint32_t h = alert_hash(a.key, a.key_len, a.to, a.to_len, a.to_count);
        bool window_open = false;
        uint32_t target = 0;
        for (size_t i = 0; i < outbox->count; i++) {
            const struct stsm_outbox_summary *sum = &outbox->items[i];
            struct content m;
            if (sum->key_hash != h || !in_window(outbox, sum->window_start, now) ||
                read_content(outbox, sum->id, &m) != STSM_OK || !same_alert(&m, &a)) {
                continue;
            }
            window_open = true;
            a.window_start = sum->window_start;
            if (!sum->attempted && sum->pending != 0) {
                target = sum->id;
            }
        }
        if (target != 0) {
            st = count_into(outbox, target, (uint8_t)a.severity, now, dropped_id);
            if (st == STSM_OK) {
                *id = target;
                *coalesced = true;
            }
            return st;
        }
        if (window_open) {
            a.not_before = a.window_start + (int64_t)outbox->config.coalesce_window_s;
        }
    }

    if (outbox->next_id > STSM_OUTBOX_ID_MAX) {
        return STSM_ERR_CAPACITY;
    }
    a.id = a.id_random[1] = outbox->next_id;
    struct content_pieces pieces;
    if (!encode_content(&a, &pieces) || pieces.len > max) {
        return stsm_refuse(why, why_len, "the message does not fit a record");   /* checked above */
    }
    uint32_t key = store_key(TYPE_CONTENT, a.id);
    st = make_room(outbox, key, pieces.len, true, (uint8_t)a.severity, 0, dropped_id);
    /* Ids given out are recorded before use, so no deletion can let one come back. */
    if (st == STSM_OK && a.id >= outbox->id_reserved) {
        uint32_t reserved = a.id + ID_RESERVE;
        st = write_high_water(outbox, reserved > STSM_OUTBOX_ID_MAX + 1u ? STSM_OUTBOX_ID_MAX + 1u : reserved);
    }
    if (st == STSM_OK) {
        st = stsm_store_put_pieces(outbox->store, key, pieces.piece, pieces.count);
    }
    if (st != STSM_OK) {
        return st;
    }
    outbox->next_id++;
    struct state s;
    struct stsm_outbox_summary sum;
    initial_state(&a, &s);
    summarize(&sum, &a, &s);
    insert_sorted(outbox, &sum);
    *id = a.id;
    return STSM_OK;
}

/* ---- the clock ---------------------------------------------------------------------- */

stsm_status_t stsm_outbox_clock_known(struct stsm_outbox *outbox, int64_t now)
{
    stsm_status_t result = STSM_OK;
    for (size_t i = 0; i < outbox->count; i++) {
        struct content m;
        struct state s;
        stsm_status_t st = read_message(outbox, outbox->items[i].id, &m, &s);
        if (st == STSM_OK && (s.first_queued == 0 || s.first_raised == 0 || s.last_raised == 0)) {
            s.first_queued = s.first_queued != 0 ? s.first_queued : now;
            s.first_raised = s.first_raised != 0 ? s.first_raised : now;
            s.last_raised = s.last_raised != 0 ? s.last_raised : now;
            st = put_state(outbox, &s);   /* times only: the summary stays as it is */
        }
        if (st != STSM_OK) {
            result = st;
        }
    }
    return result;
}

/* ---- choosing the next message ------------------------------------------------------ */

/* When the domain cap lets message `sum` start (0: now). Only first attempts count. The
 * recipients' domains are read from the store (not kept in RAM for every message): only
 * while a cap is set, for messages not attempted yet. */
static int64_t cap_release(const struct stsm_outbox *ob, const struct stsm_outbox_summary *sum, int64_t now)
{
    uint32_t cap = ob->config.domain_hourly_cap;
    struct content m;
    if (cap == 0 || sum->attempted || read_content(ob, sum->id, &m) != STSM_OK) {
        return 0;   /* a message that cannot be read is not held here: it fails when taken */
    }
    int64_t release = 0;
    if (ob->sent_count == STSM_OUTBOX_CAP_TRACK && ob->sent[0].at + HOUR_S > now) {
        release = ob->sent[0].at + HOUR_S;   /* nothing more can be remembered this hour */
    }
    for (size_t r = 0; r < m.to_count; r++) {
        if ((sum->pending & (1u << r)) == 0) {
            continue;
        }
        uint32_t h = domain_hash(m.to[r], m.to_len[r]);
        /* With `cap` starts to the domain in the hour, the cap-th newest must age out
         * before one more may go (the list is oldest first). */
        size_t n = 0;
        for (size_t i = ob->sent_count; i-- > 0;) {
            int64_t end = ob->sent[i].at + HOUR_S;
            if (ob->sent[i].domain_hash == h && end > now && ++n == cap) {
                release = end > release ? end : release;
                break;
            }
        }
    }
    return release;
}

static bool skipped(uint32_t id, const uint32_t *skip, size_t skip_count)
{
    for (size_t i = 0; i < skip_count; i++) {
        if (skip[i] == id) {
            return true;
        }
    }
    return false;
}

/* The first due message by severity, then age, that is not in `skip`. */
static stsm_status_t first_due(const struct stsm_outbox *outbox, int64_t now, const uint32_t *skip,
                               size_t skip_count, uint32_t *id, uint32_t *wait_s)
{
    const struct stsm_outbox_summary *best = NULL;
    int64_t wait = -1;
    for (size_t i = 0; i < outbox->count; i++) {
        const struct stsm_outbox_summary *sum = &outbox->items[i];
        if (sum->pending == 0 || skipped(sum->id, skip, skip_count)) {
            continue;
        }
        int64_t due = sum->next_attempt;
        int64_t release = cap_release(outbox, sum, now);
        if (release > due) {
            due = release;
        }
        if (due <= now) {
            if (best == NULL || sum->severity > best->severity) {
                best = sum;   /* the list is oldest first: ties keep the older */
            }
        } else if (wait < 0 || due - now < wait) {
            wait = due - now;
        }
    }
    if (best != NULL) {
        *id = best->id;
        if (wait_s != NULL) {
            *wait_s = 0;
        }
        return STSM_OK;
    }
    if (wait_s != NULL) {
        *wait_s = wait < 0 ? UINT32_MAX : wait >= (int64_t)UINT32_MAX ? UINT32_MAX - 1 : (uint32_t)wait;
    }
    return STSM_ERR_NOT_FOUND;
}

stsm_status_t stsm_outbox_next_due(const struct stsm_outbox *outbox, int64_t now, uint32_t *id, uint32_t *wait_s)
{
    return first_due(outbox, now, NULL, 0, id, wait_s);
}

stsm_status_t stsm_outbox_next_due_except(const struct stsm_outbox *outbox, int64_t now, const uint32_t *skip,
                                          size_t skip_count, uint32_t *id)
{
    return first_due(outbox, now, skip, skip_count, id, NULL);
}

/* ---- reading ------------------------------------------------------------------------ */

stsm_status_t stsm_outbox_load(const struct stsm_outbox *outbox, uint32_t id, struct stsm_outbox_message *out,
                               char *text, size_t text_cap)
{
    struct content m;
    struct state s;
    stsm_status_t st = read_message(outbox, id, &m, &s);
    return st == STSM_OK ? fill_message(&m, &s, out, text, text_cap) : st;
}

stsm_status_t stsm_outbox_body(const struct stsm_outbox *outbox, uint32_t id, const char **body, size_t *body_len)
{
    struct content m;
    stsm_status_t st = read_content(outbox, id, &m);
    if (st == STSM_OK) {
        *body = (const char *)m.body;
        *body_len = m.body_len;
    }
    return st;
}

/* ---- attempts ----------------------------------------------------------------------- */

/* Message `id` as kept: its summary and both records. */
static stsm_status_t find_message(struct stsm_outbox *ob, uint32_t id, struct stsm_outbox_summary **sum,
                                  struct content *m, struct state *s)
{
    *sum = find(ob, id);
    return *sum == NULL ? STSM_ERR_NOT_FOUND : read_message(ob, id, m, s);
}

static void remember_start(struct stsm_outbox *ob, const struct content *m, const struct state *s, int64_t now)
{
    if (ob->config.domain_hourly_cap == 0) {
        return;
    }
    /* Forget what is over an hour old; when still full, forget the oldest. */
    size_t kept = 0;
    for (size_t i = 0; i < ob->sent_count; i++) {
        if (ob->sent[i].at + HOUR_S > now) {
            ob->sent[kept++] = ob->sent[i];
        }
    }
    ob->sent_count = kept;
    uint32_t h[STSM_SMTP_MAX_RCPT];
    for (size_t r = 0; r < m->to_count; r++) {
        h[r] = domain_hash(m->to[r], m->to_len[r]);
        bool seen = s->rcpt[r] != STSM_RCPT_PENDING;
        for (size_t j = 0; j < r && !seen; j++) {
            seen = s->rcpt[j] == STSM_RCPT_PENDING && h[j] == h[r];
        }
        if (seen) {
            continue;
        }
        if (ob->sent_count == STSM_OUTBOX_CAP_TRACK) {
            memmove(&ob->sent[0], &ob->sent[1], (STSM_OUTBOX_CAP_TRACK - 1) * sizeof ob->sent[0]);
            ob->sent_count--;
        }
        ob->sent[ob->sent_count].domain_hash = h[r];
        ob->sent[ob->sent_count].at = now;
        ob->sent_count++;
    }
}

stsm_status_t stsm_outbox_attempt_begins(struct stsm_outbox *outbox, uint32_t id, int64_t now)
{
    struct stsm_outbox_summary *sum;
    struct content m;
    struct state s;
    stsm_status_t st = find_message(outbox, id, &sum, &m, &s);
    if (st != STSM_OK) {
        return st;
    }
    bool first = s.attempts == 0;
    if (s.attempts < UINT32_MAX) {
        s.attempts++;
    }
    if (first) {
        remember_start(outbox, &m, &s, now);   /* before the write: m's views die with it */
    }
    st = write_state(outbox, &s);
    if (st == STSM_OK) {
        forget_attempt(outbox, id);   /* what it held is in the record just written */
    }
    return st;
}

static void error_text(char out[STSM_OUTBOX_ERROR_MAX + 1], const struct stsm_smtp_result *r)
{
    const char *text = r->text;
    const char *nul = memchr(text, '\0', sizeof r->text);
    size_t len = nul != NULL ? (size_t)(nul - text) : sizeof r->text;
    if (len == 0 && r->code == 0) {
        text = stsm_status_str(r->status);
        len = strlen(text);
    }
    /* "550 text", or the text alone when there is no code; cut at STSM_OUTBOX_ERROR_MAX. */
    if (r->code != 0) {
        snprintf(out, STSM_OUTBOX_ERROR_MAX + 1, "%u %.*s", (unsigned)r->code, (int)len, text);
    } else {
        snprintf(out, STSM_OUTBOX_ERROR_MAX + 1, "%.*s", (int)len, text);
    }
    /* Server text is anything: keep it printable, as the decoder demands. */
    for (char *c = out; *c != '\0'; c++) {
        if ((unsigned char)*c < 0x20 || (unsigned char)*c > 0x7E) {
            *c = '?';
        }
    }
}

stsm_status_t stsm_outbox_record(struct stsm_outbox *outbox, uint32_t id, size_t rcpt,
                                 const struct stsm_smtp_result *result, int64_t now)
{
    (void)now;
    struct stsm_outbox_summary *sum;
    struct content m;
    struct state s;
    stsm_status_t st = find_message(outbox, id, &sum, &m, &s);
    if (st != STSM_OK) {
        return st;
    }
    if (result == NULL || rcpt >= s.to_count) {
        return STSM_ERR_ARGUMENT;
    }
    if (s.rcpt[rcpt] != STSM_RCPT_PENDING) {
        return STSM_OK;
    }
    /* Only a delivery must be on flash before the caller goes on: a refusal or a
     * deferral lost to a power cut means one more try, never a second delivery. Keeping
     * them until the next write also keeps the body where it is during the attempt. */
    if (result->outcome != STSM_SMTP_DELIVERED) {
        if (outbox->attempt_id != id) {
            forget_attempt(outbox, id);
        }
        if (result->outcome == STSM_SMTP_FAILED) {
            outbox->attempt_failed |= 1u << rcpt;
        }
        error_text(outbox->attempt_error, result);
        return STSM_OK;
    }
    s.rcpt[rcpt] = STSM_RCPT_DELIVERED;
    return write_state(outbox, &s);
}

stsm_status_t stsm_outbox_record_flush(struct stsm_outbox *outbox)
{
    uint32_t id = outbox->attempt_id;
    if (id == 0 || (outbox->attempt_failed == 0 && outbox->attempt_error[0] == '\0')) {
        return STSM_OK;
    }
    struct stsm_outbox_summary *sum;
    struct content m;
    struct state s;
    stsm_status_t st = find_message(outbox, id, &sum, &m, &s);   /* with what is held laid over */
    if (st == STSM_OK) {
        st = write_state(outbox, &s);
    }
    if (st == STSM_OK) {
        forget_attempt(outbox, id);
    } else if (st == STSM_ERR_NOT_FOUND) {
        forget_attempt(outbox, 0);   /* dropped meanwhile: nothing to keep */
        st = STSM_OK;
    }
    return st;
}

/* 32-bit throughout: the doubling stops at `max` before it could wrap, and the jittered
 * delay, at most 1.1 * max, is given as its low 32 bits, as before. */
static uint32_t backoff(const struct stsm_outbox_config *c, uint32_t attempts, uint32_t random)
{
    uint32_t delay = c->retry_first_s > 0 ? c->retry_first_s : 1;
    uint32_t max = c->retry_max_s > delay ? c->retry_max_s : delay;
    for (uint32_t i = 1; i < attempts && delay < max; i++) {
        delay = delay > max / 2 ? max : delay * 2;
    }
    uint32_t spread = delay / 10;   /* +-10% */
    return delay - spread + random % (2 * spread + 1);
}

stsm_status_t stsm_outbox_attempt_ends(struct stsm_outbox *outbox, uint32_t id, int64_t now, uint32_t random,
                                       enum stsm_rcpt_state states[STSM_SMTP_MAX_RCPT])
{
    struct stsm_outbox_summary *sum;
    struct content m;
    struct state s;
    stsm_status_t st = find_message(outbox, id, &sum, &m, &s);
    if (st != STSM_OK) {
        return st;
    }
    bool pending = false;
    for (size_t i = 0; i < s.to_count; i++) {
        pending |= s.rcpt[i] == STSM_RCPT_PENDING;
    }
    const struct stsm_outbox_config *c = &outbox->config;
    int64_t deadline = s.first_queued != 0 ? s.first_queued + (int64_t)c->give_up_s : 0;
    if (pending && deadline != 0 && now != 0 && now >= deadline) {
        for (size_t i = 0; i < s.to_count; i++) {
            if (s.rcpt[i] == STSM_RCPT_PENDING) {
                s.rcpt[i] = STSM_RCPT_GAVE_UP;
            }
        }
        pending = false;
    } else if (pending) {
        s.next_attempt = now + backoff(c, s.attempts, random);
        if (deadline != 0 && s.next_attempt > deadline) {
            s.next_attempt = deadline;
        }
    }
    if (states != NULL) {
        for (size_t i = 0; i < STSM_SMTP_MAX_RCPT; i++) {
            states[i] = i < s.to_count ? (enum stsm_rcpt_state)s.rcpt[i] : STSM_RCPT_PENDING;
        }
    }
    if (!pending && !(m.key_len > 0 && in_window(outbox, m.window_start, now))) {
        st = remove_at(outbox, (size_t)(sum - outbox->items));
    } else {
        st = write_state(outbox, &s);
    }
    if (st == STSM_OK) {
        forget_attempt(outbox, 0);
    }
    return st;
}

/* ---- upkeep ------------------------------------------------------------------------- */

stsm_status_t stsm_outbox_flush(struct stsm_outbox *outbox)
{
    stsm_status_t result = STSM_OK;
    for (size_t i = 0; i < outbox->count; i++) {
        struct stsm_outbox_summary *sum = &outbox->items[i];
        if (sum->pending == 0) {
            continue;
        }
        /* What is stored decides, not the summary: stsm_outbox_retry_now() zeroes the
         * summary alone, and the flush is for other processes to see. */
        struct content m;
        struct state s;
        stsm_status_t st = read_message(outbox, sum->id, &m, &s);
        if (st == STSM_OK && s.next_attempt == 0) {
            continue;
        }
        if (st == STSM_OK) {
            s.next_attempt = 0;
            st = write_state(outbox, &s);
        }
        if (st != STSM_OK) {
            result = st;
        }
    }
    return result;
}

void stsm_outbox_retry_now(struct stsm_outbox *outbox)
{
    for (size_t i = 0; i < outbox->count; i++) {
        struct stsm_outbox_summary *sum = &outbox->items[i];
        if (sum->pending != 0 && sum->attempted) {
            sum->next_attempt = 0;
        }
    }
}

stsm_status_t stsm_outbox_drop(struct stsm_outbox *outbox, uint32_t id)
{
    if (outbox->attempt_id == id) {
        forget_attempt(outbox, 0);
    }
    struct stsm_outbox_summary *sum = find(outbox, id);
    if (sum != NULL) {
        return remove_at(outbox, (size_t)(sum - outbox->items));
    }
    /* A message open() could not read is not in the list but may be dropped. */
    const uint8_t *p;
    size_t len;
    if (id == 0 || id > STSM_OUTBOX_ID_MAX ||
        (stsm_store_get(outbox->store, store_key(TYPE_CONTENT, id), &p, &len) == STSM_ERR_NOT_FOUND &&
         stsm_store_get(outbox->store, store_key(TYPE_STATE, id), &p, &len) == STSM_ERR_NOT_FOUND)) {
        return STSM_ERR_NOT_FOUND;
    }
    return delete_records(outbox, id);
}

stsm_status_t stsm_outbox_tidy(struct stsm_outbox *outbox, int64_t now)
{
    for (size_t i = 0; i < outbox->count;) {
        const struct stsm_outbox_summary *sum = &outbox->items[i];
        if (sum->pending == 0 && !(sum->key_hash != 0 && in_window(outbox, sum->window_start, now))) {
            stsm_status_t st = remove_at(outbox, i);
            if (st != STSM_OK) {
                return st;
            }
        } else {
            i++;
        }
    }
    return STSM_OK;
}

size_t stsm_outbox_count(const struct stsm_outbox *outbox)
{
    return outbox->count;
}

size_t stsm_outbox_pending_count(const struct stsm_outbox *outbox)
{
    size_t n = 0;
    for (size_t i = 0; i < outbox->count; i++) {
        n += outbox->items[i].pending != 0;
    }
    return n;
}

uint32_t stsm_outbox_id_at(const struct stsm_outbox *outbox, size_t i)
{
    return i < outbox->count ? outbox->items[i].id : 0;
}
