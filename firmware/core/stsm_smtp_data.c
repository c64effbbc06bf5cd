#include "stsm_smtp_data.h"

void stsm_smtp_data_init(struct stsm_smtp_data *enc)
{
    enc->at_line_start = true;
    enc->after_cr = false;
    enc->chunk = false;
    enc->total = 0;
}

void stsm_smtp_data_init_chunk(struct stsm_smtp_data *enc)
{
    stsm_smtp_data_init(enc);
    enc->chunk = true;
}

size_t stsm_smtp_data_encode(struct stsm_smtp_data *enc, const uint8_t *in, size_t in_len,
                             uint8_t *out, size_t out_cap, size_t *out_len)
{
    size_t i = 0, o = 0;
    for (; i < in_len && o + 2 <= out_cap; i++) {
        uint8_t c = in[i];
        bool lf_of_crlf = c == '\n' && enc->after_cr;   /* the CRLF went out at its CR */
        enc->after_cr = c == '\r';
        if (lf_of_crlf) {
            continue;
        }
        if (c == '\r' || c == '\n') {
            out[o++] = '\r';
            c = '\n';
        } else if (enc->at_line_start && c == '.' && !enc->chunk) {
            out[o++] = '.';
        }
        out[o++] = c;
        enc->at_line_start = c == '\n';
    }
    *out_len = o;
    enc->total += o;
    return i;
}

size_t stsm_smtp_data_finish(struct stsm_smtp_data *enc, uint8_t *out)
{
    size_t o = 0;
    if (!enc->at_line_start) {
        out[o++] = '\r';
        out[o++] = '\n';
    }
    if (!enc->chunk) {
        out[o++] = '.';
        out[o++] = '\r';
        out[o++] = '\n';
    }
    enc->total += o;
    enc->at_line_start = true;
    enc->after_cr = false;
    return o;
}
