#include "stsm_send.h"

#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lwip/memp.h"
#include "lwip/priv/memp_priv.h"
#include "lwip/priv/tcp_priv.h"
#include "lwip/stats.h"
#include "stsm_app.h"
#include "stsm_delivery.h"
#include "stsm_port.h"

#define BODY_MAX 8192

static struct stsm_settings settings;
static struct stsm_tls tls;
static struct stsm_message message;
static struct stsm_delivery delivery;
static struct stsm_sts_cache sts_cache;
static char body[BODY_MAX + 1];
static bool finished;

static void log_line(void *arg, const char *line)
{
    (void)arg;
    fprintf(stderr, "stsmail: %s\n", line);
}

static void on_done(void *arg, struct stsm_delivery *d)
{
    (void)arg;
    (void)d;
    finished = true;
}

/* ---- soak figures (--repeat): what must return to its level after each delivery ------ */

struct levels {
    size_t arena_in_use;       /* Mbed TLS arena, bytes */
    size_t arena_high_water;
    size_t lwip_heap_used;     /* lwIP's mem_malloc heap, bytes */
    size_t memp_used;          /* elements in use across lwIP's pools */
    size_t tcp_time_wait;      /* of those, TCP PCBs in TIME-WAIT (lwIP recycles them) */
    size_t sts_cache_entries;
    long rss_kb;
    long fds;
};

static long resident_kb(void)
{
    long pages_total = 0, pages_resident = -1;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f != NULL) {
        if (fscanf(f, "%ld %ld", &pages_total, &pages_resident) != 2) {
            pages_resident = -1;
        }
        fclose(f);
    }
    return pages_resident < 0 ? -1 : pages_resident * (sysconf(_SC_PAGESIZE) / 1024);
}

static long open_fds(void)
{
    DIR *dir = opendir("/proc/self/fd");
    long n = 0;
    if (dir == NULL) {
        return -1;
    }
    for (struct dirent *e = readdir(dir); e != NULL; e = readdir(dir)) {
        n += e->d_name[0] != '.';
    }
    closedir(dir);
    return n - 1;   /* the directory's own descriptor */
}

static void measure(struct levels *l)
{
    size_t peak;
    memset(l, 0, sizeof *l);
    stsm_tls_arena_usage(&l->arena_in_use, &peak);
    l->arena_high_water = stsm_tls_arena_high_water();
    l->lwip_heap_used = (size_t)lwip_stats.mem.used;
    for (size_t i = 0; i < MEMP_MAX; i++) {
        l->memp_used += memp_pools[i]->stats->used;
    }
    for (const struct tcp_pcb *pcb = tcp_tw_pcbs; pcb != NULL; pcb = pcb->next) {
        l->tcp_time_wait++;
    }
    for (size_t i = 0; i < STSM_STS_CACHE_ENTRIES; i++) {
        l->sts_cache_entries += sts_cache.entries[i].used;
    }
    l->rss_kb = resident_kb();
    l->fds = open_fds();
}

/* lwIP names its pools only in debug builds; the same list, as names. */
static const char *const pool_names[MEMP_MAX] = {
#define LWIP_MEMPOOL(name, num, size, desc) #name,
#include "lwip/priv/memp_std.h"
};

static void print_levels(const char *when, const struct levels *l)
{
    fprintf(stderr,
            "stsmail: soak: %s arena=%zu arena_high_water=%zu lwip_heap=%zu memp_used=%zu "
            "tcp_time_wait=%zu sts_cache_entries=%zu rss_kb=%ld fds=%ld\n",
            when, l->arena_in_use, l->arena_high_water, l->lwip_heap_used, l->memp_used, l->tcp_time_wait,
            l->sts_cache_entries, l->rss_kb, l->fds);
    for (size_t i = 0; i < MEMP_MAX; i++) {
        if (memp_pools[i]->stats->used != 0) {
            fprintf(stderr, "stsmail: soak: %s pool %s used=%u\n", when, pool_names[i],
                    (unsigned)memp_pools[i]->stats->used);
        }
    }
}

/* Prints one recipient's outcome. */
static void print_result(size_t i, const struct stsm_delivery_rcpt *r)
{
    printf("%s: %s", message.to[i], stsm_smtp_outcome_str(r->result.outcome));
    if (r->host[0] != '\0') {
        printf(" by %s", r->host);
    }
    if (r->result.code != 0) {
        printf(": %u %s", (unsigned)r->result.code, r->result.text);
        printf(r->result.status != STSM_OK ? " (%s)\n" : "\n", stsm_status_id(r->result.status));
    } else {
        printf(": %s: %s\n", stsm_status_id(r->result.status), r->result.text);
    }
}

int stsm_send_run(const struct stsm_cli_send_args *args)
{
    int rc = stsm_app_load_settings(args->settings, &settings);
    if (rc != 0) {
        return rc;
    }
    if (settings.mail.from[0] == '\0') {
        fprintf(stderr, "stsmail: %s: /mail/from: required to send\n", args->settings);
        return EXIT_CONFIG;
    }
    memset(&message, 0, sizeof message);
    message.from = settings.mail.from;
    message.from_name = settings.mail.from_name[0] != '\0' ? settings.mail.from_name : NULL;
    /* Both lists are bounded by the message's own limit, so none is ever cut here. */
    _Static_assert(sizeof args->to / sizeof args->to[0] == STSM_SMTP_MAX_RCPT, "--to list");
    _Static_assert(sizeof settings.mail.to / sizeof settings.mail.to[0] == STSM_SMTP_MAX_RCPT, "/mail/to list");
    const size_t to_count = args->to_count > 0 ? args->to_count : settings.mail.to_count;
    if (to_count > STSM_SMTP_MAX_RCPT) {
        fprintf(stderr, "stsmail: %u recipients: at most %u (STSM_SMTP_MAX_RCPT)\n", (unsigned)to_count,
                (unsigned)STSM_SMTP_MAX_RCPT);
        return EXIT_DATAERR;
    }
    for (size_t i = 0; i < to_count; i++) {
        message.to[message.to_count++] = args->to_count > 0 ? args->to[i] : settings.mail.to[i];
    }
    if (message.to_count == 0) {
        fprintf(stderr, "stsmail: no recipients: give --to or set /mail/to\n");
        return EXIT_DATAERR;
    }
    message.subject = args->subject != NULL ? args->subject : "stsmail alert";
    if ((rc = stsm_app_read_body(args->body_file, body, BODY_MAX, &message.body_len)) != 0) {
        return rc;
    }
    message.body = body;
    message.date = (int64_t)time(NULL);
    message.id_random[0] = stsm_port_random_u32();
    message.id_random[1] = stsm_port_random_u32();
    char why[200];
    if (stsm_message_check(&message, why, sizeof why) != STSM_OK) {
        fprintf(stderr, "stsmail: bad message: %s\n", why);
        return EXIT_DATAERR;
    }

    if ((rc = stsm_app_load_tls(args->settings, &settings, &tls)) != 0 ||
        (rc = stsm_app_net_up_settings(&settings.network, 30000)) != 0) {
        return rc;
    }
    stsm_app_load_sts_cache(args->settings, &settings, &sts_cache);

    /* --repeat: the same message again and again in this one process, so that anything a
     * delivery leaves behind (arena, pools, cache rows, memory, descriptors) adds up. */
    const bool soak = args->repeat != 0;
    const uint32_t rounds = soak ? args->repeat : 1u;
    struct levels start, end;   /* before the first delivery, after the last */
    struct timespec t0, t1;
    uint32_t delivered = 0;
    bool any_deferred = false, any_failed = false;
    if (soak) {
        measure(&start);
        print_levels("start", &start);
    }
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (uint32_t round = 0; round < rounds; round++) {
        if (round > 0) {
            message.date = (int64_t)time(NULL);
            message.id_random[0] = stsm_port_random_u32();
            message.id_random[1] = stsm_port_random_u32();
        }
        finished = false;
        stsm_status_t st = stsm_delivery_start(&delivery, &settings, &message, &tls, &sts_cache, message.date,
                                               soak && round > 0 ? NULL : log_line, on_done, NULL);
        if (st != STSM_OK) {
            fprintf(stderr, "stsmail: delivery %u could not start: %s\n", (unsigned)round + 1,
                    stsm_status_str(st));
            stsm_app_net_down();
            return st == STSM_ERR_CAPACITY || st == STSM_ERR_ARGUMENT ? EXIT_DATAERR : EXIT_OSERR;
        }
        while (!finished) {
            stsm_host_net_poll(100);
        }
        bool all = true;
        for (size_t i = 0; i < message.to_count; i++) {
            const struct stsm_delivery_rcpt *r = &delivery.rcpt[i];
            bool ok = r->result.outcome == STSM_SMTP_DELIVERED;
            if (!soak || !ok) {
                if (soak) {
                    printf("delivery %u: ", (unsigned)round + 1);
                }
                print_result(i, r);
            }
            all &= ok;
            any_deferred |= r->result.outcome == STSM_SMTP_DEFERRED;
            any_failed |= r->result.outcome == STSM_SMTP_FAILED;
        }
        delivered += all;
        if (soak && round == 0) {
            /* The first delivery fills what is meant to stay: the policy cache row, the
             * pages of the static buffers it touched. */
            struct levels warm;
            measure(&warm);
            print_levels("after_first", &warm);
        } else if (soak && rounds >= 10 && (round + 1) % (rounds / 10) == 0 && round + 1 < rounds) {
            /* A trend, so that growth can be told from pages touched for the first time. */
            struct levels now;
            measure(&now);
            fprintf(stderr, "stsmail: soak: progress round=%u arena=%zu memp_used=%zu rss_kb=%ld fds=%ld\n",
                    (unsigned)round + 1, now.arena_in_use, now.memp_used, now.rss_kb, now.fds);
        }
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (soak) {
        /* Let the last connection's closing segments come and go before measuring. */
        for (int i = 0; i < 20; i++) {
            stsm_host_net_poll(50);
        }
        measure(&end);
        print_levels("end", &end);
        fprintf(stderr, "stsmail: soak: deliveries=%u delivered=%u seconds=%.1f\n", (unsigned)rounds,
                (unsigned)delivered,
                (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
    }
    stsm_app_save_sts_cache(args->settings, &settings, &sts_cache);
    stsm_app_net_down();
    return any_failed ? EXIT_UNAVAILABLE : any_deferred ? EXIT_TEMPFAIL : 0;
}
