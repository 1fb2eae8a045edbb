// learn/lbfgs.cpp - L-BFGS with the More-Thuente line search; see lbfgs.h for what it mirrors.
#include "learn/lbfgs.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "bertlite/error.h"

namespace bertlite::learn {
namespace {

double dot(std::span<const double> a, std::span<const double> b) {
  double sum = 0;
  for (std::size_t i = 0; i < a.size(); ++i) sum += a[i] * b[i];
  return sum;
}

double max_abs(std::span<const double> v) {
  double m = 0;
  for (double x : v) m = std::max(m, std::abs(x));
  return m;
}

// One safeguarded step of the More-Thuente search (MINPACK-2 dcstep): from the interval end
// points (stx, fx, dx) and (sty, fy, dy) and the trial (stp, fp, dp), picks the next trial
// step and updates the interval that contains a point satisfying the strong Wolfe conditions.
void safeguarded_step(double& stx, double& fx, double& dx, double& sty, double& fy, double& dy,
                      double& stp, double fp, double dp, bool& bracketed, double stpmin,
                      double stpmax) {
  const double sgnd = dp * (dx / std::abs(dx));
  double stpf;
  if (fp > fx) {
    // Higher function value: the minimum is bracketed. Cubic step if closer to stx, else the
    // average of the cubic and quadratic steps.
    const double theta = 3.0 * (fx - fp) / (stp - stx) + dx + dp;
    const double s = std::max({std::abs(theta), std::abs(dx), std::abs(dp)});
    double gamma = s * std::sqrt((theta / s) * (theta / s) - (dx / s) * (dp / s));
    if (stp < stx) gamma = -gamma;
    const double p = (gamma - dx) + theta;
    const double q = ((gamma - dx) + gamma) + dp;
    const double r = p / q;
    const double stpc = stx + r * (stp - stx);
    const double stpq = stx + ((dx / ((fx - fp) / (stp - stx) + dx)) / 2.0) * (stp - stx);
    stpf = std::abs(stpc - stx) < std::abs(stpq - stx) ? stpc : stpc + (stpq - stpc) / 2.0;
    bracketed = true;
  } else if (sgnd < 0.0) {
    // Derivatives of opposite sign: bracketed; the step farther from stp (cubic or secant).
    const double theta = 3.0 * (fx - fp) / (stp - stx) + dx + dp;
    const double s = std::max({std::abs(theta), std::abs(dx), std::abs(dp)});
    double gamma = s * std::sqrt((theta / s) * (theta / s) - (dx / s) * (dp / s));
    if (stp > stx) gamma = -gamma;
    const double p = (gamma - dp) + theta;
    const double q = ((gamma - dp) + gamma) + dx;
    const double r = p / q;
    const double stpc = stp + r * (stx - stp);
    const double stpq = stp + (dp / (dp - dx)) * (stx - stp);
    stpf = std::abs(stpc - stp) > std::abs(stpq - stp) ? stpc : stpq;
    bracketed = true;
  } else if (std::abs(dp) < std::abs(dx)) {
    // Same sign, derivative magnitude decreases: the cubic step only if it goes the right way.
    const double theta = 3.0 * (fx - fp) / (stp - stx) + dx + dp;
    const double s = std::max({std::abs(theta), std::abs(dx), std::abs(dp)});
    double gamma = s * std::sqrt(std::max(0.0, (theta / s) * (theta / s) - (dx / s) * (dp / s)));
    if (stp > stx) gamma = -gamma;
    const double p = (gamma - dp) + theta;
    const double q = (gamma + (dx - dp)) + gamma;
    const double r = p / q;
    double stpc;
    if (r < 0.0 && gamma != 0.0) {
      stpc = stp + r * (stx - stp);
    } else if (stp > stx) {
      stpc = stpmax;
    } else {
      stpc = stpmin;
    }
    const double stpq = stp + (dp / (dp - dx)) * (stx - stp);
    if (bracketed) {
      stpf = std::abs(stpc - stp) < std::abs(stpq - stp) ? stpc : stpq;
      if (stp > stx) {
        stpf = std::min(stp + 0.66 * (sty - stp), stpf);
      } else {
        stpf = std::max(stp + 0.66 * (sty - stp), stpf);
      }
    } else {
      stpf = std::abs(stpc - stp) > std::abs(stpq - stp) ? stpc : stpq;
      stpf = std::min(stpmax, stpf);
      stpf = std::max(stpmin, stpf);
    }
  } else {
    // Same sign, derivative magnitude does not decrease.
    if (bracketed) {
      const double theta = 3.0 * (fp - fy) / (sty - stp) + dy + dp;
      const double s = std::max({std::abs(theta), std::abs(dy), std::abs(dp)});
      double gamma = s * std::sqrt((theta / s) * (theta / s) - (dy / s) * (dp / s));
      if (stp > sty) gamma = -gamma;
      const double p = (gamma - dp) + theta;
      const double q = ((gamma - dp) + gamma) + dy;
      const double r = p / q;
      stpf = stp + r * (sty - stp);
    } else if (stp > stx) {
      stpf = stpmax;
    } else {
      stpf = stpmin;
    }
  }
  if (fp > fx) {
    sty = stp;
    fy = fp;
    dy = dp;
  } else {
    if (sgnd < 0.0) {
      sty = stx;
      fy = fx;
      dy = dx;
    }
    stx = stp;
    fx = fp;
    dx = dp;
  }
  stp = stpf;
}

// The More-Thuente line search (MINPACK-2 dcsrch) as a state machine: start() with f(0) and
// f'(0) < 0, then next() with f and f' at each trial step until it stops asking.
class MoreThuenteSearch {
 public:
  enum class Status { kEvaluate, kConverged, kWarning };

  // The constants L-BFGS-B's lnsrlb uses: sufficient decrease 1e-3, curvature 0.9, relative
  // interval width 0.1.
  static constexpr double kFtol = 1e-3, kGtol = 0.9, kXtol = 0.1;

  MoreThuenteSearch(double f0, double g0, double stp, double stpmin, double stpmax)
      : stpmin_(stpmin), stpmax_(stpmax), finit_(f0), ginit_(g0), gtest_(kFtol * g0) {
    width_ = stpmax - stpmin;
    width1_ = width_ / 0.5;
    stx_ = 0;
    fx_ = f0;
    gx_ = g0;
    sty_ = 0;
    fy_ = f0;
    gy_ = g0;
    stmin_ = 0;
    stmax_ = stp + 4.0 * stp;
  }

  Status next(double& stp, double f, double g) {
    const double ftest = finit_ + stp * gtest_;
    if (stage_ == 1 && f <= ftest && g >= 0.0) stage_ = 2;

    // Rounding, interval and bound warnings end the search with the current step.
    if (bracketed_ && (stp <= stmin_ || stp >= stmax_)) return Status::kWarning;
    if (bracketed_ && stmax_ - stmin_ <= kXtol * stmax_) return Status::kWarning;
    if (stp == stpmax_ && f <= ftest && g <= gtest_) return Status::kWarning;
    if (stp == stpmin_ && (f > ftest || g >= gtest_)) return Status::kWarning;
    // Strong Wolfe conditions.
    if (f <= ftest && std::abs(g) <= kGtol * (-ginit_)) return Status::kConverged;

    if (stage_ == 1 && f <= fx_ && f > ftest) {
      // A lower value that does not yet give sufficient decrease: step on the modified
      // function f(stp) - f(0) - gtest * stp.
      double fm = f - stp * gtest_;
      double fxm = fx_ - stx_ * gtest_;
      double fym = fy_ - sty_ * gtest_;
      double gm = g - gtest_;
      double gxm = gx_ - gtest_;
      double gym = gy_ - gtest_;
      safeguarded_step(stx_, fxm, gxm, sty_, fym, gym, stp, fm, gm, bracketed_, stmin_, stmax_);
      fx_ = fxm + stx_ * gtest_;
      fy_ = fym + sty_ * gtest_;
      gx_ = gxm + gtest_;
      gy_ = gym + gtest_;
    } else {
      safeguarded_step(stx_, fx_, gx_, sty_, fy_, gy_, stp, f, g, bracketed_, stmin_, stmax_);
    }

    // Force a sufficient decrease in the interval's size.
    if (bracketed_) {
      if (std::abs(sty_ - stx_) >= 0.66 * width1_) stp = stx_ + 0.5 * (sty_ - stx_);
      width1_ = width_;
      width_ = std::abs(sty_ - stx_);
    }
    if (bracketed_) {
      stmin_ = std::min(stx_, sty_);
      stmax_ = std::max(stx_, sty_);
    } else {
      stmin_ = stp + 1.1 * (stp - stx_);
      stmax_ = stp + 4.0 * (stp - stx_);
    }
    stp = std::clamp(stp, stpmin_, stpmax_);
    // With no further progress possible, fall back to the best step so far.
    if ((bracketed_ && (stp <= stmin_ || stp >= stmax_)) ||
        (bracketed_ && stmax_ - stmin_ <= kXtol * stmax_)) {
      stp = stx_;
    }
    return Status::kEvaluate;
  }

  // For a non-finite f at a trial step: halve the step towards the best point so far.
  void shrink(double& stp) const { stp = stx_ + 0.5 * (stp - stx_); }

 private:
  double stpmin_, stpmax_;
  double finit_, ginit_, gtest_;
  double width_, width1_;
  double stx_, fx_, gx_, sty_, fy_, gy_;
  double stmin_, stmax_;
  bool bracketed_ = false;
  int stage_ = 1;
};

// The last `memory` correction pairs s = x_new - x_old, y = g_new - g_old, oldest first.
class CorrectionHistory {
 public:
  CorrectionHistory(std::size_t n, int memory) : n_(n), memory_(memory) {}

  bool empty() const { return count_ == 0; }
  void clear() {
    count_ = 0;
    start_ = 0;
  }

  void push(std::span<const double> s, std::span<const double> y, double sy, double yy) {
    if (s_.size() < static_cast<std::size_t>(memory_)) {
      s_.emplace_back(n_);
      y_.emplace_back(n_);
      rho_.push_back(0);
    }
    const std::size_t slot = (start_ + count_) % memory_;
    std::copy(s.begin(), s.end(), s_[slot].begin());
    std::copy(y.begin(), y.end(), y_[slot].begin());
    rho_[slot] = 1.0 / sy;
    if (count_ < memory_) {
      ++count_;
    } else {
      start_ = (start_ + 1) % memory_;
    }
    gamma_ = sy / yy;  // H0 = gamma I: scipy's 1 / theta, theta = y'y / s'y
  }

  // direction = -H g by the two-loop recursion.
  void direction(std::span<const double> g, std::span<double> direction,
                 std::vector<double>& alpha) const {
    std::copy(g.begin(), g.end(), direction.begin());
    alpha.assign(count_, 0.0);
    for (int k = count_ - 1; k >= 0; --k) {
      const std::size_t slot = (start_ + k) % memory_;
      alpha[k] = rho_[slot] * dot(s_[slot], direction);
      const double a = alpha[k];
      const std::vector<double>& yk = y_[slot];
      for (std::size_t i = 0; i < n_; ++i) direction[i] -= a * yk[i];
    }
    for (double& v : direction) v *= gamma_;
    for (int k = 0; k < count_; ++k) {
      const std::size_t slot = (start_ + k) % memory_;
      const double beta = rho_[slot] * dot(y_[slot], direction);
      const double c = alpha[k] - beta;
      const std::vector<double>& sk = s_[slot];
      for (std::size_t i = 0; i < n_; ++i) direction[i] += c * sk[i];
    }
    for (double& v : direction) v = -v;
  }

 private:
  std::size_t n_;
  int memory_;
  int count_ = 0;
  int start_ = 0;
  double gamma_ = 1;
  std::vector<std::vector<double>> s_, y_;
  std::vector<double> rho_;
};

}  // namespace

const char* lbfgs_stop_name(LbfgsStop stop) {
  switch (stop) {
    case LbfgsStop::kGradient:
      return "gradient below tolerance";
    case LbfgsStop::kRelativeReduction:
      return "relative reduction of the objective below tolerance";
    case LbfgsStop::kMaxIterations:
      return "iteration limit reached";
    case LbfgsStop::kLineSearchFailed:
      return "line search failed";
  }
  return "?";
}

LbfgsResult lbfgs_minimize(const LbfgsObjective& objective, std::span<double> x,
                           const LbfgsOptions& options) {
  if (options.max_iterations < 0) throw InvalidArgument("L-BFGS: max_iterations must be >= 0");
  if (options.memory < 1) throw InvalidArgument("L-BFGS: memory must be >= 1");
  if (options.max_line_search < 1) throw InvalidArgument("L-BFGS: max_line_search must be >= 1");
  if (!(options.gradient_tolerance >= 0)) {
    throw InvalidArgument("L-BFGS: gradient tolerance must be >= 0");
  }
  const std::size_t n = x.size();
  std::vector<double> g(n), x_old(n), g_old(n), d(n), y(n), alpha;
  LbfgsResult result;

  double f = objective(x, g);
  result.evaluations = 1;
  if (!std::isfinite(f)) {
    throw InvalidArgument("L-BFGS: the objective is " + std::to_string(f) + " at the start");
  }
  result.value = f;
  result.max_abs_gradient = max_abs(g);
  if (result.max_abs_gradient <= options.gradient_tolerance) {
    result.stop = LbfgsStop::kGradient;
    return result;
  }
  if (options.max_iterations == 0) {
    result.stop = LbfgsStop::kMaxIterations;
    return result;
  }

  CorrectionHistory history(n, options.memory);
  // L-BFGS-B's unbounded step cap.
  constexpr double kMaxStep = 1e10;
  for (;;) {
    if (history.empty()) {
      for (std::size_t i = 0; i < n; ++i) d[i] = -g[i];
    } else {
      history.direction(g, d, alpha);
    }
    // The first iteration scales steepest descent to a unit step; later ones try the full
    // quasi-Newton step (also after a restart, as L-BFGS-B does).
    const double dnorm = std::sqrt(dot(d, d));
    double stp = result.iterations == 0 ? std::min(1.0 / dnorm, kMaxStep) : 1.0;

    std::copy(x.begin(), x.end(), x_old.begin());
    std::copy(g.begin(), g.end(), g_old.begin());
    const double f_old = f;
    const double gd_old = dot(g, d);
    bool search_ok = gd_old < 0.0;  // otherwise not a descent direction
    double gd = gd_old;
    if (search_ok) {
      MoreThuenteSearch search(f, gd_old, stp, 0.0, kMaxStep);
      for (int trial = 0;; ++trial) {
        if (trial >= options.max_line_search) {
          search_ok = false;
          break;
        }
        for (std::size_t i = 0; i < n; ++i) x[i] = stp * d[i] + x_old[i];
        f = objective(x, g);
        ++result.evaluations;
        if (!std::isfinite(f)) {
          search.shrink(stp);
          continue;
        }
        gd = dot(g, d);
        if (search.next(stp, f, gd) != MoreThuenteSearch::Status::kEvaluate) break;
      }
    }
    if (!search_ok) {
      std::copy(x_old.begin(), x_old.end(), x.begin());
      std::copy(g_old.begin(), g_old.end(), g.begin());
      f = f_old;
      if (history.empty()) {
        result.stop = LbfgsStop::kLineSearchFailed;
        break;
      }
      history.clear();  // restart from steepest descent
      continue;
    }

    ++result.iterations;
    result.value = f;
    result.max_abs_gradient = max_abs(g);
    if (result.iterations >= options.max_iterations) {
      result.stop = LbfgsStop::kMaxIterations;
      break;
    }
    if (result.max_abs_gradient <= options.gradient_tolerance) {
      result.stop = LbfgsStop::kGradient;
      break;
    }
    if (f_old - f <=
        options.relative_reduction_tolerance * std::max({std::abs(f_old), std::abs(f), 1.0})) {
      result.stop = LbfgsStop::kRelativeReduction;
      break;
    }

    // s = stp d, y = g - g_old; skip pairs with too little curvature (s'y <= eps * -g_old's).
    for (std::size_t i = 0; i < n; ++i) y[i] = g[i] - g_old[i];
    const double yy = dot(y, y);
    double sy, threshold;
    if (stp == 1.0) {
      sy = gd - gd_old;
      threshold = -gd_old;
    } else {
      sy = (gd - gd_old) * stp;
      for (double& v : d) v *= stp;
      threshold = -gd_old * stp;
    }
    if (sy > DBL_EPSILON * threshold) history.push(d, y, sy, yy);
  }
  result.value = f;
  result.max_abs_gradient = max_abs(g);
  return result;
}

}  // namespace bertlite::learn
