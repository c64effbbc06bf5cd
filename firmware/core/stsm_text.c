#include "stsm_text.h"

#include <stdio.h>

#if STSM_TEXT_IDS

#include <stdbool.h>

/* The section's start: 0 on the boards (their linker scripts place `stsm_text` at 0),
 * provided by the linker on the host (the unit test), so an id is the same offset in
 * both. */
extern const char __start_stsm_text[];

struct out {
    char *p;
    size_t len;   /* room, the NUL and the closing ']' kept back */
    size_t used;
    size_t need;  /* what the whole text takes */
};

static void put(struct out *o, char c)
{
    if (o->used < o->len) {
        o->p[o->used++] = c;
    }
    o->need++;
}

static void put_unsigned(struct out *o, unsigned long long v, unsigned base)
{
    char digits[24];
    size_t n = 0;
    do {
        digits[n++] = "0123456789abcdef"[v % base];
        v /= base;
    } while (v != 0);
    while (n > 0) {
        put(o, digits[--n]);
    }
}

/* A string argument is cut where it no longer fits, never in the middle of an escape:
 * the form stays well formed for the decoder. */
static void put_string(struct out *o, const char *s)
{
    for (; *s != '\0'; s++) {
        bool escape = *s == '\\' || *s == '|' || *s == ']';
        if (o->used + (escape ? 2u : 1u) > o->len) {
            o->len = o->used;  /* nothing more fits: count the rest, write none */
        }
        if (escape) {
            put(o, '\\');
        }
        put(o, *s);
    }
}

int stsm_text_vformat(char *out, size_t len, stsm_text_fmt_t fmt, va_list ap)
{
    struct out o = { out, len > 2 ? len - 2 : 0, 0, 0 };
    put(&o, '$');
    put(&o, '[');
    put_unsigned(&o, (unsigned long long)((const char *)(const void *)fmt.ref - __start_stsm_text), 16);
    unsigned count = fmt.sig & 0xfu;
    for (unsigned i = 0; i < count && i < STSM_TEXT_ARGS_MAX; i++) {
        put(&o, '|');
        long long s = 0;
        switch ((fmt.sig >> (4 + 3 * i)) & 7u) {
        case STSM_TEXT_ARG_TEXT: {
            /* Its id form as a string: escaped, so the outer form stays one argument. */
            stsm_text_fixed_t inner = va_arg(ap, stsm_text_fixed_t);
            char form[2 * sizeof(size_t) + 4];
            if (inner == NULL) {
                put_string(&o, "(null)");
            } else {
                stsm_text_copy(form, sizeof form, inner);
                put_string(&o, form);
            }
            continue;
        }
        case STSM_TEXT_ARG_STR: {
            const char *str = va_arg(ap, const char *);
            put_string(&o, str != NULL ? str : "(null)");
            continue;
        }
        case STSM_TEXT_ARG_INT: s = va_arg(ap, int); break;
        case STSM_TEXT_ARG_LONG: s = va_arg(ap, long); break;
        case STSM_TEXT_ARG_LLONG: s = va_arg(ap, long long); break;
        case STSM_TEXT_ARG_UINT: put_unsigned(&o, va_arg(ap, unsigned), 10); continue;
        case STSM_TEXT_ARG_ULONG: put_unsigned(&o, va_arg(ap, unsigned long), 10); continue;
        default: put_unsigned(&o, va_arg(ap, unsigned long long), 10); continue;
        }
        if (s < 0) {
            put(&o, '-');
        }
        put_unsigned(&o, s < 0 ? 0ull - (unsigned long long)s : (unsigned long long)s, 10);
    }
    o.len = len > 0 ? len - 1 : 0;  /* the closing bracket has its room kept */
    put(&o, ']');
    if (len > 0) {
        out[o.used] = '\0';
    }
    return (int)o.need;
}

#else

int stsm_text_vformat(char *out, size_t len, stsm_text_fmt_t fmt, va_list ap)
{
    return vsnprintf(out, len, fmt, ap);
}

#endif

int stsm_text_copy(char *out, size_t len, stsm_text_fixed_t text)
{
#if STSM_TEXT_IDS
    return stsm_text_format(out, len, (stsm_text_fmt_t){ text, 0u });
#else
    return snprintf(out, len, "%s", text);   /* a reason is text, not a format */
#endif
}

int stsm_text_format(char *out, size_t len, stsm_text_fmt_t fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = stsm_text_vformat(out, len, fmt, ap);
    va_end(ap);
    return n;
}
