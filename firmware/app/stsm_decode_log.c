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

struct sink {
    char *p;
    size_t len;
    size_t used;
};

static void sink_put(struct sink *s, const char *text, size_t n)
{
    while (n-- > 0 && s->used + 1 < s->len) {
        s->p[s->used++] = *text++;
    }
    if (s->len > 0) {
        s->p[s->used] = '\0';
    }
}

static size_t decode(const char *table, size_t table_len, const char *in, char *out, size_t out_len,
                     int depth);

/* The status form: "$[=" and the status id (stsm_status.h). Statuses keep their ids from
 * one version to the next, so this host's table gives the prose. */
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
    char store[STSM_DECODE_LOG_LINE_MAX];
};

/* Splits the arguments of a form starting at `p` (just past the id) into `a`, unescaped.
 * Returns how much of `p` the form takes (to its ']' or the end of the text). */
static size_t split_args(const char *p, struct args *a)
{
    size_t i = 0;
    size_t used = 0;
    a->count = 0;
    a->next = 0;
    while (p[i] == '|') {
        i++;
        bool keep = a->count < STSM_TEXT_ARGS_MAX && used + 1 < sizeof a->store;
        if (keep) {
            a->arg[a->count++] = a->store + used;
        }
        while (p[i] != '\0' && p[i] != '|' && p[i] != ']') {
            if (p[i] == '\\' && p[i + 1] != '\0') {
                i++;
            }
            if (keep && used + 2 < sizeof a->store) {
                a->store[used++] = p[i];
            }
            i++;
        }
        if (keep) {
            a->store[used++] = '\0';
        }
    }
    return p[i] == ']' ? i + 1 : i;
}

static const char *next_arg(struct args *a)
{
    return a->next < a->count ? a->arg[a->next++] : NULL;
}

/* The format is the image's literal, cut to one conversion that render() checked
 * (flags, width, precision, a length modifier and one of diouxXcs). */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"

/* Applies one conversion of the literal (`spec`, from '%' to the conversion letter) to the
 * next arguments, as the device's printf would have. */
static void convert(struct sink *s, const char *spec, size_t spec_len, struct args *a, const char *table,
                    size_t table_len, int depth)
{
    char f[32];
    char piece[STSM_DECODE_LOG_LINE_MAX];
    int star[2];
    int stars = 0;
    size_t n = 0;
    char conv = spec[spec_len - 1];
    /* Flags, width and precision as written ('*' taken from the arguments); the length
     * modifier is replaced by ll, the widest, since every integer arrives in decimal. */
    for (size_t i = 0; i < spec_len - 1 && n + 4 < sizeof f; i++) {
        char c = spec[i];
        if (c == 'h' || c == 'l' || c == 'z' || c == 'j' || c == 't' || c == 'L' || c == 'q') {
            continue;
        }
        if (c == '*' && stars < 2) {
            const char *v = next_arg(a);
            star[stars++] = v != NULL ? atoi(v) : 0;
        }
        f[n++] = c;
    }
    bool longlong = spec_len >= 3 && spec[spec_len - 2] == 'l' && spec[spec_len - 3] == 'l';
    if (conv != 's' && conv != 'c') {
        f[n++] = 'l';
        f[n++] = 'l';
    }
    f[n++] = conv;
    f[n] = '\0';
    const char *value = next_arg(a);
    int w;
    if (value == NULL) {
        sink_put(s, "?", 1);  /* the form was cut before this argument */
        return;
    }
    switch (conv) {
    case 's': {
        char inner[STSM_DECODE_LOG_LINE_MAX];
        decode(table, table_len, value, inner, sizeof inner, depth + 1);
        w = stars == 2 ? snprintf(piece, sizeof piece, f, star[0], star[1], inner)
          : stars == 1 ? snprintf(piece, sizeof piece, f, star[0], inner)
                       : snprintf(piece, sizeof piece, f, inner);
        break;
    }
    case 'd':
    case 'i': {
        long long v = strtoll(value, NULL, 10);
        w = stars == 2 ? snprintf(piece, sizeof piece, f, star[0], star[1], v)
          : stars == 1 ? snprintf(piece, sizeof piece, f, star[0], v)
                       : snprintf(piece, sizeof piece, f, v);
        break;
    }
    case 'c': {
        int v = (int)strtol(value, NULL, 10);
        w = stars == 1 ? snprintf(piece, sizeof piece, f, star[0], v) : snprintf(piece, sizeof piece, f, v);
        break;
    }
    default: {
        /* u, x, X, o: a negative value was a signed argument printed as unsigned; the
         * device's int and long are 32 bits (the boards are Cortex-M). */
        unsigned long long v = value[0] == '-' ? (unsigned long long)strtoll(value, NULL, 10)
                                               : strtoull(value, NULL, 10);
        if (!longlong) {
            v &= 0xffffffffull;
        }
        w = stars == 2 ? snprintf(piece, sizeof piece, f, star[0], star[1], v)
          : stars == 1 ? snprintf(piece, sizeof piece, f, star[0], v)
                       : snprintf(piece, sizeof piece, f, v);
        break;
    }
    }
    if (w > 0) {
        sink_put(s, piece, strlen(piece));
    }
}

#pragma GCC diagnostic pop

static void render(struct sink *s, const char *fmt, struct args *a, const char *table, size_t table_len,
                   int depth)
{
    while (*fmt != '\0') {
        const char *pct = strchr(fmt, '%');
        if (pct == NULL) {
            sink_put(s, fmt, strlen(fmt));
            return;
        }
        sink_put(s, fmt, (size_t)(pct - fmt));
        if (pct[1] == '%') {
            sink_put(s, "%", 1);
            fmt = pct + 2;
            continue;
        }
        /* Only the conversions an argument of stsm_text.h can feed: anything else in
         * the literal is shown as written (and never reaches snprintf). */
        size_t n = 1;
        while (pct[n] != '\0' && strchr("-+ #0123456789.*hlzjtLq", pct[n]) != NULL && n < 24) {
            n++;
        }
        if (pct[n] == '\0' || strchr("diouxXcs", pct[n]) == NULL) {
            sink_put(s, pct, 1);
            fmt = pct + 1;
            continue;
        }
        convert(s, pct, n + 1, a, table, table_len, depth);
        fmt = pct + n + 1;
    }
}

/* A text of the table: `id` is inside it and a NUL ends the literal within it. */
static const char *literal(const char *table, size_t table_len, unsigned long long id)
{
    if (id >= table_len || memchr(table + id, '\0', table_len - (size_t)id) == NULL) {
        return NULL;
    }
    return table + id;
}

static size_t decode(const char *table, size_t table_len, const char *in, char *out, size_t out_len,
                     int depth)
{
    struct sink s = { out, out_len, 0 };
    static struct args args_at[DEPTH_MAX + 1];
    if (out_len > 0) {
        out[0] = '\0';
    }
    while (*in != '\0') {
        const char *form = depth <= DEPTH_MAX ? strstr(in, "$[") : NULL;
        if (form == NULL) {
            sink_put(&s, in, strlen(in));
            break;
        }
        sink_put(&s, in, (size_t)(form - in));
        const char *p = form + 2;
        size_t taken = 0;
        const char *prose = *p == '=' ? status_form(p + 1, &taken) : NULL;
        if (prose != NULL) {
            sink_put(&s, prose, strlen(prose));
            in = p + 1 + taken;
            continue;
        }
        char *end;
        unsigned long long id = strtoull(p, &end, 16);
        const char *fmt = end > p && end - p <= 8 && (*end == '|' || *end == ']' || *end == '\0')
                        ? literal(table, table_len, id) : NULL;
        if (fmt == NULL) {
            sink_put(&s, form, 2);
            in = p;
            continue;
        }
        struct args *a = &args_at[depth];
        in = end + split_args(end, a);
        render(&s, fmt, a, table, table_len, depth);
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
