/*
 * cg_jit.c - in-memory compilation of a program's kernels with ORC LLJIT.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

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

cg_jit *cg_jit_new(const cg_program *prog, int opt_level, char *err, size_t errlen)
{
	cg_jit *j = calloc(1, sizeof *j);
	if (!j) {
		snprintf(err, errlen, "LLVM JIT: out of memory");
		return NULL;
	}
	LLVMTargetMachineRef tm = cg_llvm_host_tm(err, errlen);
	if (!tm) {
		free(j);
		return NULL;
	}
	LLVMOrcThreadSafeContextRef tsc = LLVMOrcCreateNewThreadSafeContext();
	LLVMContextRef ctx = LLVMOrcThreadSafeContextGetContext(tsc);
	LLVMModuleRef m = cg_llvm_render(prog, ctx, tm, err, errlen);
	if (!m || cg_llvm_optimize(m, tm, opt_level, err, errlen)) {
		if (m)
			LLVMDisposeModule(m);
		goto fail_tm;
	}
	/* the JIT generates code with the same host machine (it takes tm) */
	LLVMOrcLLJITBuilderRef builder = LLVMOrcCreateLLJITBuilder();
	LLVMOrcLLJITBuilderSetJITTargetMachineBuilder(
	    builder, LLVMOrcJITTargetMachineBuilderCreateFromTargetMachine(tm));
	tm = NULL;
	LLVMErrorRef e = LLVMOrcCreateLLJIT(&j->jit, builder);
	if (e) {
		llvm_fail(e, "cannot create the JIT", err, errlen);
		LLVMDisposeModule(m);
		goto fail;
	}
	LLVMOrcDefinitionGeneratorRef gen;
	e = LLVMOrcCreateDynamicLibrarySearchGeneratorForProcess(&gen, LLVMOrcLLJITGetGlobalPrefix(j->jit),
	                                                         NULL, NULL);
	if (e) {
		llvm_fail(e, "cannot search the process for symbols", err, errlen);
		LLVMDisposeModule(m);
		goto fail;
	}
	LLVMOrcJITDylibRef jd = LLVMOrcLLJITGetMainJITDylib(j->jit);
	LLVMOrcJITDylibAddGenerator(jd, gen);
	LLVMOrcThreadSafeModuleRef tsm = LLVMOrcCreateNewThreadSafeModule(m, tsc);
	e = LLVMOrcLLJITAddLLVMIRModule(j->jit, jd, tsm);
	if (e) {
		LLVMOrcDisposeThreadSafeModule(tsm);
		llvm_fail(e, "cannot add the module", err, errlen);
		goto fail;
	}
	LLVMOrcDisposeThreadSafeContext(tsc);
	return j;
fail_tm:
	LLVMDisposeTargetMachine(tm);
fail:
	LLVMOrcDisposeThreadSafeContext(tsc);
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
