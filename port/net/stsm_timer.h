/*
 * Timers and the monotonic clock as injected hooks: a module that waits (the delivery)
 * arms and disarms its timers through struct stsm_clock and never calls the stack's timer
 * list itself. lwIP's sys_timeout list is one implementation (stsm_lwip_clock()); a test's
 * fake clock is another.
 *
 * Contract of every implementation:
 *   now_ms()   milliseconds of a monotonic clock (wraps at 2^32)
 *   arm()      `fn(arg)` runs once, from the main loop, `ms` from now; never inside arm().
 *              Arming an armed timer moves it (it runs once, at the new time). Timers due
 *              at the same moment run in the order they were armed.
 *   disarm()   the timer will not run; harmless on a timer that is not armed
 */
#ifndef STSM_TIMER_H
#define STSM_TIMER_H

#include <stdbool.h>
#include <stdint.h>

typedef void (*stsm_timer_fn)(void *arg);

/** One timer. Owned by its user (allocate it with the user's state, zeroed); the fields
 *  belong to the clock implementation. Must stay alive while armed. */
struct stsm_timer {
    stsm_timer_fn fn;
    void *arg;
    bool armed;
    uint32_t due_ms;       /* for implementations that keep their own list */
    uint32_t order;        /* ditto: arming order among equal due times */
};

/** A clock and timer list; every operation takes the clock's context first. */
struct stsm_clock {
    uint32_t (*now_ms)(void *ctx);
    void (*arm)(void *ctx, struct stsm_timer *timer, uint32_t ms, stsm_timer_fn fn, void *arg);
    void (*disarm)(void *ctx, struct stsm_timer *timer);
};

/** lwIP's timer list (sys_timeout, served by sys_check_timeouts) and sys_now(); its
 *  context is unused (NULL). */
const struct stsm_clock *stsm_lwip_clock(void);

#endif /* STSM_TIMER_H */
