// The chat's input: whole messages, read line by line — with line editing and history
// (Debian's libedit, when the build found it) on a terminal, plain lines otherwise. A line
// ending in a backslash goes on in the next one (multi-line input). Ctrl-C is caught while
// the reader exists: interrupted() tells the chat, which stops an answer or, at the
// prompt, leaves on the second press.
#pragma once

#include <atomic>
#include <string>

namespace mlxcpp::cli {

class LineReader {
 public:
  enum class Status { Message, Interrupted, End };

  explicit LineReader(bool terminal);
  ~LineReader();
  LineReader(const LineReader&) = delete;
  LineReader& operator=(const LineReader&) = delete;

  // One message (its lines joined by newlines); Interrupted on Ctrl-C, End on end of input.
  Status read(std::string& message);
  // Set by Ctrl-C; the chat clears it before an answer and hands it to the generation as
  // its cancel flag.
  static std::atomic<bool>& interrupted();

 private:
  Status read_line(const char* prompt, std::string& line);
  bool terminal_;
};

}  // namespace mlxcpp::cli
