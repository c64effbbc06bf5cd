#include "stsm_tls_probe.h"

#include <stdio.h>
#include <string.h>

#include "mbedtls/ssl.h"
#include "mbedtls/x509_crt.h"
#include "stsm_app.h"
#include "stsm_conn.h"
#include "stsm_resolver.h"
#include "stsm_settings.h"
#include "stsm_tls.h"

#define SMTP_REPLY_MAX 2048

enum step { STEP_RESOLVE, STEP_CONNECT, STEP_GREETING, STEP_EHLO, STEP_STARTTLS, STEP_HANDSHAKE };

static struct {
    const struct stsm_cli_tls_probe_args *args;
    enum step step;
    bool done;
    stsm_status_t status;
    char detail[300];
    ip_addr_t address;
    struct stsm_resolver_query query;
    struct stsm_conn conn;
    struct stsm_tls tls;
    char reply[SMTP_REPLY_MAX + 1];
    size_t reply_len;
} probe;

static struct stsm_settings settings;

static void finish(stsm_status_t status, const char *detail)
{
    if (probe.done) {
        return;
    }
    probe.done = true;
    probe.status = status;
    snprintf(probe.detail, sizeof probe.detail, "%s", detail != NULL ? detail : "");
}

static void send_line(const char *line)
{
    long n = stsm_conn_send(&probe.conn, line, strlen(line));
    stsm_conn_flush(&probe.conn);
    if (n != (long)strlen(line)) {
        finish(STSM_ERR_PEER_PROTOCOL, "could not send a command");
    }
}

/* Returns the code of a complete SMTP reply in the buffer, 0 while it is incomplete, -1
 * for garbage. A reply ends with a line whose fourth character is a space (or which has
 * only the code). */
static int complete_reply(void)
{
    size_t start = 0;
    for (size_t i = 0; i < probe.reply_len; i++) {
        if (probe.reply[i] != '\n') {
            continue;
        }
        size_t line_len = i - start;
        const char *line = probe.reply + start;
        if (line_len < 3 || line[0] < '2' || line[0] > '5') {
            return -1;
        }
        if (line_len < 4 || line[3] == ' ' || line[3] == '\r') {
            return (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
        }
        start = i + 1;
    }
    return 0;
}

static bool reply_offers_starttls(void)
{
    for (const char *p = probe.reply; (p = strchr(p, '\n')) != NULL; p++) {
        if (strncmp(p + 1, "250", 3) == 0 && strncasecmp(p + 5, "STARTTLS", 8) == 0) {
            return true;
        }
    }
    return strncasecmp(probe.reply + 4, "STARTTLS", 8) == 0;
}

static void start_tls(void)
{
    probe.step = STEP_HANDSHAKE;
    stsm_status_t st = stsm_conn_start_tls(&probe.conn, &probe.tls, probe.args->host);
    if (st == STSM_ERR_PEER_PROTOCOL) {
        finish(st, "the server sent data before the TLS handshake (plaintext injection?)");
    } else if (st != STSM_OK) {
        finish(st, "could not start TLS");
    }
}

/* One SMTP reply arrived during the STARTTLS dialogue. */
static void on_reply(int code)
{
    char first_line[120];
    snprintf(first_line, sizeof first_line, "%.*s", (int)strcspn(probe.reply, "\r\n"), probe.reply);
    switch (probe.step) {
    case STEP_GREETING:
        if (code != 220) {
            finish(STSM_ERR_PEER_PROTOCOL, first_line);
            return;
        }
        probe.step = STEP_EHLO;
        send_line("EHLO stsmail.invalid\r\n");
        break;
    case STEP_EHLO:
        if (code != 250 || !reply_offers_starttls()) {
            finish(STSM_ERR_PEER_PROTOCOL, "the server does not offer STARTTLS");
            return;
        }
        probe.step = STEP_STARTTLS;
        send_line("STARTTLS\r\n");
        break;
    case STEP_STARTTLS:
        if (code != 220) {
            finish(STSM_ERR_PEER_PROTOCOL, first_line);
            return;
        }
        start_tls();
        break;
    default:
        break;
    }
}

static void on_conn(void *arg, struct stsm_conn *conn, enum stsm_conn_event event, stsm_status_t status)
{
    (void)arg;
    switch (event) {
    case STSM_CONN_CONNECTED:
        if (probe.args->starttls) {
            probe.step = STEP_GREETING;
        } else {
            start_tls();
        }
        break;
    case STSM_CONN_READABLE:
        while (!probe.done && probe.step != STEP_HANDSHAKE) {
            /* Read one byte at a time: after the reply to STARTTLS nothing may be taken
             * off the connection, so that stsm_conn_start_tls() sees what followed it. */
            char c;
            long n = stsm_conn_recv(conn, &c, 1);
            if (n == 0) {
                break;
            }
            if (n < 0) {
                finish((stsm_status_t)-n, "the server closed the connection");
                break;
            }
            if (probe.reply_len == SMTP_REPLY_MAX) {
                finish(STSM_ERR_PEER_PROTOCOL, "reply too long");
                break;
            }
            probe.reply[probe.reply_len++] = c;
            probe.reply[probe.reply_len] = '\0';
            int code = c == '\n' ? complete_reply() : 0;
            if (code < 0) {
                finish(STSM_ERR_PEER_PROTOCOL, "not an SMTP reply");
            } else if (code > 0) {
                on_reply(code);
                probe.reply_len = 0;
            }
        }
        break;
    case STSM_CONN_TLS_READY:
        finish(STSM_OK, NULL);
        break;
    case STSM_CONN_FAILED:
        finish(status, NULL);
        break;
    case STSM_CONN_WRITABLE:
        break;
    }
}

static void connect_to_address(void);

static void on_resolved(void *arg, stsm_status_t status, const struct stsm_dns_answer *answer,
                        const ip_addr_t *server)
{
    (void)arg;
    (void)server;
    if (status != STSM_OK || answer->outcome != STSM_DNS_ANSWER) {
        finish(status != STSM_OK ? status : STSM_ERR_RESOLVE, "no IPv4 address for the host");
        return;
    }
    IP_ADDR4(&probe.address, answer->records[0].address[0], answer->records[0].address[1],
             answer->records[0].address[2], answer->records[0].address[3]);
    connect_to_address();
}

static void connect_to_address(void)
{
    probe.step = STEP_CONNECT;
    stsm_status_t st = stsm_conn_connect(&probe.conn, &probe.address, probe.args->port,
                                         probe.args->timeout_ms, on_conn, NULL);
    if (st != STSM_OK) {
        finish(st, "could not open a connection");
    }
}

static void print_session(void)
{
    const mbedtls_ssl_context *ssl = stsm_conn_tls_session(&probe.conn);
    printf("version: %s\n", stsm_conn_tls_version(&probe.conn));   /* ", resumed" when it was */
    printf("ciphersuite: %s\n", mbedtls_ssl_get_ciphersuite(ssl));
    printf("peer chain:%s\n", stsm_conn_tls_resumed(&probe.conn) ? " none sent (resumed session)" : "");
    int depth = 0;
    for (const mbedtls_x509_crt *crt = mbedtls_ssl_get_peer_cert(ssl); crt != NULL && crt->raw.p != NULL;
         crt = crt->next) {
        char subject[256], issuer[256];
        mbedtls_x509_dn_gets(subject, sizeof subject, &crt->subject);
        mbedtls_x509_dn_gets(issuer, sizeof issuer, &crt->issuer);
        printf("  %d: %s (issuer: %s)\n", depth++, subject, issuer);
    }
    printf("verify: ok (chain leads to a trust anchor, certificate valid now and for %s)\n",
           probe.args->host);
}

/* A TLS 1.3 server sends its session tickets after the handshake; stsm_conn keeps them
 * as it reads. So read the reply to QUIT (STARTTLS), or what a server sends first, for up
 * to a second, for a later session (--repeat) to resume. TLS 1.2 kept its session at the
 * handshake. */
static void await_first_bytes(const struct stsm_cli_tls_probe_args *args)
{
    if (!args->starttls && strncmp(stsm_conn_tls_version(&probe.conn), "TLSv1.3", 7) != 0) {
        return;
    }
    for (int i = 0; i < 20; i++) {
        char buf[256];
        long n = stsm_conn_recv(&probe.conn, buf, sizeof buf);
        if (n != 0) {
            return;
        }
        stsm_host_net_poll(50);
    }
}

/* One session: look up, connect, (STARTTLS,) handshake, report, close. Returns the exit
 * status for it. */
static int probe_once(const struct stsm_cli_tls_probe_args *args)
{
    probe.step = STEP_RESOLVE;
    probe.done = false;
    probe.status = STSM_OK;
    probe.detail[0] = '\0';
    probe.reply_len = 0;
    memset(&probe.conn, 0, sizeof probe.conn);

    printf("tls-probe %s port %u%s\n", args->host, (unsigned)args->port,
           args->starttls ? " (SMTP STARTTLS)" : " (TLS from the start)");
    if (ipaddr_aton(args->host, &probe.address)) {
        connect_to_address();   /* an address literal needs no lookup */
    } else {
        stsm_status_t st = stsm_resolver_start(&probe.query, args->host, STSM_DNS_TYPE_A,
                                               on_resolved, NULL);
        if (st != STSM_OK) {
            finish(st, "cannot look the host up");
        }
    }
    while (!probe.done) {
        stsm_host_net_poll(100);
    }

    if (probe.status == STSM_OK) {
        print_session();
        if (args->starttls) {
            stsm_conn_send(&probe.conn, "QUIT\r\n", 6);
            stsm_conn_flush(&probe.conn);
        }
        await_first_bytes(args);
    } else {
        printf("verify: failed: %s: %s%s%s\n", stsm_status_id(probe.status),
               stsm_status_str(probe.status), probe.detail[0] ? ": " : "", probe.detail);
        uint32_t flags = stsm_conn_verify_flags(&probe.conn);
        if (flags != 0) {
            char info[512];
            mbedtls_x509_crt_verify_info(info, sizeof info, "  mbedtls: ", flags);
            fputs(info, stdout);
        } else if (stsm_conn_tls_error(&probe.conn) != 0) {
            printf("  mbedtls: error -0x%04x\n", (unsigned)-stsm_conn_tls_error(&probe.conn));
        }
    }
    printf("arena peak: %u bytes during the handshake (arena %u bytes)\n",
           (unsigned)stsm_conn_tls_arena_peak(&probe.conn), (unsigned)STSM_TLS_ARENA_SIZE);
    stsm_conn_close(&probe.conn);
    stsm_resolver_cancel(&probe.query);
    return stsm_app_exit_status(probe.status);
}

int stsm_tls_probe_run(const struct stsm_cli_tls_probe_args *args)
{
    memset(&probe, 0, sizeof probe);
    probe.args = args;
    int rc = stsm_app_load_settings(args->settings, &settings);
    if (rc == 0) {
        rc = stsm_app_load_tls(args->settings, &settings, &probe.tls);
    }
    if (rc == 0) {
        rc = stsm_app_net_up_settings(&settings.network, args->timeout_ms);
    }
    if (rc != 0) {
        return rc;
    }
    /* Sessions one after the other in one process, so that the later ones find the TLS
     * session the first one stored; the first failure decides the exit status. */
    for (uint32_t i = 0; i < (args->repeat > 0 ? args->repeat : 1); i++) {
        int one = probe_once(args);
        rc = rc != 0 ? rc : one;
    }
    stsm_app_net_down();
    return rc;
}
