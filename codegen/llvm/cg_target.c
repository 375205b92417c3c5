/*
 * cg_target.c - the CPU kernels are compiled for (see cg_target.h). The
 * x86-64 levels are LLVM's (and the psABI's) feature sets; a named CPU is
 * compiled as its level and tuned for itself, so the features a trainer
 * checks at start are exactly those the compiler may use.
 */
#include <stdlib.h>
#include <string.h>

#include "cg_llvm.h"
#include "cg_target.h"
#include "rt_cpu.h"

#define V2 "cx16,sahf,popcnt,crc32,sse3,ssse3,sse4.1,sse4.2"
#define V3 V2 ",avx,avx2,bmi,bmi2,f16c,fma,lzcnt,movbe,xsave"
#define V4 V3 ",avx512f,avx512bw,avx512cd,avx512dq,avx512vl"

static const struct {
	const char *name, *need;
} levels[] = {
	{"x86-64", ""}, {"x86-64-v2", V2}, {"x86-64-v3", V3}, {"x86-64-v4", V4},
};

/* what `generic` means on x86-64 (measured: README, "Portable trainers") */
#define GENERIC_X86 "x86-64-v3"

/* named CPUs by the x86-64 level their instructions reach */
static const struct {
	const char *name, *level;
} cpus[] = {
	{"nehalem", "x86-64-v2"},       {"westmere", "x86-64-v2"},
	{"sandybridge", "x86-64-v2"},   {"ivybridge", "x86-64-v2"},
	{"btver2", "x86-64-v2"},        {"bdver2", "x86-64-v2"},
	{"haswell", "x86-64-v3"},       {"broadwell", "x86-64-v3"},
	{"skylake", "x86-64-v3"},       {"alderlake", "x86-64-v3"},
	{"znver1", "x86-64-v3"},        {"znver2", "x86-64-v3"},
	{"znver3", "x86-64-v3"},        {"skylake-avx512", "x86-64-v4"},
	{"cascadelake", "x86-64-v4"},   {"icelake-server", "x86-64-v4"},
	{"sapphirerapids", "x86-64-v4"}, {"znver4", "x86-64-v4"},
	{"znver5", "x86-64-v4"},
};

static int is_x86(void)
{
#if defined(__x86_64__)
	return 1;
#else
	return 0;
#endif
}

const char *cg_target_choices(void)
{
	return is_x86() ? "native, generic, x86-64, x86-64-v2, x86-64-v3, x86-64-v4, nehalem, "
	                  "westmere, sandybridge, ivybridge, btver2, bdver2, haswell, broadwell, "
	                  "skylake, alderlake, znver1, znver2, znver3, skylake-avx512, cascadelake, "
	                  "icelake-server, sapphirerapids, znver4, znver5"
	                : "native, generic";
}

void cg_target_free(cg_target *t)
{
	free(t->features);
	free(t->need);
	t->features = t->need = NULL;
}

static int oom(cg_target *t, char *err, size_t errlen)
{
	cg_target_free(t);
	snprintf(err, errlen, "samc: out of memory");
	return -1;
}

/* The host's "+feature" entries that rt_cpu can test, comma-separated. */
static char *host_need(const char *feat)
{
	char *need = malloc(strlen(feat) + 1), *w = need;
	if (!need)
		return NULL;
	for (const char *p = feat; *p;) {
		size_t l = strcspn(p, ",");
		char name[64];
		if (*p == '+' && l - 1 < sizeof name) {
			memcpy(name, p + 1, l - 1);
			name[l - 1] = 0;
			if (rt_cpu_known(name))
				w += sprintf(w, "%s%s", w == need ? "" : ",", name);
		}
		p += l + (p[l] == ',');
	}
	*w = 0;
	return need;
}

static int set_level(cg_target *t, const char *level)
{
	for (size_t i = 0; i < sizeof levels / sizeof *levels; i++)
		if (!strcmp(levels[i].name, level)) {
			snprintf(t->cpu, sizeof t->cpu, "%s", level);
			t->features = strdup("");
			t->need = strdup(levels[i].need);
			return t->features && t->need ? 0 : -1;
		}
	return 1;
}

int cg_target_init(cg_target *t, const char *spec, char *err, size_t errlen)
{
	memset(t, 0, sizeof *t);
	if (!spec)
		spec = "native";
	if (strlen(spec) >= sizeof t->spec) {
		snprintf(err, errlen, "--cpu '%.40s...': unknown CPU; choose one of %s", spec,
		         cg_target_choices());
		return -1;
	}
	snprintf(t->spec, sizeof t->spec, "%s", spec);
	if (!strcmp(spec, "native")) {
		char *cpu = LLVMGetHostCPUName(), *feat = LLVMGetHostCPUFeatures();
		snprintf(t->cpu, sizeof t->cpu, "%s", cpu);
		t->features = strdup(feat);
		t->need = host_need(feat);
		LLVMDisposeMessage(cpu);
		LLVMDisposeMessage(feat);
		return t->features && t->need ? 0 : oom(t, err, errlen);
	}
	if (!strcmp(spec, "generic") && !is_x86()) {
		snprintf(t->cpu, sizeof t->cpu, "generic");
		t->features = strdup("");
		t->need = strdup("");
		return t->features && t->need ? 0 : oom(t, err, errlen);
	}
	int rc = is_x86() ? set_level(t, !strcmp(spec, "generic") ? GENERIC_X86 : spec) : 1;
	for (size_t i = 0; rc == 1 && is_x86() && i < sizeof cpus / sizeof *cpus; i++)
		if (!strcmp(cpus[i].name, spec)) {
			rc = set_level(t, cpus[i].level);
			snprintf(t->tune, sizeof t->tune, "%s", spec);
		}
	if (rc < 0)
		return oom(t, err, errlen);
	if (rc > 0) {
		snprintf(err, errlen, "--cpu '%s': unknown CPU; choose one of %s", spec,
		         cg_target_choices());
		cg_target_free(t);
		return -1;
	}
	return 0;
}

LLVMTargetMachineRef cg_target_machine(const cg_target *t, char *err, size_t errlen)
{
	if (cg_llvm_init(err, errlen))
		return NULL;
	char *triple = LLVMGetDefaultTargetTriple(), *msg = NULL;
	LLVMTargetRef target;
	if (LLVMGetTargetFromTriple(triple, &target, &msg)) {
		snprintf(err, errlen, "LLVM: no target for %s: %s", triple, msg ? msg : "");
		LLVMDisposeMessage(msg);
		LLVMDisposeMessage(triple);
		return NULL;
	}
	LLVMTargetMachineRef tm = LLVMCreateTargetMachine(target, triple, t->cpu, t->features,
	                                                  LLVMCodeGenLevelAggressive, LLVMRelocPIC,
	                                                  LLVMCodeModelJITDefault);
	LLVMDisposeMessage(triple);
	if (!tm)
		snprintf(err, errlen, "LLVM: cannot create a target machine for CPU %s", t->cpu);
	return tm;
}
