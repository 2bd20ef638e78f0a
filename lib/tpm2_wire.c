/* TPM 2.0 marshalling and unmarshalling (tpm2_wire.h). Freestanding: byte
 * loops instead of memcpy, so the guest payloads need nothing more. */
#include "tpm2_wire.h"

bool tpm2w_header_parse(const uint8_t *buf, size_t len, struct tpm2w_header *h)
{
    if (len < TPM_HEADER_SIZE)
        return false;
    h->tag = tpm2w_load16(buf);
    h->size = tpm2w_load32(buf + 2);
    h->code = tpm2w_load32(buf + 6);
    return true;
}

void tpm2w_header_write(uint8_t out[TPM_HEADER_SIZE], uint16_t tag, uint32_t size, uint32_t code)
{
    tpm2w_store16(out, tag);
    tpm2w_store32(out + 2, size);
    tpm2w_store32(out + 6, code);
}

/* --- writing --- */

void tpm2w_writer_init(struct tpm2w_writer *w, uint8_t *buf, size_t len)
{
    w->buf = buf;
    w->len = len;
    w->pos = 0;
    w->overflow = false;
}

/* Room for n more bytes? Records the overflow when not: a cursor that
 * overflowed once refuses everything after, so nothing lands after a gap. */
static bool tpm2w_room(struct tpm2w_writer *w, size_t n)
{
    if (w->overflow || n > w->len - w->pos) {
        w->overflow = true;
        return false;
    }
    return true;
}

void tpm2w_put8(struct tpm2w_writer *w, uint8_t v)
{
    if (tpm2w_room(w, 1))
        w->buf[w->pos++] = v;
}

void tpm2w_put16(struct tpm2w_writer *w, uint16_t v)
{
    if (tpm2w_room(w, 2)) {
        tpm2w_store16(w->buf + w->pos, v);
        w->pos += 2;
    }
}

void tpm2w_put32(struct tpm2w_writer *w, uint32_t v)
{
    if (tpm2w_room(w, 4)) {
        tpm2w_store32(w->buf + w->pos, v);
        w->pos += 4;
    }
}

void tpm2w_put16_le(struct tpm2w_writer *w, uint16_t v)
{
    if (tpm2w_room(w, 2)) {
        w->buf[w->pos++] = (uint8_t)v;
        w->buf[w->pos++] = (uint8_t)(v >> 8);
    }
}

void tpm2w_put32_le(struct tpm2w_writer *w, uint32_t v)
{
    if (tpm2w_room(w, 4)) {
        for (int i = 0; i < 4; i++)
            w->buf[w->pos++] = (uint8_t)(v >> (8 * i));
    }
}

void tpm2w_put_bytes(struct tpm2w_writer *w, const void *p, size_t n)
{
    if (!tpm2w_room(w, n))
        return;
    const uint8_t *s = p;
    for (size_t i = 0; i < n; i++)
        w->buf[w->pos + i] = s[i];
    w->pos += n;
}

void tpm2w_put_zeros(struct tpm2w_writer *w, size_t n)
{
    if (!tpm2w_room(w, n))
        return;
    for (size_t i = 0; i < n; i++)
        w->buf[w->pos + i] = 0;
    w->pos += n;
}

void tpm2w_put_sized(struct tpm2w_writer *w, const void *p, size_t n)
{
    if (n > UINT16_MAX) {
        w->overflow = true;
        return;
    }
    tpm2w_put16(w, (uint16_t)n);
    tpm2w_put_bytes(w, p, n);
}

size_t tpm2w_sized_begin(struct tpm2w_writer *w)
{
    size_t at = w->pos;
    tpm2w_put16(w, 0);
    return at;
}

void tpm2w_sized_end(struct tpm2w_writer *w, size_t at)
{
    if (w->overflow)
        return;
    size_t n = w->pos - at - 2;
    if (n > UINT16_MAX)
        w->overflow = true;
    else
        tpm2w_store16(w->buf + at, (uint16_t)n);
}

void tpm2w_put_pw_session(struct tpm2w_writer *w)
{
    tpm2w_put32(w, 9); /* authorizationSize: the session below */
    tpm2w_put32(w, TPM_RS_PW);
    tpm2w_put16(w, 0); /* nonce: empty */
    tpm2w_put8(w, 0);  /* sessionAttributes */
    tpm2w_put16(w, 0); /* hmac: the empty password */
}

void tpm2w_command(struct tpm2w_writer *w, uint8_t *buf, size_t len, uint16_t tag, uint32_t cc)
{
    tpm2w_writer_init(w, buf, len);
    tpm2w_put16(w, tag);
    tpm2w_put32(w, 0); /* the size: tpm2w_finish */
    tpm2w_put32(w, cc);
}

size_t tpm2w_finish(struct tpm2w_writer *w)
{
    if (w->overflow || w->pos < TPM_HEADER_SIZE || w->pos > UINT32_MAX)
        return 0;
    tpm2w_store32(w->buf + 2, (uint32_t)w->pos);
    return w->pos;
}

/* --- reading --- */

void tpm2w_reader_init(struct tpm2w_reader *r, const uint8_t *buf, size_t len)
{
    r->buf = buf;
    r->len = len;
    r->pos = 0;
    r->overflow = false;
}

/* Are n more bytes there? Records the overflow when not. */
static bool tpm2w_have(struct tpm2w_reader *r, size_t n)
{
    if (r->overflow || n > r->len - r->pos) {
        r->overflow = true;
        return false;
    }
    return true;
}

uint8_t tpm2w_get8(struct tpm2w_reader *r) { return tpm2w_have(r, 1) ? r->buf[r->pos++] : 0; }

uint16_t tpm2w_get16(struct tpm2w_reader *r)
{
    if (!tpm2w_have(r, 2))
        return 0;
    r->pos += 2;
    return tpm2w_load16(r->buf + r->pos - 2);
}

uint32_t tpm2w_get32(struct tpm2w_reader *r)
{
    if (!tpm2w_have(r, 4))
        return 0;
    r->pos += 4;
    return tpm2w_load32(r->buf + r->pos - 4);
}

const uint8_t *tpm2w_get_span(struct tpm2w_reader *r, size_t n)
{
    if (!tpm2w_have(r, n))
        return NULL;
    r->pos += n;
    return r->buf + r->pos - n;
}

void tpm2w_get_bytes(struct tpm2w_reader *r, void *out, size_t n)
{
    const uint8_t *s = tpm2w_get_span(r, n);
    uint8_t *d = out;
    for (size_t i = 0; s && i < n; i++)
        d[i] = s[i];
}

void tpm2w_skip(struct tpm2w_reader *r, size_t n) { (void)tpm2w_get_span(r, n); }

size_t tpm2w_remaining(const struct tpm2w_reader *r) { return r->overflow ? 0 : r->len - r->pos; }

int32_t tpm2w_response(struct tpm2w_reader *r, const uint8_t *rsp, size_t len)
{
    struct tpm2w_header h;
    tpm2w_reader_init(r, rsp, len);
    if (!tpm2w_header_parse(rsp, len, &h) || h.size != len || h.code > INT32_MAX) {
        r->overflow = true;
        return -1;
    }
    r->pos = TPM_HEADER_SIZE;
    return (int32_t)h.code;
}
