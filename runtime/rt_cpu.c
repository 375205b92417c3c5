/*
 * rt_cpu.c - the running CPU's features by cpuid (see rt_cpu.h). Vector
 * features also need the OS to save their registers (XCR0), as the
 * Intel and AMD manuals require before AVX or AVX-512 is used.
 */
#include <string.h>

#include "rt_cpu.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>

enum { EAX, EBX, ECX, EDX };
enum { OS_NONE, OS_AVX, OS_AVX512, OS_AMX }; /* XCR0 state the feature needs */

/* LLVM's feature names; leaf, subleaf, register, bit from the manuals */
static const struct {
	const char *name;
	unsigned leaf, sub;
	int reg, bit, os;
} features[] = {
	{"sse3", 1, 0, ECX, 0, OS_NONE},          {"pclmul", 1, 0, ECX, 1, OS_NONE},
	{"ssse3", 1, 0, ECX, 9, OS_NONE},         {"fma", 1, 0, ECX, 12, OS_AVX},
	{"cx16", 1, 0, ECX, 13, OS_NONE},         {"sse4.1", 1, 0, ECX, 19, OS_NONE},
	{"sse4.2", 1, 0, ECX, 20, OS_NONE},       {"crc32", 1, 0, ECX, 20, OS_NONE},
	{"movbe", 1, 0, ECX, 22, OS_NONE},        {"popcnt", 1, 0, ECX, 23, OS_NONE},
	{"aes", 1, 0, ECX, 25, OS_NONE},          {"xsave", 1, 0, ECX, 26, OS_NONE},
	{"avx", 1, 0, ECX, 28, OS_AVX},           {"f16c", 1, 0, ECX, 29, OS_AVX},
	{"sse", 1, 0, EDX, 25, OS_NONE},          {"sse2", 1, 0, EDX, 26, OS_NONE},
	{"bmi", 7, 0, EBX, 3, OS_NONE},           {"avx2", 7, 0, EBX, 5, OS_AVX},
	{"bmi2", 7, 0, EBX, 8, OS_NONE},          {"avx512f", 7, 0, EBX, 16, OS_AVX512},
	{"avx512dq", 7, 0, EBX, 17, OS_AVX512},   {"adx", 7, 0, EBX, 19, OS_NONE},
	{"avx512ifma", 7, 0, EBX, 21, OS_AVX512}, {"avx512cd", 7, 0, EBX, 28, OS_AVX512},
	{"sha", 7, 0, EBX, 29, OS_NONE},          {"avx512bw", 7, 0, EBX, 30, OS_AVX512},
	{"avx512vl", 7, 0, EBX, 31, OS_AVX512},   {"avx512vbmi", 7, 0, ECX, 1, OS_AVX512},
	{"avx512vbmi2", 7, 0, ECX, 6, OS_AVX512}, {"gfni", 7, 0, ECX, 8, OS_NONE},
	{"vaes", 7, 0, ECX, 9, OS_AVX},           {"vpclmulqdq", 7, 0, ECX, 10, OS_AVX},
	{"avx512vnni", 7, 0, ECX, 11, OS_AVX512}, {"avx512bitalg", 7, 0, ECX, 12, OS_AVX512},
	{"avx512vpopcntdq", 7, 0, ECX, 14, OS_AVX512},
	{"avx512fp16", 7, 0, EDX, 23, OS_AVX512}, {"avxvnni", 7, 1, EAX, 4, OS_AVX},
	{"avx512bf16", 7, 1, EAX, 5, OS_AVX512},  {"amx-bf16", 7, 0, EDX, 22, OS_AMX},
	{"amx-tile", 7, 0, EDX, 24, OS_AMX},      {"sahf", 0x80000001u, 0, ECX, 0, OS_NONE},
	{"lzcnt", 0x80000001u, 0, ECX, 5, OS_NONE}, {"sse4a", 0x80000001u, 0, ECX, 6, OS_NONE},
	{"prfchw", 0x80000001u, 0, ECX, 8, OS_NONE},
};
#define NFEATURES (int)(sizeof features / sizeof *features)

static int find(const char *name, size_t len)
{
	for (int i = 0; i < NFEATURES; i++)
		if (strlen(features[i].name) == len && !strncmp(features[i].name, name, len))
			return i;
	return -1;
}

/* XCR0: which register state the OS saves (bits 1-2 SSE/AVX, 5-7 AVX-512,
 * 17-18 AMX's tile configuration and data) */
static unsigned long long xcr0(void)
{
	unsigned a, b, c, d;
	if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & (1u << 27))) /* OSXSAVE */
		return 0;
	unsigned lo, hi;
	__asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
	return ((unsigned long long)hi << 32) | lo;
}

static int has(int i)
{
	unsigned r[4] = {0};
	if (!__get_cpuid_count(features[i].leaf, features[i].sub, &r[EAX], &r[EBX], &r[ECX], &r[EDX]))
		return 0;
	if (!(r[features[i].reg] & (1u << features[i].bit)))
		return 0;
	unsigned long long x = features[i].os == OS_NONE ? 0 : xcr0();
	if (features[i].os >= OS_AVX && (x & 0x6) != 0x6)
		return 0;
	if (features[i].os == OS_AVX512 && (x & 0xe0) != 0xe0)
		return 0;
	if (features[i].os == OS_AMX && (x & 0x60000) != 0x60000)
		return 0;
	return 1;
}
#else
static int find(const char *name, size_t len)
{
	(void)name, (void)len;
	return -1;
}

static int has(int i)
{
	(void)i;
	return 0;
}
#endif

int rt_cpu_known(const char *name)
{
	return find(name, strlen(name)) >= 0;
}

int rt_cpu_has(const char *name)
{
	int i = find(name, strlen(name));
	return i >= 0 && has(i);
}

/* `name` (len bytes) is an item of the comma-separated list */
static int listed(const char *list, const char *name, size_t len)
{
	for (const char *p = list; p && *p;) {
		size_t l = strcspn(p, ",");
		if (l == len && !strncmp(p, name, len))
			return 1;
		p += l + (p[l] == ',');
	}
	return 0;
}

int rt_cpu_missing(const char *need, const char *mask, char *missing, size_t n)
{
	int count = 0, full = n == 0;
	size_t used = 0;
	if (n)
		missing[0] = 0;
	for (const char *p = need; p && *p;) {
		size_t l = strcspn(p, ",");
		int i = find(p, l);
		if (i >= 0 && (!has(i) || listed(mask, p, l))) {
			count++;
			full = full || used + l + 3 > n; /* the list stops at the first that does not fit */
			if (!full) {
				if (used) {
					missing[used++] = ',';
					missing[used++] = ' ';
				}
				memcpy(missing + used, p, l);
				used += l;
				missing[used] = 0;
			}
		}
		p += l + (p[l] == ',');
	}
	return count;
}
