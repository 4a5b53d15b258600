/*
 * CRC32C (Castagnoli polynomial, reflected 0x82F63B78), as used by iSCSI,
 * ext4 and many logs. Uses the SSE4.2 crc32 instruction when the CPU has it,
 * otherwise a slice-by-8 table. Both paths give the same answers; the unit
 * tests check them against the standard check value and against each other
 * (crc32c.h exposes the table path to them).
 */
#include <stdint.h>
#include <string.h>

#include "crc32c.h"
#include "raftcore.h"

static uint32_t table[8][256];
static int hw_support = -1;

/* Runs once at program start, before any thread exists, so the table and
 * the CPU check need no synchronization afterwards. */
__attribute__((constructor)) static void build_table(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;
		for (int k = 0; k < 8; k++)
			c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
		table[0][i] = c;
	}
	for (uint32_t i = 0; i < 256; i++)
		for (int t = 1; t < 8; t++)
			table[t][i] = (table[t - 1][i] >> 8) ^ table[0][table[t - 1][i] & 0xff];
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
	__builtin_cpu_init();
	hw_support = __builtin_cpu_supports("sse4.2") ? 1 : 0;
#else
	hw_support = 0;
#endif
}

static uint32_t crc_soft(uint32_t crc, const uint8_t *p, size_t len)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	/* Slice-by-8 reads words in host order, so it is for little-endian. */
	while (len >= 8) {
		uint64_t w;
		memcpy(&w, p, 8);
		w ^= crc;
		crc = table[7][w & 0xff] ^ table[6][(w >> 8) & 0xff] ^ table[5][(w >> 16) & 0xff] ^
		      table[4][(w >> 24) & 0xff] ^ table[3][(w >> 32) & 0xff] ^
		      table[2][(w >> 40) & 0xff] ^ table[1][(w >> 48) & 0xff] ^ table[0][w >> 56];
		p += 8;
		len -= 8;
	}
#endif
	while (len--)
		crc = (crc >> 8) ^ table[0][(crc ^ *p++) & 0xff];
	return crc;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
__attribute__((target("sse4.2"))) static uint32_t crc_hw(uint32_t crc, const uint8_t *p, size_t len)
{
	uint64_t c = crc;
	while (len >= 8) {
		uint64_t w;
		memcpy(&w, p, 8);
		c = __builtin_ia32_crc32di(c, w);
		p += 8;
		len -= 8;
	}
	uint32_t c32 = (uint32_t)c;
	while (len--)
		c32 = __builtin_ia32_crc32qi(c32, *p++);
	return c32;
}
#define HAVE_CRC_HW 1
#endif

bool rc_crc32c_hw(void)
{
#ifdef HAVE_CRC_HW
	return hw_support == 1;
#else
	return false;
#endif
}

uint32_t rc_crc32c_soft(uint32_t crc, const void *data, size_t len)
{
	return ~crc_soft(~crc, data, len);
}

uint32_t rc_crc32c(uint32_t crc, const void *data, size_t len)
{
#ifdef HAVE_CRC_HW
	if (rc_crc32c_hw())
		return ~crc_hw(~crc, data, len);
#endif
	return ~crc_soft(~crc, data, len);
}
