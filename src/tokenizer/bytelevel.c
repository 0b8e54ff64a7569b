/* bytelevel.c - GPT-2's byte <-> character table, UTF-8 helpers, White_Space. */
#include <utf8proc.h>

#include "tokenizer/tokenizer.h"

/* Printable bytes keep their Latin-1 character: '!'..'~', 0xA1..0xAC and
 * 0xAE..0xFF. The other 68 bytes (controls, space, DEL, 0x80..0xA0, 0xAD)
 * get U+0100, U+0101, ... in increasing byte order. */
static int temper__byte_is_printable(unsigned b) {
    return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
}

uint32_t temper__byte_to_char(uint8_t b) {
    if (temper__byte_is_printable(b)) return b;
    uint32_t k = 0; /* rank of b among the non-printable bytes */
    for (unsigned x = 0; x < b; x++) k += !temper__byte_is_printable(x);
    return 0x100 + k;
}

int temper__char_to_byte(uint32_t c) {
    if (c < 0x100) return temper__byte_is_printable(c) ? (int)c : -1;
    if (c >= 0x100 + 68) return -1;
    uint32_t k = c - 0x100;
    for (unsigned x = 0; x < 256; x++)
        if (!temper__byte_is_printable(x) && k-- == 0) return (int)x;
    return -1;
}

int temper__utf8_decode(const uint8_t *s, size_t n, uint32_t *cp) {
    uint8_t c = s[0];
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    int len;
    uint32_t v, min;
    if (c >= 0xC2 && c <= 0xDF) len = 2, v = c & 0x1F, min = 0x80;
    else if (c >= 0xE0 && c <= 0xEF) len = 3, v = c & 0x0F, min = 0x800;
    else if (c >= 0xF0 && c <= 0xF4) len = 4, v = c & 0x07, min = 0x10000;
    else return 0;
    if ((size_t)len > n) return 0;
    for (int k = 1; k < len; k++) {
        if ((s[k] & 0xC0) != 0x80) return 0;
        v = v << 6 | (s[k] & 0x3F);
    }
    if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) return 0;
    *cp = v;
    return len;
}

int temper__utf8_encode(uint32_t cp, uint8_t *out) {
    if (cp < 0x80) {
        out[0] = (uint8_t)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (uint8_t)(0xC0 | cp >> 6);
        out[1] = (uint8_t)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (uint8_t)(0xE0 | cp >> 12);
        out[1] = (uint8_t)(0x80 | (cp >> 6 & 0x3F));
        out[2] = (uint8_t)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (uint8_t)(0xF0 | cp >> 18);
    out[1] = (uint8_t)(0x80 | (cp >> 12 & 0x3F));
    out[2] = (uint8_t)(0x80 | (cp >> 6 & 0x3F));
    out[3] = (uint8_t)(0x80 | (cp & 0x3F));
    return 4;
}

size_t temper__utf8_check(const uint8_t *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        /* 8 ASCII bytes at a time */
        while (i + 8 <= n) {
            uint64_t w;
            __builtin_memcpy(&w, s + i, 8);
            if (w & 0x8080808080808080ull) break;
            i += 8;
        }
        if (i >= n) break;
        if (s[i] < 0x80) {
            i++;
            continue;
        }
        uint32_t cp;
        int len = temper__utf8_decode(s + i, n - i, &cp);
        if (len == 0) return i;
        i += (size_t)len;
    }
    return n;
}

int temper__is_white_space(uint32_t c) {
    if (c >= 0x09 && c <= 0x0D) return 1;
    if (c == 0x20 || c == 0x85) return 1;
    if (c < 0x80) return 0;
    utf8proc_category_t cat = utf8proc_category((utf8proc_int32_t)c);
    return cat == UTF8PROC_CATEGORY_ZS || cat == UTF8PROC_CATEGORY_ZL ||
           cat == UTF8PROC_CATEGORY_ZP;
}

int temper__char_class(uint32_t c) {
    if (temper__is_white_space(c)) return TEMPER__CL_WS;
    switch (utf8proc_category((utf8proc_int32_t)c)) {
    case UTF8PROC_CATEGORY_LU:
    case UTF8PROC_CATEGORY_LL:
    case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_LO: return TEMPER__CL_L;
    case UTF8PROC_CATEGORY_ND:
    case UTF8PROC_CATEGORY_NL:
    case UTF8PROC_CATEGORY_NO: return TEMPER__CL_N;
    default: return TEMPER__CL_O;
    }
}
