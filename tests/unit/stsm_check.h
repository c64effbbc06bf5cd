/*
 * Minimal test checks for stsmail unit tests. Each test program includes this once, runs
 * its cases and returns stsm_check_summary(). A failed check prints where and why and
 * the run goes on, so one run shows every failure.
 */
#ifndef STSM_CHECK_H
#define STSM_CHECK_H

#include <stdio.h>
#include <string.h>

static unsigned stsm_checks_run, stsm_checks_failed;
static const char *stsm_check_case = "";

#define CHECK_CASE(name) (stsm_check_case = (name))

#define CHECK(cond)                                                                  \
    do {                                                                             \
        stsm_checks_run++;                                                           \
        if (!(cond)) {                                                               \
            stsm_checks_failed++;                                                    \
            printf("FAIL %s:%d [%s]: %s\n", __FILE__, __LINE__, stsm_check_case, #cond); \
        }                                                                            \
    } while (0)

#define CHECK_INT(actual, expected)                                                  \
    do {                                                                             \
        long long a_ = (long long)(actual), e_ = (long long)(expected);              \
        stsm_checks_run++;                                                           \
        if (a_ != e_) {                                                              \
            stsm_checks_failed++;                                                    \
            printf("FAIL %s:%d [%s]: %s is %lld, expected %lld\n", __FILE__, __LINE__, \
                   stsm_check_case, #actual, a_, e_);                                \
        }                                                                            \
    } while (0)

#define CHECK_STR(actual, expected)                                                  \
    do {                                                                             \
        const char *a_ = (actual), *e_ = (expected);                                 \
        stsm_checks_run++;                                                           \
        if (a_ == NULL || strcmp(a_, e_) != 0) {                                     \
            stsm_checks_failed++;                                                    \
            printf("FAIL %s:%d [%s]: %s is \"%s\", expected \"%s\"\n", __FILE__, __LINE__, \
                   stsm_check_case, #actual, a_ ? a_ : "(null)", e_);                 \
        }                                                                            \
    } while (0)

/** Prints the totals; returns the process exit status (0 only if every check passed). */
static inline int stsm_check_summary(const char *suite)
{
    printf("%s: %u checks, %u failed\n", suite, stsm_checks_run, stsm_checks_failed);
    return stsm_checks_failed == 0 && stsm_checks_run > 0 ? 0 : 1;
}

#endif /* STSM_CHECK_H */
