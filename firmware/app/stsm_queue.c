#include "stsm_queue.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cJSON.h"
#include "lwip/sys.h"
#include "stsm_agent.h"
#include "stsm_app.h"
#include "stsm_host_flash.h"
#include "stsm_port.h"
#include "stsm_time.h"

#define BODY_MAX 8192
#define PAGE_SIZE 4096u
#define STOP_GRACE_MS 10000u   /* after SIGTERM, for the delivery under way */

static struct stsm_settings settings;
static struct stsm_host_flash flash;
static uint8_t flash_image[STSM_STORE_PAGES_MAX * PAGE_SIZE];
static struct stsm_agent agent;
static struct stsm_tls tls;
static struct stsm_sts_cache sts_cache;
static const char *settings_file;
static char body[BODY_MAX + 1];
static volatile sig_atomic_t stop_requested;

/* ---- the platform, as the host gives it -------------------------------------------- */

static uint32_t host_monotonic_ms(void *ctx)
{
    (void)ctx;
    return sys_now();
}

static bool host_wall_clock(void *ctx, int64_t *now)
{
    (void)ctx;
    *now = (int64_t)time(NULL);
    return true;
}

static uint32_t host_random(void *ctx)
{
    (void)ctx;
    return stsm_port_random_u32();
}

static void host_log(void *ctx, const char *line)
{
    (void)ctx;
    fprintf(stderr, "stsmail: %s\n", line);
}

static void host_sts_cache_changed(void *ctx)
{
    (void)ctx;
    stsm_app_save_sts_cache(settings_file, &settings, &sts_cache);
}

/* Loads the settings and opens the store file they name; returns 0 with the file locked
 * (the caller's first batch of outbox calls runs on what init just read, then unlocks),
 * or an exit status. */
static int open_outbox(const char *path, bool for_delivery)
{
    int rc = stsm_app_load_settings(path, &settings);
    if (rc != 0) {
        return rc;
    }
    settings_file = path;
    if (settings.outbox.store_file[0] == '\0') {
        fprintf(stderr, "stsmail: %s: /outbox/store_file: required to keep an outbox\n", path);
        return EXIT_CONFIG;
    }
    if (settings.mail.from[0] == '\0') {
        fprintf(stderr, "stsmail: %s: /mail/from: required to send\n", path);
        return EXIT_CONFIG;
    }
    char store_path[STSM_SETTINGS_PATH_MAX * 2 + 2];
    stsm_app_settings_relative(path, settings.outbox.store_file, store_path, sizeof store_path);
    char why[300];
    if (settings.outbox.store_size > sizeof flash_image) {
        fprintf(stderr, "stsmail: %s: /outbox/store_size: at most %u bytes on this build\n", path,
                (unsigned)sizeof flash_image);
        return EXIT_CONFIG;
    }
    if (stsm_host_flash_open(&flash, store_path, flash_image, settings.outbox.store_size, PAGE_SIZE, why,
                             sizeof why) != STSM_OK) {
        fprintf(stderr, "stsmail: %s\n", why);
        return EXIT_OSERR;
    }
    struct stsm_platform platform = {
        .monotonic_ms = host_monotonic_ms,
        .wall_clock = host_wall_clock,
        .random_u32 = host_random,
        .storage = &flash.area,
        .log = host_log,
        .tls = for_delivery ? &tls : NULL,
        .sts_cache = for_delivery ? &sts_cache : NULL,
        .sts_cache_changed = for_delivery ? host_sts_cache_changed : NULL,
    };
    bool changed;
    if (stsm_host_flash_lock(&flash, &changed) != STSM_OK) {
        fprintf(stderr, "stsmail: %s: cannot lock or read the outbox's store file\n", store_path);
        return EXIT_OSERR;
    }
    stsm_status_t st = stsm_agent_init(&agent, &settings, &platform);
    /* A damaged message is reported and kept; the others are served. */
    if (st != STSM_OK && st != STSM_ERR_CORRUPT) {
        stsm_host_flash_unlock(&flash);
        fprintf(stderr, "stsmail: %s: the outbox cannot be opened: %s\n", store_path, stsm_status_str(st));
        return stsm_app_exit_status(st);
    }
    return 0;
}

/* Takes the store file's lock for a batch of outbox calls, starting from what the file
 * holds now (another process may have written it since our last turn). */
static bool lock_store(void)
{
    bool changed = false;
    if (stsm_host_flash_lock(&flash, &changed) != STSM_OK) {
        fprintf(stderr, "stsmail: %s: cannot lock or read the outbox's store file\n", flash.path);
        return false;
    }
    if (changed) {
        (void)stsm_agent_reload(&agent);
    }
    return true;
}

/* ---- enqueue ------------------------------------------------------------------------- */

int stsm_queue_enqueue(const struct stsm_cli_enqueue_args *args)
{
    /* The CLI checked the name already; an unknown one is a usage error all the same. */
    enum stsm_severity severity = STSM_SEVERITY_WARNING;
    if (args->severity != NULL && !stsm_severity_parse(args->severity, strlen(args->severity), &severity)) {
        fprintf(stderr, "stsmail: unknown severity '%s'\n", args->severity);
        return EXIT_USAGE;
    }
    size_t body_len = 0;
    int rc = stsm_app_read_body(args->body_file, body, BODY_MAX, &body_len);
    if (rc != 0 || (rc = open_outbox(args->settings, false)) != 0) {
        return rc;
    }
    struct stsm_alert alert = {
        .key = args->key,
        .severity = severity,
        .subject = args->subject,
        .body = body,
        .body_len = body_len,
        .to = args->to_count > 0 ? args->to : NULL,
        .to_count = args->to_count,
    };
    uint32_t id = 0;
    stsm_status_t st = stsm_alert_raise(&agent, &alert, &id);
    stsm_host_flash_unlock(&flash);
    switch (st) {
    case STSM_OK:
        printf("%lu\n", (unsigned long)id);
        return 0;
    case STSM_ERR_FULL:
        fprintf(stderr, "stsmail: the outbox is full: the alert was not stored\n");
        return EXIT_TEMPFAIL;
    case STSM_ERR_ARGUMENT:
        return EXIT_DATAERR;   /* the agent logged which field */
    default:
        fprintf(stderr, "stsmail: the alert was not stored: %s\n", stsm_status_str(st));
        return EXIT_OSERR;
    }
}

/* ---- queue list | flush | drop --------------------------------------------------------- */

static void add_time(cJSON *obj, const char *name, int64_t t)
{
    if (t <= 0) {
        cJSON_AddNullToObject(obj, name);
        return;
    }
    char text[24];
    stsm_time_format_utc(t, text);
    cJSON_AddStringToObject(obj, name, text);
}

static cJSON *message_json(const struct stsm_outbox_message *m)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "id", m->id);
    cJSON_AddStringToObject(o, "key", m->key);
    cJSON_AddStringToObject(o, "severity", stsm_severity_name(m->severity));
    cJSON_AddStringToObject(o, "subject", m->subject);
    cJSON *to = cJSON_AddArrayToObject(o, "to");
    for (size_t i = 0; i < m->to_count; i++) {
        cJSON *r = cJSON_CreateObject();
        cJSON_AddStringToObject(r, "address", m->to[i]);
        cJSON_AddStringToObject(r, "state", stsm_rcpt_state_name(m->rcpt[i]));
        cJSON_AddItemToArray(to, r);
    }
    size_t pending = 0;
    for (size_t i = 0; i < m->to_count; i++) {
        pending += m->rcpt[i] == STSM_RCPT_PENDING;
    }
    /* A message with nothing left to deliver stays only to mark its alert's coalescing
     * window; it goes when the window ends. */
    if (pending == 0) {
        add_time(o, "kept_until", m->window_start + (int64_t)settings.outbox.coalesce_window_s);
    }
    cJSON_AddBoolToObject(o, "follow_up", m->follow_up);
    cJSON_AddNumberToObject(o, "raised", m->raised_count);
    add_time(o, "first_raised", m->first_raised);
    add_time(o, "last_raised", m->last_raised);
    add_time(o, "first_queued", m->first_queued);
    cJSON_AddNumberToObject(o, "attempts", m->attempts);
    add_time(o, "next_attempt", m->next_attempt);
    cJSON_AddStringToObject(o, "last_error", m->last_error);
    cJSON_AddNumberToObject(o, "body_bytes", (double)m->body_len);
    return o;
}

static int list(void)
{
    static struct stsm_outbox_message m;
    static char m_text[STSM_OUTBOX_TEXT_MAX];
    cJSON *all = cJSON_CreateArray();
    for (size_t i = 0; i < stsm_outbox_count(&agent.outbox); i++) {
        uint32_t id = stsm_outbox_id_at(&agent.outbox, i);
        stsm_status_t st = stsm_outbox_load(&agent.outbox, id, &m, m_text, sizeof m_text);
        if (st != STSM_OK) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddNumberToObject(o, "id", id);
            cJSON_AddStringToObject(o, "error", stsm_status_id(st));
            cJSON_AddItemToArray(all, o);
            continue;
        }
        cJSON_AddItemToArray(all, message_json(&m));
    }
    char *text = cJSON_Print(all);
    cJSON_Delete(all);
    if (text == NULL) {
        fprintf(stderr, "stsmail: out of memory\n");
        return EXIT_OSERR;
    }
    printf("%s\n", text);
    cJSON_free(text);
    return 0;
}

int stsm_queue_command(const struct stsm_cli_queue_args *args)
{
    int rc = open_outbox(args->settings, false);
    if (rc != 0) {
        return rc;
    }
    stsm_status_t st = STSM_OK;
    switch (args->action) {
    case STSM_QUEUE_LIST:
        rc = list();
        break;
    case STSM_QUEUE_FLUSH:
        st = stsm_outbox_flush(&agent.outbox);
        break;
    case STSM_QUEUE_DROP:
        st = stsm_outbox_drop(&agent.outbox, args->id);
        if (st == STSM_OK) {
            fprintf(stderr, "stsmail: message %lu dropped\n", (unsigned long)args->id);
        }
        break;
    }
    stsm_host_flash_unlock(&flash);
    if (st == STSM_ERR_NOT_FOUND) {
        fprintf(stderr, "stsmail: no message %lu in the outbox\n", (unsigned long)args->id);
        return EXIT_DATAERR;
    }
    if (st != STSM_OK) {
        fprintf(stderr, "stsmail: the outbox could not be changed: %s\n", stsm_status_str(st));
        return EXIT_OSERR;
    }
    return rc;
}

/* ---- run --------------------------------------------------------------------------------- */

static void on_signal(int sig)
{
    (void)sig;
    if (stop_requested == 0) {
        stop_requested = 1;
    }
}

static void print_result(void *arg, const struct stsm_agent_result *r)
{
    (void)arg;
    printf("message %lu to %s: %s: %s\n", (unsigned long)r->id, r->rcpt, stsm_rcpt_state_name(r->state),
           r->reason != NULL ? r->reason : "");
    fflush(stdout);
}

int stsm_queue_run(const struct stsm_cli_run_args *args)
{
    int rc = open_outbox(args->settings, true);
    if (rc != 0) {
        return rc;
    }
    stsm_host_flash_unlock(&flash);   /* enqueue may go on while the network comes up */
    if ((rc = stsm_app_load_tls(args->settings, &settings, &tls)) != 0 ||
        (rc = stsm_app_net_up_settings(&settings.network, 30000)) != 0) {
        return rc;
    }
    stsm_app_load_sts_cache(args->settings, &settings, &sts_cache);
    stsm_agent_on_result(&agent, print_result, NULL);
    bool watching = stsm_host_net_watch_file(flash.path);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    fprintf(stderr, "stsmail: working the outbox (%lu message(s)) until SIGTERM\n",
            (unsigned long)stsm_agent_counters(&agent)->queued);
    uint32_t stop_at = 0;
    for (;;) {
        if (stop_requested == 1) {
            /* The delivery under way gets a grace period to end by itself: most finish
             * their transaction within it, and abandoning one whose data went out in
             * full is the one case that can send a message twice. */
            stsm_agent_stop(&agent);
            stop_at = sys_now();
            stop_requested = 2;
            if (stsm_agent_busy(&agent)) {
                fprintf(stderr, "stsmail: stopping: the delivery under way has %u s to end\n",
                        (unsigned)(STOP_GRACE_MS / 1000));
            }
        } else if (stop_requested == 2 && stsm_agent_busy(&agent) && sys_now() - stop_at >= STOP_GRACE_MS) {
            stsm_agent_abandon(&agent);
            stop_requested = 3;
        }
        /* Another process (stsmail enqueue, queue drop) may write the store between our
         * turns; every turn that may write holds the file's lock and starts from what the
         * file holds. */
        if (!lock_store()) {
            rc = EXIT_OSERR;
            break;
        }
        stsm_host_net_poll(0);
        stsm_agent_poll(&agent);
        bool done = stop_requested && !stsm_agent_busy(&agent);
        uint32_t wait = stop_requested != 0 ? 100 : stsm_agent_next_wakeup(&agent);
        stsm_host_flash_unlock(&flash);
        if (done) {
            break;
        }
        /* Another process's write to the store file (enqueue, queue drop) ends the wait
         * at once; without the watch the file is looked at every 200 ms, and with it every
         * second all the same, for a writer that keeps the file open. */
        uint32_t cap = watching ? 1000 : 200;
        stsm_host_net_wait(wait < cap ? wait : cap);
    }
    const struct stsm_agent_counters *c = stsm_agent_counters(&agent);
    fprintf(stderr,
            "stsmail: stopped: %lu delivered, %lu failed, %lu given up, %lu message(s) still queued\n",
            (unsigned long)c->delivered, (unsigned long)c->failed, (unsigned long)c->gave_up,
            (unsigned long)c->queued);
    stsm_app_net_down();
    stsm_host_flash_close(&flash);
    return rc;
}
