#include "stsm_timer.h"

#include <stddef.h>

#include "lwip/sys.h"
#include "lwip/timeouts.h"

/* lwIP knows a timeout by its (function, argument) pair: one trampoline with the timer
 * as argument gives every timer its own identity, so disarming one leaves the others. */
static void lwip_fire(void *arg)
{
    struct stsm_timer *t = arg;
    t->armed = false;
    t->fn(t->arg);
}

static uint32_t lwip_now_ms(void *ctx)
{
    (void)ctx;
    return sys_now();
}

static void lwip_disarm(void *ctx, struct stsm_timer *t)
{
    (void)ctx;
    sys_untimeout(lwip_fire, t);
    t->armed = false;
}

static void lwip_arm(void *ctx, struct stsm_timer *t, uint32_t ms, stsm_timer_fn fn, void *arg)
{
    lwip_disarm(ctx, t);
    t->fn = fn;
    t->arg = arg;
    t->armed = true;
    sys_timeout(ms, lwip_fire, t);
}

const struct stsm_clock *stsm_lwip_clock(void)
{
    static const struct stsm_clock clock = { lwip_now_ms, lwip_arm, lwip_disarm };
    return &clock;
}
