// learn/lbfgs.h - L-BFGS minimization of a smooth function, stopping as scikit-learn's "lbfgs"
// solver does.
//
// scikit-learn fits LogisticRegression with scipy's L-BFGS-B (history 10, up to 50 function
// evaluations per line search, gtol = tol, ftol = 64 * machine epsilon). On a problem without
// bounds L-BFGS-B is plain L-BFGS: the direction is the compact-form quasi-Newton step, which
// equals the two-loop recursion used here with H0 = (s'y / y'y) I; the step comes from the
// More-Thuente line search (MINPACK-2 dcsrch: ftol 1e-3, gtol 0.9, xtol 0.1); the first
// iteration tries the step 1 / ||g||. The stopping rules and the iteration count follow
// scipy's driver exactly:
//   - before the first iteration, and after each one: max |g_i| <= gradient_tolerance;
//   - after each iteration: (f_old - f) / max(|f_old|, |f|, 1) <= relative_reduction_tolerance;
//   - an iteration is counted when its line search ends; reaching max_iterations stops before
//     either test above is made (so scikit-learn then warns even if that last step converged);
//   - a failed line search restarts from steepest descent with the memory cleared, or stops
//     when the memory was already empty.
// Iterates are not bit-identical to scipy's (its compact form rounds differently), so counts
// can differ by an iteration or so; the minimizer they converge to is the same.
#pragma once

#include <cfloat>
#include <functional>
#include <span>

namespace bertlite::learn {

struct LbfgsOptions {
  int max_iterations = 100;
  double gradient_tolerance = 1e-4;                        // scipy's gtol (pgtol)
  double relative_reduction_tolerance = 64 * DBL_EPSILON;  // scipy's ftol = factr * eps
  int memory = 10;                                         // correction pairs kept (maxcor)
  int max_line_search = 50;                                // evaluations per line search (maxls)
};

enum class LbfgsStop {
  kGradient,           // max |g_i| <= gradient_tolerance: converged
  kRelativeReduction,  // f stopped decreasing: converged (scipy reports success)
  kMaxIterations,      // not converged
  kLineSearchFailed,   // no decrease along steepest descent: not converged
};

const char* lbfgs_stop_name(LbfgsStop stop);

struct LbfgsResult {
  double value = 0;             // f at the returned x
  double max_abs_gradient = 0;  // max |g_i| at the returned x
  int iterations = 0;           // as scipy's nit (and scikit-learn's n_iter_)
  int evaluations = 0;          // calls of the objective
  LbfgsStop stop = LbfgsStop::kMaxIterations;

  bool converged() const {
    return stop == LbfgsStop::kGradient || stop == LbfgsStop::kRelativeReduction;
  }
};

// Returns f(x) and writes its gradient to `gradient` (same size as x).
using LbfgsObjective = std::function<double(std::span<const double> x, std::span<double> gradient)>;

// Minimizes `objective` starting from `x`, which is overwritten with the result. Throws
// InvalidArgument for bad options or if the objective returns a non-finite value at the start.
LbfgsResult lbfgs_minimize(const LbfgsObjective& objective, std::span<double> x,
                           const LbfgsOptions& options = {});

}  // namespace bertlite::learn
