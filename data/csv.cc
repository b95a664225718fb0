#include "data/csv.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace frugal::nn {
namespace {

constexpr size_t kInputBuffer = size_t{1} << 16;

std::string Printable(char c) {
  if (c == '\t') return "'\\t'";
  return std::string("'") + c + "'";
}

}  // namespace

CsvReader::CsvReader(const std::string& path, const CsvOptions& options)
    : owned_(std::fopen(path.c_str(), "rb"), &std::fclose),
      name_(path),
      options_(options) {
  if (!owned_) throw DataError(path + ": cannot open: " + std::strerror(errno));
  file_ = owned_.get();
  Init();
}

CsvReader::CsvReader(std::FILE* stream, std::string name,
                     const CsvOptions& options)
    : file_(stream), name_(std::move(name)), options_(options) {
  Init();
}

void CsvReader::Init() {
  if (options_.rest_in_last_column && !options_.header &&
      options_.num_columns == 0) {
    throw std::invalid_argument(
        "CsvOptions: rest_in_last_column needs a header or num_columns");
  }
  in_.resize(kInputBuffer);
  num_columns_ = options_.num_columns;
  if (!options_.header) return;
  do {
    if (!ReadLine()) {
      throw DataError(name_ + ":1: expected a header line (empty file)");
    }
  } while (line_.empty());
  record_line_ = line_no_;
  Malformed error;
  if (!ParseRecord(&error)) Fail(error.column, error.expected);
  for (size_t i = 0; i < fields_.size(); ++i) header_.emplace_back(field(i));
}

CsvReader::~CsvReader() = default;

bool CsvReader::FillBuffer() {
  if (eof_) return false;
  in_pos_ = 0;
  in_end_ = std::fread(in_.data(), 1, in_.size(), file_);
  bytes_read_ += in_end_;
  if (in_end_ == 0) {
    if (std::ferror(file_)) {
      throw DataError(name_ + ":" + std::to_string(line_no_ + 1) +
                      ": read error: " + std::strerror(errno));
    }
    eof_ = true;
    return false;
  }
  return true;
}

bool CsvReader::ReadLine() {
  line_.clear();
  bool any = false;
  for (;;) {
    if (in_pos_ == in_end_ && !FillBuffer()) break;
    any = true;
    const char* begin = in_.data() + in_pos_;
    const char* nl = static_cast<const char*>(
        std::memchr(begin, '\n', in_end_ - in_pos_));
    const size_t n = nl ? size_t(nl - begin) : in_end_ - in_pos_;
    if (line_.size() + n > options_.max_record_bytes) {
      throw DataError(name_ + ":" + std::to_string(line_no_ + 1) +
                      ": expected a record of at most " +
                      std::to_string(options_.max_record_bytes) + " bytes");
    }
    line_.append(begin, n);
    in_pos_ += n;
    if (nl) {
      ++in_pos_;
      break;
    }
  }
  if (!any) return false;
  ++line_no_;
  if (!line_.empty() && line_.back() == '\r') line_.pop_back();
  if (line_no_ == 1 && line_.compare(0, 3, "\xEF\xBB\xBF") == 0) {
    line_.erase(0, 3);
  }
  return true;
}

bool CsvReader::ParseRecord(Malformed* error) {
  buf_.clear();
  fields_.clear();
  const char q = options_.quote, d = options_.delimiter;
  size_t pos = 0;
  for (;;) {
    const size_t col = fields_.size();
    const size_t start = buf_.size();
    if (options_.rest_in_last_column && num_columns_ != 0 &&
        col + 1 == num_columns_) {
      std::string_view rest(line_.data() + pos, line_.size() - pos);
      if (q != '\0' && rest.size() >= 2 && rest.front() == q &&
          rest.back() == q) {
        rest = rest.substr(1, rest.size() - 2);
        for (size_t i = 0; i < rest.size(); ++i) {
          buf_ += rest[i];
          if (rest[i] == q && i + 1 < rest.size() && rest[i + 1] == q) ++i;
        }
      } else {
        buf_.append(rest);
      }
      fields_.emplace_back(start, buf_.size());
      break;
    }
    if (q != '\0' && pos < line_.size() && line_[pos] == q) {
      const size_t open_line = line_no_;
      ++pos;
      for (;;) {
        const size_t close = line_.find(q, pos);
        if (close == std::string::npos) {
          buf_.append(line_, pos, std::string::npos);
          buf_ += '\n';
          if (buf_.size() > options_.max_record_bytes || !ReadLine()) {
            *error = {col, "a closing quote for the field opened on line " +
                               std::to_string(open_line) +
                               " (reached the end of the file)"};
            if (buf_.size() > options_.max_record_bytes) {
              error->expected = "a record of at most " +
                                std::to_string(options_.max_record_bytes) +
                                " bytes";
            }
            return false;
          }
          pos = 0;
          continue;
        }
        buf_.append(line_, pos, close - pos);
        if (close + 1 < line_.size() && line_[close + 1] == q) {
          buf_ += q;
          pos = close + 2;
          continue;
        }
        pos = close + 1;
        break;
      }
      fields_.emplace_back(start, buf_.size());
      if (pos == line_.size()) break;
      if (line_[pos] != d) {
        *error = {col, "the delimiter " + Printable(d) +
                           " or the end of the line after the closing quote"};
        return false;
      }
      ++pos;
      continue;
    }
    size_t end = line_.find(d, pos);
    if (end == std::string::npos) end = line_.size();
    if (q != '\0' && std::memchr(line_.data() + pos, q, end - pos) != nullptr) {
      *error = {col, "no quote inside an unquoted field (quote the whole "
                     "field and double its quotes)"};
      return false;
    }
    buf_.append(line_, pos, end - pos);
    fields_.emplace_back(start, buf_.size());
    if (end == line_.size()) break;
    pos = end + 1;
  }
  if (num_columns_ == 0) {
    num_columns_ = fields_.size();
  } else if (fields_.size() != num_columns_) {
    *error = {std::min(fields_.size(), num_columns_),
              std::to_string(num_columns_) + " columns, found " +
                  std::to_string(fields_.size())};
    return false;
  }
  return true;
}

bool CsvReader::Next() {
  for (;;) {
    do {
      if (!ReadLine()) return false;
    } while (line_.empty());
    record_line_ = line_no_;
    Malformed error;
    if (ParseRecord(&error)) {
      ++records_;
      return true;
    }
    Reject(error.column, error.expected);
  }
}

void CsvReader::Reject(size_t column, const std::string& expected) {
  if (!options_.skip_bad_rows) Fail(column, expected);
  if (bad_rows_++ == 0) first_error_ = Message(column, expected);
}

std::string CsvReader::Message(size_t column,
                               const std::string& expected) const {
  return name_ + ":" + std::to_string(record_line_) + ": column " +
         std::to_string(column + 1) + ": expected " + expected;
}

void CsvReader::Fail(size_t column, const std::string& expected) const {
  throw DataError(Message(column, expected));
}

size_t CsvReader::ColumnIndex(const std::string& name) const {
  for (size_t i = 0; i < header_.size(); ++i) {
    if (header_[i] == name) return i;
  }
  if (!name.empty() &&
      name.find_first_not_of("0123456789") == std::string::npos &&
      name.size() < 10) {
    const size_t i = std::stoul(name);
    if (num_columns_ == 0 || i < num_columns_) return i;
  }
  std::string known;
  for (size_t i = 0; i < header_.size(); ++i) {
    known += (i ? ", " : "") + header_[i];
  }
  throw DataError(name_ + ": no column '" + name + "'" +
                  (header_.empty()
                       ? " (no header: name columns by 0-based index below " +
                             std::to_string(num_columns_) + ")"
                       : " (columns: " + known + ")"));
}

}  // namespace frugal::nn
