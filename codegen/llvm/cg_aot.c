/*
 * cg_aot.c - the object file of a standalone trainer (see cg_aot.h): every
 * step's kernels as its llvm pass rendered and optimized them (the module
 * the JIT compiles), renamed per step, linked into one module and written
 * as a PIC object.
 */
#include <stdlib.h>
#include <string.h>

#include <llvm-c/Linker.h>

#include "cg_aot.h"
#include "cg_jit.h"
#include "cg_llvm.h"
#include "cg_step.h"

void cg_aot_symbol(char *buf, size_t n, int step, const char *kernel)
{
	snprintf(buf, n, "samc_%s_%s", cg_aot_step_name(step), kernel);
}

/* Exported kernel wrappers get the step's prefix; the internal bodies
 * they call are renamed by the linker if two steps' names meet. */
static int rename_kernels(LLVMModuleRef m, const cg_program *prog, int step, char *err,
                          size_t errlen)
{
	for (int i = 0; i < prog->nk; i++) {
		const cg_kernel *k = &prog->k[i];
		if (rt_kkind_is_call(k->kind))
			continue;
		LLVMValueRef f = LLVMGetNamedFunction(m, k->name);
		if (!f) {
			snprintf(err, errlen, "samc build: kernel %s missing from the rendered module", k->name);
			return -1;
		}
		char sym[128];
		cg_aot_symbol(sym, sizeof sym, step, k->name);
		LLVMSetValueName2(f, sym, strlen(sym));
	}
	return 0;
}

int cg_aot_emit_object(const cg_aot_unit *u, const char *path, int *nkernels,
                       char *err, size_t errlen)
{
	LLVMTargetMachineRef tm = u->target ? cg_target_machine(u->target, err, errlen)
	                                    : cg_llvm_host_tm(err, errlen);
	if (!tm)
		return -1;
	LLVMContextRef ctx = LLVMContextCreate();
	LLVMModuleRef all = NULL;
	int rc = 0, nk = 0;
	for (int s = 0; s < CG_AOT_NSTEPS && rc == 0; s++) {
		if (!u->step[s])
			continue;
		const cg_program *prog = u->step[s]->prog;
		if (!u->step[s]->llvm) {
			snprintf(err, errlen, "samc build: the %s step was compiled without its llvm pass",
			         cg_aot_step_name(s));
			rc = -1;
			break;
		}
		/* the llvm pass's module, rendered and optimized as the JIT's */
		LLVMModuleRef m = cg_llvm_mod_copy(u->step[s]->llvm, ctx, err, errlen);
		if (!m || rename_kernels(m, prog, s, err, errlen)) {
			if (m)
				LLVMDisposeModule(m);
			rc = -1;
			break;
		}
		for (int i = 0; i < prog->nk; i++)
			nk += !rt_kkind_is_call(prog->k[i].kind);
		if (!all) {
			all = m;
		} else if (LLVMLinkModules2(all, m)) { /* m is consumed either way */
			snprintf(err, errlen, "samc build: LLVM could not link the %s step's kernels",
			         cg_aot_step_name(s));
			rc = -1;
		}
	}
	if (rc == 0 && !all) {
		snprintf(err, errlen, "samc build: the model has no steps to compile");
		rc = -1;
	}
	if (rc == 0) {
		char *msg = NULL, *file = strdup(path);
		if (!file) {
			snprintf(err, errlen, "samc build: out of memory");
			rc = -1;
		} else if (LLVMTargetMachineEmitToFile(tm, all, file, LLVMObjectFile, &msg)) {
			snprintf(err, errlen, "samc build: cannot write the object file %s: %s", path,
			         msg ? msg : "LLVM gave no reason");
			rc = -1;
		}
		LLVMDisposeMessage(msg);
		free(file);
	}
	if (all)
		LLVMDisposeModule(all);
	LLVMContextDispose(ctx);
	LLVMDisposeTargetMachine(tm);
	if (nkernels)
		*nkernels = nk;
	return rc;
}
