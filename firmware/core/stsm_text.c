#include "stsm_text.h"

#include <stdio.h>
#include <string.h>

#if STSM_TEXT_IDS

/* The section's start: 0 on the boards (their linker scripts place `stsm_text` at 0),
 * provided by the linker on the host (the unit test), so an id is the same offset in
 * both. */
extern const char __start_stsm_text[];

/* A text cut by its buffer ends in this mark and ']' (stsm_text.h). */
#define CUT_MARK "}]"

struct out {
    char *p;
    size_t len;
    size_t need;   /* what the text takes so far: what fits of it is written */
    size_t whole;  /* where the last whole piece ends with room after it for the mark */
};

static void put(struct out *o, char c)
{
    if (o->need < o->len) {
        o->p[o->need] = c;
    }
    o->need++;
}

/* Ends a piece that is written whole or not at all (the id, a number, a character of a
 * string with its escape): a cut goes back to the last end that leaves room for the
 * mark, so a cut never reads as another id, a shorter number or a lone backslash. */
static void whole(struct out *o)
{
    if (o->need + sizeof CUT_MARK <= o->len) {
        o->whole = o->need;
    }
}

/* The base first: on Cortex-M the value then comes in two registers, not on the stack. */
static void put_unsigned(struct out *o, unsigned base, unsigned long long v)
{
    char digits[24];
    size_t n = 0;
    do {
        unsigned d = (unsigned)(v % base);
        digits[n++] = (char)(d < 10 ? '0' + d : 'a' - 10 + d);
        v /= base;
    } while (v != 0);
    while (n > 0) {
        put(o, digits[--n]);
    }
    whole(o);
}

static void put_string(struct out *o, const char *s)
{
    for (; *s != '\0'; s++) {
        if (*s == '\\' || *s == '|' || *s == ']' || *s == '}') {
            put(o, '\\');
        }
        put(o, *s);
        whole(o);
    }
}

int STSM_TEXT_WORDS(stsm_text_vformat)(char *out, size_t len, STSM_TEXT_PARAMS, va_list ap)
{
    const stsm_text_fmt_t text = STSM_TEXT_FMT;
    struct out o = { out, len, 0, 0 };
    put(&o, '$');
    put(&o, '[');
    put_unsigned(&o, 16, (unsigned long long)((const char *)(const void *)text.ref - __start_stsm_text));
    unsigned count = text.sig & 0xfu;
    for (unsigned i = 0; i < count && i < STSM_TEXT_ARGS_MAX; i++) {
        put(&o, '|');
        long long s = 0;
        switch ((text.sig >> (4 + 3 * i)) & 7u) {
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
        case STSM_TEXT_ARG_UINT: put_unsigned(&o, 10, va_arg(ap, unsigned)); continue;
        case STSM_TEXT_ARG_ULONG: put_unsigned(&o, 10, va_arg(ap, unsigned long)); continue;
        default: put_unsigned(&o, 10, va_arg(ap, unsigned long long)); continue;
        }
        if (s < 0) {
            put(&o, '-');
        }
        put_unsigned(&o, 10, s < 0 ? 0ull - (unsigned long long)s : (unsigned long long)s);
    }
    put(&o, ']');
    if (o.need < len) {
        out[o.need] = '\0';
    } else if (len > 0) {
        /* Cut: the mark after the last whole piece, or only its NUL when not even the id
         * fits. */
        size_t n = o.whole > 0 ? sizeof CUT_MARK : 1;
        memcpy(out + o.whole, CUT_MARK + sizeof CUT_MARK - n, n);
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

int STSM_TEXT_WORDS(stsm_text_format)(char *out, size_t len, STSM_TEXT_PARAMS, ...)
{
    va_list ap;
    va_start(ap, STSM_TEXT_LAST);
    int n = stsm_text_vformat(out, len, STSM_TEXT_FMT, ap);
    va_end(ap);
    return n;
}
