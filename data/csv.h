// A streaming reader of delimited text (CSV per RFC 4180, TSV, ...): one
// record at a time, so files larger than memory stream through a fixed
// buffer. Fields are views into the reader's buffers, valid until the next
// call to Next().
//
// Quoting (RFC 4180): a field that starts with the quote character runs to
// the matching quote; a doubled quote inside it is one quote; it may span
// lines. After the closing quote comes a delimiter or the end of the record.
// A quote inside an unquoted field is malformed. "\r\n" and "\n" both end a
// record; blank lines are skipped; a UTF-8 byte-order mark at the start of
// the file is ignored.
#pragma once

#include <cstddef>
#include <cstdio>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <cstdint>
#include <vector>

#include "data/dataset.h"

namespace frugal::nn {

struct CsvOptions {
  char delimiter = ',';
  char quote = '"';  // '\0': no quoting, quotes are ordinary characters
  // The first record names the columns.
  bool header = true;
  // The last column takes the rest of the line as it is, delimiters, quotes
  // and all (for files like "label,free text with, commas"). A last field
  // that starts and ends with a quote is still unquoted.
  bool rest_in_last_column = false;
  // Columns per record; 0: from the header, or else the first record.
  size_t num_columns = 0;
  // Malformed records are skipped and counted instead of throwing.
  bool skip_bad_rows = false;
  // A record longer than this is malformed (refuses absurd input before a
  // large allocation).
  size_t max_record_bytes = size_t{16} << 20;
};

class CsvReader {
 public:
  // Opens `path` and reads the header, if any. Throws DataError if the file
  // cannot be opened or the header is malformed (even with skip_bad_rows).
  CsvReader(const std::string& path, const CsvOptions& options);
  // Reads from an open stream (not closed by the reader); `name` stands for
  // the file in error messages.
  CsvReader(std::FILE* stream, std::string name, const CsvOptions& options);
  ~CsvReader();
  CsvReader(const CsvReader&) = delete;
  CsvReader& operator=(const CsvReader&) = delete;

  // Reads the next record; false at the end of the input. A malformed
  // record throws DataError ("file:line: column c: expected ...", 1-based)
  // or, with skip_bad_rows, is counted and skipped. Allocates nothing once
  // the buffers have grown to the longest record.
  bool Next();

  size_t num_fields() const { return fields_.size(); }
  std::string_view field(size_t i) const {
    return {buf_.data() + fields_[i].first, fields_[i].second - fields_[i].first};
  }
  // Bytes of the input consumed by the records read so far.
  uint64_t consumed_bytes() const { return bytes_read_ - (in_end_ - in_pos_); }
  // Well-formed records read so far (the header not counted).
  size_t records() const { return records_; }
  // Line (1-based) where the current record starts.
  size_t line() const { return record_line_; }
  const std::string& name() const { return name_; }
  // Columns per record (0 before the first record when not yet known).
  size_t num_columns() const { return num_columns_; }
  // Column names from the header (empty without one).
  const std::vector<std::string>& header() const { return header_; }
  // A column by header name, or by 0-based index written in decimal (with
  // or without a header). Throws DataError naming the file and the known
  // columns when there is no such column.
  size_t ColumnIndex(const std::string& name_or_index) const;

  // Records skipped as malformed (skip_bad_rows), and the first one's error.
  size_t bad_rows() const { return bad_rows_; }
  const std::string& first_bad_row_error() const { return first_error_; }

  // Throws DataError "file:line: column c: expected <expected>" for the
  // current record, `column` 0-based.
  [[noreturn]] void Fail(size_t column, const std::string& expected) const;
  // The current record is malformed (found by the caller, e.g. a field that
  // is not a number): Fail(), or with skip_bad_rows count it and return (the
  // caller skips the record).
  void Reject(size_t column, const std::string& expected);

 private:
  struct Malformed {
    size_t column;  // 0-based
    std::string expected;
  };
  std::string Message(size_t column, const std::string& expected) const;
  void Init();            // buffers, and the header if any
  bool ReadLine();        // the next physical line into line_, without "\n"
  bool ParseRecord(Malformed* error);
  bool FillBuffer();

  std::unique_ptr<std::FILE, int (*)(std::FILE*)> owned_{nullptr, nullptr};
  std::FILE* file_ = nullptr;
  std::string name_;
  CsvOptions options_;
  std::vector<char> in_;  // raw input buffer
  size_t in_pos_ = 0, in_end_ = 0;
  bool eof_ = false;
  uint64_t bytes_read_ = 0;
  size_t records_ = 0;
  std::string line_;
  size_t line_no_ = 0, record_line_ = 0;
  std::string buf_;  // field contents, unquoted
  std::vector<std::pair<size_t, size_t>> fields_;  // [begin, end) in buf_
  size_t num_columns_ = 0;
  std::vector<std::string> header_;
  size_t bad_rows_ = 0;
  std::string first_error_;
};

}  // namespace frugal::nn
