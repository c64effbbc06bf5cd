#include "stsm_decode_log.h"

#include <stdbool.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stsm_text.h"

/* A string argument may itself hold id forms (a status text in a result); nesting deeper
 * than this is passed on as it is. */
#define DEPTH_MAX 4

/* What closes a form its writer had to cut (stsm_text.h: never unescaped in a string
 * argument), and how a cut is shown. */
#define CUT_MARK '}'
#define CUT_SHOWN "[cut]"

struct sink {
    char *p;
    size_t len;
    size_t used;
    bool full;  /* something did not fit: the text ends in CUT_SHOWN */
};

static void sink_put(struct sink *s, const char *text, size_t n)
{
    for (; n > 0; n--) {
        if (s->used + 1 >= s->len) {
            s->full = true;
            break;
        }
        s->p[s->used++] = *text++;
    }
    if (s->len > 0) {
        s->p[s->used] = '\0';
    }
}

static void sink_puts(struct sink *s, const char *text)
{
    sink_put(s, text, strlen(text));
}

static size_t decode(const char *table, size_t table_len, const char *in, char *out, size_t out_len,
                     int depth);

/* The status form: "$[=" and the status id (stsm_status.h). Statuses keep their ids from
 * one version to the next, so this host's table gives the prose. No id is the start of
 * another (test_text checks), so a status form cut in its id is no status. */
static const char *status_form(const char *p, size_t *consumed)
{
    size_t n = 0;
    while ((p[n] >= 'a' && p[n] <= 'z') || (p[n] >= '0' && p[n] <= '9') || p[n] == '_') {
        n++;
    }
    /* STSM_STATUS_COUNT stands for any value outside the table: "unknown". */
    for (int s = 0; s <= STSM_STATUS_COUNT && n > 0; s++) {
        const char *id = stsm_status_id((stsm_status_t)s);
        if (strlen(id) == n && memcmp(id, p, n) == 0) {
            *consumed = n;
            return stsm_status_str((stsm_status_t)s);
        }
    }
    return NULL;
}

struct args {
    const char *arg[STSM_TEXT_ARGS_MAX];
    unsigned count;
    unsigned next;
    bool cut;  /* the form was cut after its last argument here (or in it) */
    char store[STSM_DECODE_LOG_LINE_MAX];
};

/* Splits the arguments of a form starting at `p` (just past the id) into `a`, unescaped.
 * Returns how much of `p` the form takes (to its ']' or the end of the text). An argument
 * that does not fit the store counts as a cut. */
static size_t split_args(const char *p, struct args *a)
{
    size_t i = 0;
    size_t used = 0;
    bool in_arg = false;
    bool keep = false;  /* the argument being read is stored */
    a->count = 0;
    a->next = 0;
    a->cut = false;
    for (;;) {
        if (p[i] == CUT_MARK) {
            a->cut = true;
            i++;
            continue;
        }
        if (p[i] == '\0' || p[i] == ']' || (!in_arg && p[i] != '|')) {
            break;
        }
        if (p[i] == '|') {
            if (keep) {
                a->store[used++] = '\0';
            }
            in_arg = true;
            keep = a->count < STSM_TEXT_ARGS_MAX && used + 1 < sizeof a->store;
            if (keep) {
                a->arg[a->count++] = a->store + used;
            } else if (a->count < STSM_TEXT_ARGS_MAX) {
                a->cut = true;
            }
            i++;
            continue;
        }
        if (p[i] == '\\' && p[i + 1] != '\0') {
            i++;
        }
        if (keep && used + 2 < sizeof a->store) {
            a->store[used++] = p[i];
        } else if (keep) {
            a->cut = true;
        }
        i++;
    }
    if (keep) {
        a->store[used] = '\0';
    }
    return p[i] == ']' ? i + 1 : i;
}

static const char *next_arg(struct args *a)
{
    return a->next < a->count ? a->arg[a->next++] : NULL;
}

/* One conversion of a literal, as parsed: only what an argument of stsm_text.h can feed
 * and the decoder can print exactly as the device did. */
struct spec {
    char flags[8];
    int width;      /* SPEC_ARG: from the arguments */
    int precision;  /* SPEC_NONE, SPEC_ARG or the value */
    unsigned bits;  /* of an unsigned value on the device (Cortex-M: int and long 32 bits) */
    unsigned signed_bits;  /* of a signed one: only h, hh and int narrow what arrives */
    char conv;
    size_t len;     /* from '%' to the conversion letter */
};

#define SPEC_NONE (-1)
#define SPEC_ARG (-2)

/* Reads a width or precision written in the literal; more than a line holds is refused. */
static bool spec_number(const char *p, size_t *i, int *value)
{
    *value = 0;
    for (; p[*i] >= '0' && p[*i] <= '9'; (*i)++) {
        *value = *value * 10 + (p[*i] - '0');
        if (*value > (int)STSM_DECODE_LOG_LINE_MAX) {
            return false;
        }
    }
    return true;
}

/* Parses the conversion at `pct` (its '%'). False for anything else: an unknown letter,
 * a length the device's arguments do not have (L, q, wide %lc and %ls), or a flag or
 * precision C leaves undefined for that letter (# on d, 0 on s, a precision on c). */
static bool spec_parse(const char *pct, struct spec *sp)
{
    size_t i = 1;
    size_t nflags = 0;
    memset(sp, 0, sizeof *sp);
    while (pct[i] != '\0' && strchr("-+ #0", pct[i]) != NULL) {
        if (nflags + 1 >= sizeof sp->flags) {
            return false;
        }
        sp->flags[nflags++] = pct[i++];
    }
    if (pct[i] == '*') {
        sp->width = SPEC_ARG;
        i++;
    } else if (!spec_number(pct, &i, &sp->width)) {
        return false;
    }
    sp->precision = SPEC_NONE;
    if (pct[i] == '.') {
        i++;
        if (pct[i] == '*') {
            sp->precision = SPEC_ARG;
            i++;
        } else if (!spec_number(pct, &i, &sp->precision)) {
            return false;
        }
    }
    /* A signed long (or size, or difference) arrives as the value it held: on the device
     * it fits 32 bits, on the host (test_text) it may not, and either way it is printed
     * as it came. */
    static const struct {
        char text[3];
        unsigned bits;
        unsigned signed_bits;
    } lengths[] = { { "hh", 8, 8 },   { "h", 16, 16 }, { "ll", 64, 64 }, { "l", 32, 64 },
                    { "j", 64, 64 }, { "z", 32, 64 }, { "t", 32, 64 } };
    bool sized = false;
    sp->bits = 32;
    sp->signed_bits = 32;
    for (size_t k = 0; k < sizeof lengths / sizeof lengths[0] && !sized; k++) {
        size_t n = strlen(lengths[k].text);
        if (strncmp(pct + i, lengths[k].text, n) == 0) {
            sp->bits = lengths[k].bits;
            sp->signed_bits = lengths[k].signed_bits;
            sized = true;
            i += n;
        }
    }
    sp->conv = pct[i];
    sp->len = i + 1;
    if (sp->conv == '\0' || strchr("diouxXcs", sp->conv) == NULL) {
        return false;
    }
    bool integer = strchr("diouxX", sp->conv) != NULL;
    if (strchr(sp->flags, '#') != NULL && strchr("oxX", sp->conv) == NULL) {
        return false;
    }
    if (!integer && (sized || strchr(sp->flags, '0') != NULL)) {
        return false;
    }
    return sp->conv != 'c' || sp->precision == SPEC_NONE;
}

/* A width or precision from the arguments, as the device's int; beyond a line it shows
 * the same as a line (the piece is cut there), so it is held to that (no INT_MIN). */
static int star_value(const char *v)
{
    long n = strtol(v, NULL, 10);
    long max = (long)STSM_DECODE_LOG_LINE_MAX;
    return (int)(n > max ? max : n < -max ? -max : n);
}

/* The format is built here from a parsed spec: flags, then width and precision always
 * as arguments, one fixed argument list for each kind of value. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"

/* Applies one conversion to the next arguments, as the device's printf would have.
 * False when an argument is missing (the form was cut before it). */
static bool convert(struct sink *s, const struct spec *sp, struct args *a, const char *table, size_t table_len,
                    int depth)
{
    char f[sizeof sp->flags + 8];
    char piece[STSM_DECODE_LOG_LINE_MAX];
    int width = sp->width;
    int precision = sp->precision;
    const char *v;
    if (width == SPEC_ARG) {
        if ((v = next_arg(a)) == NULL) {
            return false;
        }
        width = star_value(v);
    }
    if (precision == SPEC_ARG) {
        if ((v = next_arg(a)) == NULL) {
            return false;
        }
        precision = star_value(v);  /* negative: as if none, as in C */
    }
    const char *value = next_arg(a);
    if (value == NULL) {
        return false;
    }
    snprintf(f, sizeof f, "%%%s*.*%s%c", sp->flags, sp->conv == 's' || sp->conv == 'c' ? "" : "ll", sp->conv);
    /* Integers arrive in decimal: back to the device's bits (a negative value printed
     * with %x is its two's complement), then to the conversion's width and signedness. */
    bool is_signed = sp->conv == 'd' || sp->conv == 'i';
    unsigned n = is_signed ? sp->signed_bits : sp->bits;
    unsigned long long bits = value[0] == '-' ? (unsigned long long)strtoll(value, NULL, 10)
                                              : strtoull(value, NULL, 10);
    unsigned long long mask = n == 64 ? ~0ull : (1ull << n) - 1;
    bits &= mask;
    int w;
    switch (sp->conv) {
    case 's': {
        char inner[STSM_DECODE_LOG_LINE_MAX];
        decode(table, table_len, value, inner, sizeof inner, depth + 1);
        w = snprintf(piece, sizeof piece, f, width, precision, inner);
        break;
    }
    case 'c':
        w = snprintf(piece, sizeof piece, f, width, precision, (int)(unsigned char)bits);
        break;
    case 'd':
    case 'i':
        if ((bits >> (n - 1)) & 1) {
            bits |= ~mask;
        }
        w = snprintf(piece, sizeof piece, f, width, precision, (long long)bits);
        break;
    default:
        w = snprintf(piece, sizeof piece, f, width, precision, bits);
        break;
    }
    if (w > 0) {
        sink_puts(s, piece);
        if ((size_t)w >= sizeof piece) {
            sink_puts(s, CUT_SHOWN);
        }
    }
    return true;
}

#pragma GCC diagnostic pop

/* Writes the text `id` (its literal `fmt`) with the arguments `a`. A literal holding a
 * conversion the decoder cannot print exactly is refused whole, naming the text: the
 * literal comes from the ELF file given, which may be anything. A cut form is shown up to
 * its last argument, then CUT_SHOWN. */
static void render(struct sink *s, unsigned long id, const char *fmt, struct args *a, const char *table,
                   size_t table_len, int depth)
{
    struct spec sp;
    for (const char *p = strchr(fmt, '%'); p != NULL; p = strchr(p, '%')) {
        if (p[1] == '%') {
            p += 2;
        } else if (spec_parse(p, &sp)) {
            p += sp.len;
        } else {
            char why[80];
            size_t shown = strspn(p + 1, "-+ #0123456789.*hlzjtLq") + 2;  /* '%' to the letter */
            snprintf(why, sizeof why, "[text %lx: cannot decode \"%.*s\"]", id, (int)(shown < 24 ? shown : 24), p);
            sink_puts(s, why);
            return;
        }
    }
    while (*fmt != '\0') {
        const char *pct = strchr(fmt, '%');
        if (pct == NULL) {
            sink_puts(s, fmt);
            break;
        }
        sink_put(s, fmt, (size_t)(pct - fmt));
        if (pct[1] == '%') {
            sink_put(s, "%", 1);
            fmt = pct + 2;
            continue;
        }
        spec_parse(pct, &sp);
        fmt = pct + sp.len;
        if (!convert(s, &sp, a, table, table_len, depth)) {
            if (a->cut) {
                break;
            }
            sink_put(s, "?", 1);  /* the form was cut short before this argument */
        } else if (a->cut && a->next == a->count) {
            break;
        }
    }
    if (a->cut) {
        sink_puts(s, CUT_SHOWN);
    }
}

/* A text of the table: `id` is where a literal starts (the section's start or just past
 * another's NUL: an id cut short points inside a text) and a NUL ends it in the table. */
static const char *literal(const char *table, size_t table_len, unsigned long id)
{
    if (id >= table_len || (id > 0 && table[id - 1] != '\0') ||
        memchr(table + id, '\0', table_len - (size_t)id) == NULL) {
        return NULL;
    }
    return table + id;
}

/* The id of a form at `p` (just past "$["): one to eight lower-case hex digits, as the
 * writer puts them, followed by what may follow an id ('|', ']' or the cut mark); an id
 * running into the end of the text may be cut short and names no text. */
static const char *form_id(const char *p, unsigned long *id)
{
    size_t n = 0;
    *id = 0;
    for (; n < 9 && ((p[n] >= '0' && p[n] <= '9') || (p[n] >= 'a' && p[n] <= 'f')); n++) {
        *id = *id * 16 + (unsigned long)(p[n] <= '9' ? p[n] - '0' : p[n] - 'a' + 10);
    }
    bool closed = p[n] == '|' || p[n] == ']' || p[n] == CUT_MARK;
    return n > 0 && n <= 8 && closed ? p + n : NULL;
}

static size_t decode(const char *table, size_t table_len, const char *in, char *out, size_t out_len,
                     int depth)
{
    struct sink s = { out, out_len, 0, false };
    static struct args args_at[DEPTH_MAX + 1];
    const char *text = in;
    if (out_len > 0) {
        out[0] = '\0';
    }
    while (*in != '\0') {
        const char *form = depth <= DEPTH_MAX ? strstr(in, "$[") : NULL;
        if (form == NULL) {
            sink_puts(&s, in);
            break;
        }
        sink_put(&s, in, (size_t)(form - in));
        const char *p = form + 2;
        size_t taken = 0;
        const char *prose = *p == '=' ? status_form(p + 1, &taken) : NULL;
        if (prose != NULL) {
            sink_puts(&s, prose);
            in = p + 1 + taken;
            continue;
        }
        unsigned long id;
        const char *end = form_id(p, &id);
        const char *fmt = end != NULL ? literal(table, table_len, id) : NULL;
        if (fmt == NULL) {
            sink_put(&s, form, 2);
            in = p;
            continue;
        }
        struct args *a = &args_at[depth];
        in = end + split_args(end, a);
        render(&s, id, fmt, a, table, table_len, depth);
    }
    /* What did not fit is said at the end, in place of the last characters; a line cut
     * to fit still ends its line. */
    size_t n = strlen(text);
    const char *tail = n > 0 && text[n - 1] == '\n' ? CUT_SHOWN "\n" : CUT_SHOWN;
    if (s.full && out_len > strlen(tail)) {
        memcpy(out + out_len - 1 - strlen(tail), tail, strlen(tail) + 1);
        s.used = out_len - 1;
    }
    return s.used;
}

size_t stsm_decode_log_text(const char *table, size_t table_len, const char *in, char *out, size_t out_len)
{
    return decode(table, table_len, in, out, out_len, 0);
}

static uint64_t le(const unsigned char *p, size_t n)
{
    uint64_t v = 0;
    while (n-- > 0) {
        v = v << 8 | p[n];
    }
    return v;
}

static bool read_at(FILE *f, uint64_t off, void *buf, size_t n)
{
    return off <= (uint64_t)LONG_MAX && fseek(f, (long)off, SEEK_SET) == 0 && fread(buf, 1, n, f) == n;
}

stsm_status_t stsm_decode_log_read_elf(const char *path, char *table, size_t cap, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        return STSM_ERR_IO;
    }
    unsigned char eh[64];
    if (!read_at(f, 0, eh, 52) || memcmp(eh, "\177ELF", 4) != 0 || (eh[4] != 1 && eh[4] != 2) || eh[5] != 1) {
        fclose(f);
        return STSM_ERR_CORRUPT;
    }
    bool is64 = eh[4] == 2;
    if (is64 && !read_at(f, 0, eh, 64)) {
        fclose(f);
        return STSM_ERR_CORRUPT;
    }
    uint64_t shoff = is64 ? le(eh + 40, 8) : le(eh + 32, 4);
    size_t shentsize = (size_t)le(eh + (is64 ? 58 : 46), 2);
    size_t shnum = (size_t)le(eh + (is64 ? 60 : 48), 2);
    size_t shstrndx = (size_t)le(eh + (is64 ? 62 : 50), 2);
    unsigned char sh[64];
    if (shentsize < (is64 ? 64u : 40u) || shstrndx >= shnum ||
        !read_at(f, shoff + shstrndx * shentsize, sh, is64 ? 64 : 40)) {
        fclose(f);
        return STSM_ERR_CORRUPT;
    }
    uint64_t names_off = is64 ? le(sh + 24, 8) : le(sh + 16, 4);
    stsm_status_t st = STSM_ERR_NOT_FOUND;
    for (size_t i = 0; i < shnum && st == STSM_ERR_NOT_FOUND; i++) {
        char name[sizeof "stsm_text"];
        if (!read_at(f, shoff + i * shentsize, sh, is64 ? 64 : 40)) {
            st = STSM_ERR_CORRUPT;
            break;
        }
        if (!read_at(f, names_off + le(sh, 4), name, sizeof name) || memcmp(name, "stsm_text", sizeof name) != 0) {
            continue;
        }
        uint64_t off = is64 ? le(sh + 24, 8) : le(sh + 16, 4);
        uint64_t size = is64 ? le(sh + 32, 8) : le(sh + 20, 4);
        if (le(sh + 4, 4) == 8 /* SHT_NOBITS: no texts kept */) {
            st = STSM_ERR_CORRUPT;
        } else if (size > cap) {
            st = STSM_ERR_CAPACITY;
        } else {
            st = read_at(f, off, table, (size_t)size) ? STSM_OK : STSM_ERR_CORRUPT;
            *len = (size_t)size;
        }
    }
    fclose(f);
    return st;
}

int stsm_decode_log_run(const char *elf_path, const char *log_path)
{
    static char table[STSM_DECODE_LOG_TABLE_MAX];
    static char line[STSM_DECODE_LOG_LINE_MAX];
    static char out[STSM_DECODE_LOG_LINE_MAX];
    size_t table_len = 0;
    stsm_status_t st = stsm_decode_log_read_elf(elf_path, table, sizeof table, &table_len);
    if (st != STSM_OK) {
        fprintf(stderr, "stsmail: decode-log: %s: %s\n", elf_path,
                st == STSM_ERR_NOT_FOUND ? "no stsm_text section (not built with STSM_TEXT_IDS)"
                                         : stsm_status_str(st));
        return st == STSM_ERR_IO ? 66 : 65;
    }
    FILE *in = log_path != NULL ? fopen(log_path, "r") : stdin;
    if (in == NULL) {
        fprintf(stderr, "stsmail: decode-log: cannot read %s\n", log_path);
        return 66;
    }
    while (fgets(line, sizeof line, in) != NULL) {
        stsm_decode_log_text(table, table_len, line, out, sizeof out);
        fputs(out, stdout);
    }
    if (in != stdin) {
        fclose(in);
    }
    return 0;
}

#ifdef STSM_DECODE_LOG_MAIN
/* A standalone `stsmail decode-log` for firmware build trees, which build no host stsmail:
 * their QEMU tests decode the console with it (tests/qemu/CMakeLists.txt). */
int main(int argc, char *argv[]);

int main(int argc, char *argv[])
{
    if (argc < 3 || argc > 4 || strcmp(argv[1], "--elf") != 0) {
        fputs("usage: stsm-decode-log --elf FIRMWARE.elf [FILE]\n", stderr);
        return 64;
    }
    return stsm_decode_log_run(argv[2], argc == 4 ? argv[3] : NULL);
}
#endif
