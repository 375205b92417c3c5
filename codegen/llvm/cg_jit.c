/*
 * cg_jit.c - in-memory compilation of a program's kernels with ORC LLJIT.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <llvm-c/BitReader.h>
#include <llvm-c/BitWriter.h>
#include <llvm-c/Error.h>
#include <llvm-c/LLJIT.h>
#include <llvm-c/Orc.h>

#include "cg_jit.h"

struct cg_jit {
	LLVMOrcLLJITRef jit;
};

static int llvm_fail(LLVMErrorRef e, const char *what, char *err, size_t errlen)
{
	char *msg = LLVMGetErrorMessage(e);
	snprintf(err, errlen, "LLVM JIT: %s: %s", what, msg);
	LLVMDisposeErrorMessage(msg);
	return -1;
}

void cg_jit_free(cg_jit *j)
{
	if (!j)
		return;
	if (j->jit) {
		LLVMErrorRef e = LLVMOrcDisposeLLJIT(j->jit);
		if (e)
			LLVMConsumeError(e);
	}
	free(j);
}

struct cg_llvm_mod {
	LLVMOrcThreadSafeContextRef tsc;
	LLVMTargetMachineRef tm;
	LLVMModuleRef m;
};

void cg_llvm_mod_free(cg_llvm_mod *m)
{
	if (!m)
		return;
	if (m->m)
		LLVMDisposeModule(m->m);
	if (m->tm)
		LLVMDisposeTargetMachine(m->tm);
	if (m->tsc)
		LLVMOrcDisposeThreadSafeContext(m->tsc);
	free(m);
}

cg_llvm_mod *cg_llvm_mod_new(const cg_program *prog, int opt_level, const cg_target *t,
                             char *err, size_t errlen)
{
	cg_llvm_mod *m = calloc(1, sizeof *m);
	if (!m) {
		snprintf(err, errlen, "LLVM: out of memory");
		return NULL;
	}
	if (!(m->tm = t ? cg_target_machine(t, err, errlen) : cg_llvm_host_tm(err, errlen))) {
		free(m);
		return NULL;
	}
	m->tsc = LLVMOrcCreateNewThreadSafeContext();
	LLVMContextRef ctx = LLVMOrcThreadSafeContextGetContext(m->tsc);
	if (!(m->m = cg_llvm_render(prog, ctx, m->tm, t ? t->tune : NULL, err, errlen)) ||
	    cg_llvm_optimize(m->m, m->tm, opt_level, err, errlen)) {
		cg_llvm_mod_free(m);
		return NULL;
	}
	return m;
}

void cg_llvm_mod_print(FILE *out, const cg_llvm_mod *m)
{
	char *s = LLVMPrintModuleToString(m->m);
	fputs(s, out);
	LLVMDisposeMessage(s);
}

LLVMModuleRef cg_llvm_mod_copy(const cg_llvm_mod *m, LLVMContextRef ctx, char *err,
                               size_t errlen)
{
	LLVMMemoryBufferRef buf = LLVMWriteBitcodeToMemoryBuffer(m->m);
	LLVMModuleRef copy = NULL;
	if (!buf || LLVMParseBitcodeInContext2(ctx, buf, &copy)) {
		snprintf(err, errlen, "LLVM: cannot copy the kernels' module");
		copy = NULL;
	}
	if (buf)
		LLVMDisposeMemoryBuffer(buf);
	return copy;
}

cg_jit *cg_jit_new(cg_llvm_mod **mp, char *err, size_t errlen)
{
	cg_llvm_mod *mod = *mp;
	*mp = NULL;
	cg_jit *j = calloc(1, sizeof *j);
	if (!j) {
		snprintf(err, errlen, "LLVM JIT: out of memory");
		cg_llvm_mod_free(mod);
		return NULL;
	}
	/* the JIT generates code with the machine the module was optimized for */
	LLVMOrcLLJITBuilderRef builder = LLVMOrcCreateLLJITBuilder();
	LLVMOrcLLJITBuilderSetJITTargetMachineBuilder(
	    builder, LLVMOrcJITTargetMachineBuilderCreateFromTargetMachine(mod->tm));
	mod->tm = NULL;
	LLVMErrorRef e = LLVMOrcCreateLLJIT(&j->jit, builder);
	if (e) {
		llvm_fail(e, "cannot create the JIT", err, errlen);
		goto fail;
	}
	LLVMOrcDefinitionGeneratorRef gen;
	e = LLVMOrcCreateDynamicLibrarySearchGeneratorForProcess(&gen, LLVMOrcLLJITGetGlobalPrefix(j->jit),
	                                                         NULL, NULL);
	if (e) {
		llvm_fail(e, "cannot search the process for symbols", err, errlen);
		goto fail;
	}
	LLVMOrcJITDylibRef jd = LLVMOrcLLJITGetMainJITDylib(j->jit);
	LLVMOrcJITDylibAddGenerator(jd, gen);
	LLVMOrcThreadSafeModuleRef tsm = LLVMOrcCreateNewThreadSafeModule(mod->m, mod->tsc);
	mod->m = NULL;
	e = LLVMOrcLLJITAddLLVMIRModule(j->jit, jd, tsm);
	if (e) {
		LLVMOrcDisposeThreadSafeModule(tsm);
		llvm_fail(e, "cannot add the module", err, errlen);
		goto fail;
	}
	cg_llvm_mod_free(mod);
	return j;
fail:
	cg_llvm_mod_free(mod);
	cg_jit_free(j);
	return NULL;
}

cg_kernel_fn cg_jit_find(cg_jit *j, const char *name, char *err, size_t errlen)
{
	LLVMOrcExecutorAddress addr = 0;
	LLVMErrorRef e = LLVMOrcLLJITLookup(j->jit, &addr, name);
	if (e) {
		llvm_fail(e, name, err, errlen);
		return NULL;
	}
	cg_kernel_fn fn;
	/* an executor address is the function's address in this process */
	void *p = (void *)(uintptr_t)addr;
	memcpy(&fn, &p, sizeof fn);
	return fn;
}
