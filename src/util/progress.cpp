// util/progress.cpp - see progress.h.
#include "util/progress.h"

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>

namespace bertlite::util {

bool progress_enabled() {
  if (const char* force = std::getenv("BERTLITE_PROGRESS")) {
    if (std::strcmp(force, "1") == 0) return true;
    if (std::strcmp(force, "0") == 0) return false;
  }
  return isatty(STDERR_FILENO) != 0;
}

std::string format_count(std::int64_t n) {
  std::string digits = std::to_string(n < 0 ? -n : n);
  std::string out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return n < 0 ? "-" + out : out;
}

std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  const auto total = static_cast<std::int64_t>(std::llround(seconds));
  const std::int64_t h = total / 3600, m = (total / 60) % 60, s = total % 60;
  char buffer[32];
  if (h > 0) {
    std::snprintf(buffer, sizeof buffer, "%lld:%02lld:%02lld", static_cast<long long>(h),
                  static_cast<long long>(m), static_cast<long long>(s));
  } else {
    std::snprintf(buffer, sizeof buffer, "%lld:%02lld", static_cast<long long>(m),
                  static_cast<long long>(s));
  }
  return buffer;
}

ProgressBar::ProgressBar(std::string label, std::int64_t total, std::string unit, bool enabled)
    : label_(std::move(label)),
      unit_(std::move(unit)),
      total_(total),
      enabled_(enabled),
      start_(std::chrono::steady_clock::now()),
      last_draw_(start_) {}

ProgressBar::~ProgressBar() {
  finish();
}

double ProgressBar::elapsed_seconds() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

void ProgressBar::advance(std::int64_t n) {
  std::lock_guard lock(mutex_);
  done_ += n;
  draw(false);
}

void ProgressBar::set_note(std::string note) {
  std::lock_guard lock(mutex_);
  note_ = std::move(note);
}

void ProgressBar::finish() {
  std::lock_guard lock(mutex_);
  if (finished_) return;
  finished_ = true;
  if (!enabled_) return;
  draw(true);
  // Erase the bar: the command's summary line takes its place.
  std::cerr << "\r\033[K" << std::flush;
}

std::string ProgressBar::render(const std::string& label, std::int64_t done, std::int64_t total,
                                const std::string& unit, double seconds, int width) {
  std::string line = label + "  ";
  const double rate = seconds > 0 ? static_cast<double>(done) / seconds : 0.0;
  if (total > 0) {
    const double fraction = std::min(1.0, static_cast<double>(done) / static_cast<double>(total));
    const auto filled = static_cast<int>(fraction * width);
    line += '[' + std::string(filled, '#') + std::string(width - filled, '.') + "]  ";
    line += format_count(done) + '/' + format_count(total) + ' ' + unit;
  } else {
    line += format_count(done) + ' ' + unit;
  }
  if (seconds > 0) line += "  " + format_count(std::llround(rate)) + "/s";
  if (total > 0 && done < total && rate > 0) {
    line += "  ETA " + format_duration(static_cast<double>(total - done) / rate);
  }
  return line;
}

void ProgressBar::draw(bool force) {
  if (!enabled_) return;
  const auto now = std::chrono::steady_clock::now();
  // Ten redraws a second are enough for the eye and cost nothing.
  if (!force && now - last_draw_ < std::chrono::milliseconds(100)) return;
  last_draw_ = now;
  const double seconds = std::chrono::duration<double>(now - start_).count();
  std::cerr << '\r' << render(label_, done_, total_, unit_, seconds, 24)
            << (note_.empty() ? "" : "  " + note_) << "\033[K" << std::flush;
}

}  // namespace bertlite::util
