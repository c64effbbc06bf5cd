#include "stsm_send.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

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

/* Reads the body from a file or standard input; returns 0 or an exit status. */
static int read_body(const char *path, size_t *len)
{
    if (path == NULL) {
        static const char none[] = "(no text)\n";
        memcpy(body, none, sizeof none);
        *len = sizeof none - 1;
        return 0;
    }
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "stsmail: %s: cannot open the body file\n", path);
        return EXIT_NOINPUT;
    }
    size_t n = fread(body, 1, sizeof body, f);
    if (f != stdin) {
        fclose(f);
    }
    if (n > BODY_MAX) {
        fprintf(stderr, "stsmail: the body is longer than %u bytes\n", (unsigned)BODY_MAX);
        return EXIT_DATAERR;
    }
    *len = n;
    return 0;
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
    if (args->to_count > 0) {
        for (size_t i = 0; i < args->to_count; i++) {
            message.to[message.to_count++] = args->to[i];
        }
    } else {
        for (size_t i = 0; i < settings.mail.to_count && i < STSM_SMTP_MAX_RCPT; i++) {
            message.to[message.to_count++] = settings.mail.to[i];
        }
    }
    if (message.to_count == 0) {
        fprintf(stderr, "stsmail: no recipients: give --to or set /mail/to\n");
        return EXIT_DATAERR;
    }
    message.subject = args->subject != NULL ? args->subject : "stsmail alert";
    if ((rc = read_body(args->body_file, &message.body_len)) != 0) {
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
    finished = false;
    stsm_app_load_sts_cache(args->settings, &settings, &sts_cache);
    stsm_status_t st = stsm_delivery_start(&delivery, &settings, &message, &tls, &sts_cache, message.date,
                                           log_line, on_done, NULL);
    if (st != STSM_OK) {
        stsm_app_net_down();
        return st == STSM_ERR_CAPACITY || st == STSM_ERR_ARGUMENT ? EXIT_DATAERR : EXIT_OSERR;
    }
    while (!finished) {
        stsm_host_net_poll(100);
    }

    bool any_deferred = false, any_failed = false;
    for (size_t i = 0; i < message.to_count; i++) {
        const struct stsm_delivery_rcpt *r = &delivery.rcpt[i];
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
        any_deferred |= r->result.outcome == STSM_SMTP_DEFERRED;
        any_failed |= r->result.outcome == STSM_SMTP_FAILED;
    }
    stsm_app_save_sts_cache(args->settings, &settings, &sts_cache);
    stsm_app_net_down();
    return any_failed ? EXIT_UNAVAILABLE : any_deferred ? EXIT_TEMPFAIL : 0;
}
