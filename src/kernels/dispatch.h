// kernels/dispatch.h - the two run-time switches every kernel consults: the reference path and
// the thread count.
//
// Every fast kernel in this folder has a slow, obviously-correct twin in ref/reference.h. The
// reference switch routes every public kernel (and Linear::forward) to that twin, to bisect a
// numerical difference or to run on a machine where the fast path misbehaves. It starts from the
// environment variable BERTLITE_REFERENCE_KERNELS (read once; "1" turns it on) and can be changed
// at any time with set_reference_mode.
//
// Thread counts live in util (util::set_compute_threads, set by the CLI's --threads); this file
// hands that count to OpenMP, which both oneDNN and our own loops run on.
#pragma once

namespace bertlite::kernels {

// True when kernels run their reference twins instead of the fast versions.
bool reference_mode();

// Forces (true) or releases (false) the reference path for every kernel, process-wide.
void set_reference_mode(bool on);

// Applies util::compute_threads() to OpenMP on the calling thread (OpenMP's thread count is a
// per-thread setting) and returns it. Every parallel kernel calls this first, so a change made
// with util::set_compute_threads takes effect on the next kernel call from any thread.
int sync_compute_threads();

}  // namespace bertlite::kernels
