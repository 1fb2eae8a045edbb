// kernels/kernel_clones.h - one macro that compiles a hot loop once per x86-64 level and picks
// the copy at load time.
//
// The build targets plain x86-64 (no -march=native) so the binary runs anywhere; marking a
// function KERNEL_CLONES makes GCC and Clang also emit an AVX2 (x86-64-v3) and an AVX-512
// (x86-64-v4) copy of it and choose among them through an ifunc, once, from the CPU it runs on.
// Put it on functions that hold the loops, not on tiny inline helpers (a clone cannot be
// inlined), and not on functions containing "omp parallel" (the outlined region would not be
// cloned). The clones may round differently from each other (wider partial sums; fused
// multiply-add where the ISA has it), by a few float ulps: results are reproducible on one
// machine, not bit-identical across machines.
#pragma once

#if (defined(__x86_64__) || defined(_M_X64)) && (defined(__GNUC__) || defined(__clang__)) && \
    !defined(BERTLITE_NO_CLONES)
#define KERNEL_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define KERNEL_CLONES
#endif
