// util/progress.h - a one-line progress bar for long work, drawn on standard error.
//
//   embedding  [##########..........]  3,210/6,920 sentences  1,234/s  ETA 0:03
//
// It draws only when standard error is a terminal (or BERTLITE_PROGRESS=1 forces it, for tests
// and logs), at most ten times a second, and erases itself when done, so piped output and CI
// logs stay clean. Commands print their own one-line summary after it.
#pragma once

#include <chrono>
#include <cstdint>
#include <iosfwd>
#include <mutex>
#include <string>

namespace bertlite::util {

// True when standard error is a terminal, or BERTLITE_PROGRESS is "1" (and not when it is "0").
bool progress_enabled();

class ProgressBar {
 public:
  // `total` items of `unit` ("sentences"); total <= 0 means unknown (no bar, no ETA).
  ProgressBar(std::string label, std::int64_t total, std::string unit,
              bool enabled = progress_enabled());
  ~ProgressBar();
  ProgressBar(const ProgressBar&) = delete;
  ProgressBar& operator=(const ProgressBar&) = delete;

  // Adds `n` finished items. Safe to call from several threads.
  void advance(std::int64_t n);
  // Text drawn after the counts, e.g. "loss 0.312" (a training loop's running figures).
  void set_note(std::string note);
  // Draws the final state and erases the line. Called by the destructor if not before.
  void finish();

  std::int64_t done() const { return done_; }
  // Seconds since construction.
  double elapsed_seconds() const;

  // The line for a state, without drawing it (tested directly).
  static std::string render(const std::string& label, std::int64_t done, std::int64_t total,
                            const std::string& unit, double seconds, int width);

 private:
  void draw(bool force);

  std::string label_;
  std::string unit_;
  std::string note_;
  std::int64_t total_;
  std::int64_t done_ = 0;
  bool enabled_;
  bool finished_ = false;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_draw_;
  std::mutex mutex_;
};

// "6,920": thousands separated by commas.
std::string format_count(std::int64_t n);
// "0:03", "1:02:03": a duration in seconds for humans.
std::string format_duration(double seconds);

}  // namespace bertlite::util
