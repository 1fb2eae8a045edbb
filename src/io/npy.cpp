#include "io/npy.h"

#include <bit>
#include <cstring>
#include <ostream>
#include <string>

#include "bertlite/error.h"
#include "util/file.h"

namespace bertlite::io {

static_assert(std::endian::native == std::endian::little, "bertlite writes little-endian .npy");

void write_npy(const std::filesystem::path& path, std::span<const float> data, std::int64_t rows,
               std::int64_t cols) {
  if (rows < 0 || cols < 0 || static_cast<std::size_t>(rows * cols) != data.size()) {
    throw InvalidArgument(path.string() + ": " + std::to_string(data.size()) +
                          " values do not form a [" + std::to_string(rows) + ", " +
                          std::to_string(cols) + "] matrix");
  }
  // Format 1.0: magic, version, header length (uint16), then a Python dict literal padded with
  // spaces and ending in '\n' so that the data starts on a 64-byte boundary.
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (" +
                       std::to_string(rows) + ", " + std::to_string(cols) + "), }";
  const std::size_t unpadded = 10 + header.size() + 1;
  header.append((64 - unpadded % 64) % 64, ' ');
  header.push_back('\n');
  util::write_file_atomic(path, [&](std::ostream& out) {
    out.write("\x93NUMPY\x01\x00", 8);
    const auto length = static_cast<std::uint16_t>(header.size());
    out.put(static_cast<char>(length & 0xFF));
    out.put(static_cast<char>(length >> 8));
    out.write(header.data(), static_cast<std::streamsize>(header.size()));
    out.write(reinterpret_cast<const char*>(data.data()),
              static_cast<std::streamsize>(data.size() * sizeof(float)));
  });
}

NpyMatrix read_npy(const std::filesystem::path& path) {
  const std::string bytes = util::read_file(path);
  const std::string name = path.string();
  if (bytes.size() < 10 || bytes.compare(0, 6, "\x93NUMPY") != 0) {
    throw ParseError(name + ": not a .npy file");
  }
  const int major = static_cast<unsigned char>(bytes[6]);
  std::size_t header_length, offset;
  if (major == 1) {
    header_length =
        static_cast<unsigned char>(bytes[8]) | (static_cast<unsigned char>(bytes[9]) << 8);
    offset = 10;
  } else if (major == 2 || major == 3) {
    if (bytes.size() < 12) throw ParseError(name + ": truncated header");
    std::uint32_t length;
    std::memcpy(&length, bytes.data() + 8, 4);
    header_length = length;
    offset = 12;
  } else {
    throw ParseError(name + ": unsupported .npy version " + std::to_string(major));
  }
  if (header_length > bytes.size() - offset) throw ParseError(name + ": truncated header");
  const std::string header = bytes.substr(offset, header_length);
  const std::size_t data_start = offset + header_length;
  bool f8 = false;
  if (header.find("'descr': '<f4'") != std::string::npos) {
    f8 = false;
  } else if (header.find("'descr': '<f8'") != std::string::npos) {
    f8 = true;
  } else {
    throw ParseError(name + ": only little-endian float32/float64 arrays are supported");
  }
  if (header.find("'fortran_order': False") == std::string::npos) {
    throw ParseError(name + ": Fortran-ordered arrays are not supported");
  }
  const std::size_t open = header.find("'shape': (");
  const std::size_t close = open == std::string::npos ? open : header.find(')', open);
  if (close == std::string::npos) throw ParseError(name + ": header has no shape");
  std::vector<std::int64_t> dims;
  std::string inside = header.substr(open + 10, close - open - 10);
  std::size_t pos = 0;
  while (pos < inside.size()) {
    while (pos < inside.size() && (inside[pos] == ' ' || inside[pos] == ',')) ++pos;
    if (pos >= inside.size()) break;
    std::size_t used = 0;
    long long value;
    try {
      value = std::stoll(inside.substr(pos), &used);
    } catch (const std::exception&) {
      throw ParseError(name + ": bad shape '" + inside + "'");
    }
    if (value < 0 || value > (1LL << 40)) throw ParseError(name + ": bad shape '" + inside + "'");
    dims.push_back(value);
    pos += used;
  }
  NpyMatrix m;
  if (dims.size() == 1) {
    m.rows = dims[0];
    m.cols = 1;
  } else if (dims.size() == 2) {
    m.rows = dims[0];
    m.cols = dims[1];
  } else {
    throw ParseError(name + ": expected a 1-D or 2-D array, found " + std::to_string(dims.size()) +
                     "-D");
  }
  const std::size_t element = f8 ? 8 : 4;
  // Each dimension is at most 2^40, so their product can wrap; reject any shape the data
  // cannot hold before multiplying (an empty array may have any dimensions).
  if (m.rows != 0 && m.cols != 0 &&
      static_cast<std::size_t>(m.cols) >
          (bytes.size() - data_start) / element / static_cast<std::size_t>(m.rows)) {
    throw ParseError(name + ": shape '" + inside + "' needs more than the " +
                     std::to_string(bytes.size() - data_start) + " bytes of data");
  }
  const std::size_t count = static_cast<std::size_t>(m.rows) * static_cast<std::size_t>(m.cols);
  if (count > (bytes.size() - data_start) / element ||
      bytes.size() - data_start != count * element) {
    throw ParseError(name + ": data holds " + std::to_string(bytes.size() - data_start) +
                     " bytes, shape needs " + std::to_string(count * element));
  }
  m.data.resize(count);
  if (f8) {
    for (std::size_t i = 0; i < count; ++i) {
      double v;
      std::memcpy(&v, bytes.data() + data_start + i * 8, 8);
      m.data[i] = static_cast<float>(v);
    }
  } else if (count > 0) {  // an empty vector's data() may be null, which memcpy must not get
    std::memcpy(m.data.data(), bytes.data() + data_start, count * 4);
  }
  return m;
}

}  // namespace bertlite::io
