/*
 * `stsmail decode-log` (host): turns the texts an image built with STSM_TEXT_IDS wrote
 * (log lines, stored results; stsm_text.h says why and defines the id form) back into
 * the prose they stand for, from the `stsm_text` section of that image's ELF file.
 */
#ifndef STSM_DECODE_LOG_H
#define STSM_DECODE_LOG_H

#include <stddef.h>

#include "stsm_status.h"

/** Longest line decode-log reads or writes; longer input lines are passed on in pieces. */
#define STSM_DECODE_LOG_LINE_MAX 4096u

/** Largest `stsm_text` section decode-log reads (the texts of one image). */
#define STSM_DECODE_LOG_TABLE_MAX (256u * 1024u)

/**
 * Decodes every id form in `in` (NUL-terminated) with the texts in `table` (`table_len`
 * bytes: the `stsm_text` section, each literal NUL-terminated at its id) and writes the
 * result to `out` (`out_len` bytes, always NUL-terminated when out_len > 0). What is not
 * an id form, or names no text of the table (an id is where a literal starts), is copied
 * as it is. A form its writer cut (the cut mark, stsm_text.h) is shown up to its last
 * argument, then "[cut]"; a form that just stops is decoded as far as it goes, '?' for
 * each missing argument. A text whose literal holds a conversion that cannot be printed
 * as the device did (anything but %%, flags, width, precision, hh h l ll j z t and
 * diouxXcs, and what C leaves undefined: # on d, 0 on s or c, a precision on c) is not
 * printed: "[text <id>: cannot decode "<conversion>"]" stands in its place. String
 * arguments are decoded too (a status text inside a result). When the result does not
 * fit, it ends in "[cut]" (and the newline `in` ends with). Returns the length written.
 */
size_t stsm_decode_log_text(const char *table, size_t table_len, const char *in, char *out,
                            size_t out_len);

/**
 * Reads the `stsm_text` section of the ELF file at `path` (32- or 64-bit, little-endian)
 * into `table` (`cap` bytes). Returns STSM_OK with its length in `*len`,
 * STSM_ERR_IO when the file cannot be read, STSM_ERR_CORRUPT when it is not such an ELF
 * file, STSM_ERR_NOT_FOUND when it has no such section, STSM_ERR_CAPACITY when the
 * section is larger than `cap`.
 */
stsm_status_t stsm_decode_log_read_elf(const char *path, char *table, size_t cap, size_t *len);

/**
 * The command: decodes `log_path` (or standard input when NULL) line by line to standard
 * output with the texts of `elf_path`. Returns the exit status (0, 66 no input, 65 not
 * an image with texts).
 */
int stsm_decode_log_run(const char *elf_path, const char *log_path);

#endif /* STSM_DECODE_LOG_H */
