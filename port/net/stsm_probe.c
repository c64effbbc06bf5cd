#include "stsm_probe.h"

#include <string.h>

#include "lwip/dns.h"
#include "lwip/timeouts.h"

static const char quit_command[] = "QUIT\r\n";

/* Detaches our callbacks from the connection and ends it: politely (QUIT, FIN) after a
 * good line, otherwise with a reset. Returns true when the pcb was aborted, which an lwIP
 * callback running on that pcb must report as ERR_ABRT. */
static bool probe_release_pcb(struct stsm_probe *probe, bool polite)
{
    struct tcp_pcb *pcb = probe->pcb;
    if (pcb == NULL) {
        return false;
    }
    probe->pcb = NULL;
    tcp_arg(pcb, NULL);
    tcp_recv(pcb, NULL);
    tcp_err(pcb, NULL);
    if (polite) {
        tcp_write(pcb, quit_command, sizeof quit_command - 1, 0);
        if (tcp_close(pcb) == ERR_OK) {
            return false;
        }
    }
    tcp_abort(pcb);
    return true;
}

static void probe_timeout(void *arg);

/* Ends the probe once; returns true when the pcb was aborted (see probe_release_pcb). */
static bool probe_finish(struct stsm_probe *probe, stsm_status_t status, err_t lwip_err)
{
    if (probe->finished) {
        return false;
    }
    probe->finished = true;
    sys_untimeout(probe_timeout, probe);
    bool aborted = probe_release_pcb(probe, status == STSM_OK);
    probe->done(probe->done_arg, status, status == STSM_OK ? probe->line : NULL, lwip_err);
    return aborted;
}

static void probe_timeout(void *arg)
{
    probe_finish(arg, STSM_ERR_TIMEOUT, ERR_OK);
}

static void probe_on_error(void *arg, err_t err)
{
    struct stsm_probe *probe = arg;
    probe->pcb = NULL;   /* lwIP has already freed it */
    probe_finish(probe, STSM_ERR_CONNECT, err);
}

static err_t probe_on_recv(void *arg, struct tcp_pcb *pcb, struct pbuf *p, err_t err)
{
    struct stsm_probe *probe = arg;
    (void)err;

    if (p == NULL) {
        return probe_finish(probe, STSM_ERR_PEER_CLOSED, ERR_OK) ? ERR_ABRT : ERR_OK;
    }
    tcp_recved(pcb, p->tot_len);

    /* Copy up to the first LF; anything after it is not ours to read. */
    bool have_line = false;
    for (const struct pbuf *q = p; q != NULL && !have_line; q = q->next) {
        const char *bytes = q->payload;
        for (u16_t i = 0; i < q->len; i++) {
            if (bytes[i] == '\n') {
                have_line = true;
                break;
            }
            if (probe->line_len == STSM_PROBE_LINE_MAX) {
                if (bytes[i] == '\r') {
                    continue;   /* the CR of a maximum-length line's CRLF */
                }
                pbuf_free(p);
                return probe_finish(probe, STSM_ERR_PEER_PROTOCOL, ERR_OK) ? ERR_ABRT : ERR_OK;
            }
            probe->line[probe->line_len++] = bytes[i];
        }
    }
    pbuf_free(p);
    if (!have_line) {
        return ERR_OK;
    }
    if (probe->line_len > 0 && probe->line[probe->line_len - 1] == '\r') {
        probe->line_len--;
    }
    probe->line[probe->line_len] = '\0';
    return probe_finish(probe, STSM_OK, ERR_OK) ? ERR_ABRT : ERR_OK;
}

static err_t probe_on_connected(void *arg, struct tcp_pcb *pcb, err_t err)
{
    (void)arg;
    (void)pcb;
    (void)err;   /* lwIP reports connection failures through the error callback */
    return ERR_OK;
}

static void probe_connect(struct stsm_probe *probe, const ip_addr_t *address)
{
    ip_addr_copy(probe->address, *address);
    probe->pcb = tcp_new_ip_type(IP_GET_TYPE(address));
    if (probe->pcb == NULL) {
        probe_finish(probe, STSM_ERR_NO_MEMORY, ERR_MEM);
        return;
    }
    tcp_arg(probe->pcb, probe);
    tcp_err(probe->pcb, probe_on_error);
    tcp_recv(probe->pcb, probe_on_recv);
    err_t err = tcp_connect(probe->pcb, &probe->address, probe->port, probe_on_connected);
    if (err != ERR_OK) {
        probe_finish(probe, STSM_ERR_CONNECT, err);
    }
}

static void probe_on_resolved(const char *name, const ip_addr_t *address, void *arg)
{
    struct stsm_probe *probe = arg;
    (void)name;
    if (probe->finished) {
        return;
    }
    if (address == NULL) {
        probe_finish(probe, STSM_ERR_RESOLVE, ERR_OK);
        return;
    }
    probe_connect(probe, address);
}

stsm_status_t stsm_probe_start(struct stsm_probe *probe, const char *host, uint16_t port,
                               uint32_t timeout_ms, stsm_probe_done_fn done, void *arg)
{
    if (host == NULL || host[0] == '\0' || strlen(host) > STSM_HOSTNAME_MAX || port == 0 ||
        done == NULL) {
        return STSM_ERR_ARGUMENT;
    }
    memset(probe, 0, sizeof *probe);
    probe->port = port;
    probe->done = done;
    probe->done_arg = arg;

    ip_addr_t address;
    err_t err = dns_gethostbyname(host, &address, probe_on_resolved, probe);
    if (err == ERR_OK) {
        sys_timeout(timeout_ms, probe_timeout, probe);
        probe_connect(probe, &address);
        return STSM_OK;
    }
    if (err == ERR_INPROGRESS) {
        sys_timeout(timeout_ms, probe_timeout, probe);
        return STSM_OK;
    }
    return err == ERR_MEM ? STSM_ERR_NO_MEMORY : STSM_ERR_RESOLVE;
}

const ip_addr_t *stsm_probe_address(const struct stsm_probe *probe)
{
    return &probe->address;
}
