/*
 * Texts for people as ids on a microcontroller (issue 13).
 *
 * Why: about 15 KiB of our own flash was format strings of log lines and result texts,
 * read only by a person looking at the console or the outbox. With STSM_TEXT_IDS set (the
 * CMake option of the same name: on for the MCU boards, off on the host) a marked format
 * literal is not in the image at all: it goes into the section `stsm_text`, which the
 * boards' linker scripts keep in the ELF as a non-loaded (INFO) section, and the device
 * writes the literal's offset in that section plus its arguments. `stsmail decode-log
 * --elf FIRMWARE.elf` (host) reads the section and prints the prose. With the option off
 * (host builds) the macros are plain printf formatting and nothing changes.
 *
 * Use: wrap the format and its arguments at the call site,
 *     stsm_text_format(buf, sizeof buf, STSM_TEXT("MX %.40s failed: %s", name, why));
 * and give functions that take a format the parameter `stsm_text_fmt_t fmt, ...` (format
 * them with stsm_text_vformat). Arguments may be strings (char arrays or pointers),
 * integers of any standard type and fixed texts (stsm_text_fixed_t, printed with %s: a
 * module's reason handed to another's line, see STSM_TEXT_FIXED), at most STSM_TEXT_ARGS_MAX of them; anything else (a double, a pointer
 * to something else) is a compile error with the option on.
 *
 * The id form, the contract with the decoder (stsm_decode_log.c):
 *     $[<id in lower-case hex>|<arg>|<arg>...]
 * an integer argument in decimal (the decoder applies the format's conversion, %x, %5u,
 * ...), a string argument whole, with '\', '|', ']' and '}' preceded by '\'. Precision
 * (%.40s) is applied by the decoder, so a long string argument makes the id form longer
 * than the prose. When the buffer is too small the form is cut after its last whole
 * piece (the id, a number, a character of a string with its escape: never a part of one)
 * and closed with the cut mark, "}]", which the decoder shows as "[cut]"; when not even
 * the id fits, the text is empty. A fixed text as an argument is written as a string
 * holding its own id form, "$[<id>]" (escaped as any string), which the decoder decodes
 * in turn.
 * Status texts use a second form, "$[=" followed by stsm_status_id() (see stsm_status.h).
 * A text in id form is for people only: nothing on the device may parse it (with the
 * option on, a marked literal's address is not readable memory: the type stsm_text_fmt_t
 * keeps it away from printf and string functions).
 */
#ifndef STSM_TEXT_H
#define STSM_TEXT_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#ifndef STSM_TEXT_IDS
#define STSM_TEXT_IDS 0
#endif

/** Most arguments one marked text takes (the signature packs 3 bits per argument). */
#define STSM_TEXT_ARGS_MAX 8

#if STSM_TEXT_IDS

/* Never defined: a marked literal can be pointed at, not read. */
struct stsm_text;

/** A marked format: where its literal lies in `stsm_text` and the types of its arguments
 *  (bits 0-3 the count, then 3 bits per argument: enum stsm_text_arg). */
typedef struct {
    const struct stsm_text *ref;
    uint32_t sig;
} stsm_text_fmt_t;

enum stsm_text_arg {
    STSM_TEXT_ARG_TEXT = 0,  /* a fixed text: stsm_text_fixed_t */
    STSM_TEXT_ARG_STR,
    STSM_TEXT_ARG_INT,   /* int and what promotes to it */
    STSM_TEXT_ARG_UINT,
    STSM_TEXT_ARG_LONG,
    STSM_TEXT_ARG_ULONG,
    STSM_TEXT_ARG_LLONG,
    STSM_TEXT_ARG_ULLONG,
};

#define STSM_TEXT_TYPE_(x) _Generic((x), \
    const struct stsm_text *: 0u, char *: 1u, const char *: 1u, \
    char: 2u, signed char: 2u, short: 2u, int: 2u, \
    _Bool: 3u, unsigned char: 3u, unsigned short: 3u, unsigned int: 3u, \
    long: 4u, unsigned long: 5u, long long: 6u, unsigned long long: 7u)

#define STSM_TEXT_S1_(a) (STSM_TEXT_TYPE_(a) << 4)
#define STSM_TEXT_S2_(a, ...) (STSM_TEXT_TYPE_(a) << 4 | STSM_TEXT_S1_(__VA_ARGS__) << 3)
#define STSM_TEXT_S3_(a, ...) (STSM_TEXT_TYPE_(a) << 4 | STSM_TEXT_S2_(__VA_ARGS__) << 3)
#define STSM_TEXT_S4_(a, ...) (STSM_TEXT_TYPE_(a) << 4 | STSM_TEXT_S3_(__VA_ARGS__) << 3)
#define STSM_TEXT_S5_(a, ...) (STSM_TEXT_TYPE_(a) << 4 | STSM_TEXT_S4_(__VA_ARGS__) << 3)
#define STSM_TEXT_S6_(a, ...) (STSM_TEXT_TYPE_(a) << 4 | STSM_TEXT_S5_(__VA_ARGS__) << 3)
#define STSM_TEXT_S7_(a, ...) (STSM_TEXT_TYPE_(a) << 4 | STSM_TEXT_S6_(__VA_ARGS__) << 3)
#define STSM_TEXT_S8_(a, ...) (STSM_TEXT_TYPE_(a) << 4 | STSM_TEXT_S7_(__VA_ARGS__) << 3)
#define STSM_TEXT_NTH_(_1, _2, _3, _4, _5, _6, _7, _8, n, ...) n
#define STSM_TEXT_COUNT_(...) STSM_TEXT_NTH_(__VA_ARGS__, 8, 7, 6, 5, 4, 3, 2, 1, 0)
#define STSM_TEXT_PICK2_(n) STSM_TEXT_S##n##_
#define STSM_TEXT_PICK_(n) STSM_TEXT_PICK2_(n)
#define STSM_TEXT_SN_(n, ...) (n | STSM_TEXT_PICK_(n)(__VA_ARGS__))
#define STSM_TEXT_SIG_(...) STSM_TEXT_SN_(STSM_TEXT_COUNT_(__VA_ARGS__), __VA_ARGS__)

/* The literal in `stsm_text`, one object per call site (the address is the id). */
#define STSM_TEXT_REF_(fmt) __extension__({ \
    static const char stsm_text_[] __attribute__((section("stsm_text"), used)) = fmt; \
    (const struct stsm_text *)(const void *)stsm_text_; })

/** Marks a format literal and its arguments: expands to `stsm_text_fmt_t, args...`. */
#define STSM_TEXT(fmt, ...) \
    ((stsm_text_fmt_t){ STSM_TEXT_REF_(fmt), 0u __VA_OPT__(| STSM_TEXT_SIG_(__VA_ARGS__)) }) \
    __VA_OPT__(,) __VA_ARGS__

/** A fixed text: a marked literal without arguments that a module hands on as a value
 *  (a reason), printed by its user with %s as an STSM_TEXT argument; NULL for none. As
 *  small as a pointer, so a struct keeping one does not grow. */
typedef const struct stsm_text *stsm_text_fixed_t;

/** Marks a literal as a fixed text (inside a function only). It may hold no '%': the
 *  decoder reads every literal as a format, and a fixed text is printed as it is on the
 *  host (GCC checks it; clang does not fold the test). */
#if defined(__clang__)
#define STSM_TEXT_FIXED(literal) STSM_TEXT_REF_(literal)
#else
#define STSM_TEXT_FIXED(literal) __extension__({ \
    _Static_assert(__builtin_strchr(literal, '%') == 0, "a fixed text holds no '%'"); \
    STSM_TEXT_REF_(literal); })
#endif

/** Format-checking attribute for a function taking stsm_text_fmt_t: none with ids. */
#define STSM_TEXT_PRINTF(fmt_index, first_arg)

#else /* !STSM_TEXT_IDS */

typedef const char *stsm_text_fmt_t;
#define STSM_TEXT(fmt, ...) fmt __VA_OPT__(,) __VA_ARGS__
typedef const char *stsm_text_fixed_t;
#define STSM_TEXT_FIXED(literal) (literal)
#define STSM_TEXT_PRINTF(fmt_index, first_arg) __attribute__((format(printf, fmt_index, first_arg)))

#endif /* STSM_TEXT_IDS */

/*
 * Functions taking a marked format. With ids the format is two words, and GCC passes such
 * a pair by value by building it on the stack at every call and loading it back into
 * registers (some bytes at every call site). So a function takes the two words instead:
 * it is named STSM_TEXT_WORDS(name), takes STSM_TEXT_PARAMS where it took
 * `stsm_text_fmt_t fmt` (va_start(ap, STSM_TEXT_LAST); the format rebuilt inside as
 * STSM_TEXT_FMT, passed on to another such function as STSM_TEXT_PASS), and
 * STSM_TEXT_SPLIT (STSM_TEXT_SPLIT_RET for a function returning `type`) declares after
 * it, under the old name and with the old parameters, an always-inlined wrapper that
 * splits the pair at each call (__builtin_va_arg_pack: GCC only). Without the split (no
 * ids, or not GCC) the format is passed whole, STSM_TEXT_WORDS(name) is `name` itself and
 * STSM_TEXT_SPLIT declares nothing: the host build is as it was. (STSM_TEXT_SPLITS=0 from
 * outside turns the split off: the unit test of ids links the host library, whose
 * functions call the unsplit names.)
 *     STSM_TEXT_PRINTF(2, 3)
 *     static void STSM_TEXT_WORDS(say)(struct log *g, STSM_TEXT_PARAMS, ...) { ... }
 *     STSM_TEXT_SPLIT(say, (struct log *g), g);
 * `params` are the parameters before the format, parenthesised (`()` for none); then
 * their names.
 */
#ifndef STSM_TEXT_SPLITS
#if STSM_TEXT_IDS && defined(__GNUC__) && !defined(__clang__)
#define STSM_TEXT_SPLITS 1
#else
#define STSM_TEXT_SPLITS 0
#endif
#endif
#if STSM_TEXT_SPLITS
#define STSM_TEXT_WORDS(name) name##_words
#define STSM_TEXT_PARAMS const struct stsm_text *fmt_ref, uint32_t fmt_sig
#define STSM_TEXT_LAST fmt_sig
#define STSM_TEXT_PASS fmt_ref, fmt_sig
#define STSM_TEXT_FMT ((stsm_text_fmt_t){ fmt_ref, fmt_sig })
#define STSM_TEXT_UNPAREN_(...) __VA_ARGS__
#define STSM_TEXT_SPLIT_RET(type, name, params, ...) \
    static inline __attribute__((always_inline)) type name( \
        STSM_TEXT_UNPAREN_ params __VA_OPT__(,) stsm_text_fmt_t fmt, ...) \
    { \
        return name##_words(__VA_ARGS__ __VA_OPT__(,) fmt.ref, fmt.sig, __builtin_va_arg_pack()); \
    }
#define STSM_TEXT_SPLIT(name, params, ...) \
    static inline __attribute__((always_inline)) void name( \
        STSM_TEXT_UNPAREN_ params __VA_OPT__(,) stsm_text_fmt_t fmt, ...) \
    { \
        name##_words(__VA_ARGS__ __VA_OPT__(,) fmt.ref, fmt.sig, __builtin_va_arg_pack()); \
    }
#else
#define STSM_TEXT_WORDS(name) name
#define STSM_TEXT_PARAMS stsm_text_fmt_t fmt
#define STSM_TEXT_LAST fmt
#define STSM_TEXT_PASS fmt
#define STSM_TEXT_FMT fmt
#define STSM_TEXT_SPLIT_RET(type, name, params, ...) struct stsm_text_split_
#define STSM_TEXT_SPLIT(name, params, ...) struct stsm_text_split_
#endif

/**
 * Writes the text into `out` (`len` bytes, always NUL-terminated when len > 0): printf
 * formatting with the option off, the id form with it on (cut as said above). Returns
 * what vsnprintf would (the length the whole text needs; >= len when it was cut).
 */
STSM_TEXT_PRINTF(3, 4)
int STSM_TEXT_WORDS(stsm_text_format)(char *out, size_t len, STSM_TEXT_PARAMS, ...);
STSM_TEXT_SPLIT_RET(int, stsm_text_format, (char *out, size_t len), out, len);

/** Writes a fixed text (not NULL) as stsm_text_format does. */
int stsm_text_copy(char *out, size_t len, stsm_text_fixed_t text);

/** As stsm_text_format, with the arguments in `ap`. */
STSM_TEXT_PRINTF(3, 0)
int STSM_TEXT_WORDS(stsm_text_vformat)(char *out, size_t len, STSM_TEXT_PARAMS, va_list ap);
#if STSM_TEXT_SPLITS
/* Not variadic: an inlined wrapper alone splits the pair. */
static inline __attribute__((always_inline)) int stsm_text_vformat(char *out, size_t len, stsm_text_fmt_t fmt,
                                                                   va_list ap)
{
    return stsm_text_vformat_words(out, len, fmt.ref, fmt.sig, ap);
}
#endif

#endif /* STSM_TEXT_H */
