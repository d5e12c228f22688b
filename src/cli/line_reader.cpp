#include "cli/line_reader.h"

#include <signal.h>

#include <cerrno>
#include <cstdio>
#include <iostream>

#if MLXCPP_HAVE_LIBEDIT
#include <editline/readline.h>
#endif

namespace mlxcpp::cli {

namespace {

struct sigaction g_previous{};

void on_interrupt(int) { LineReader::interrupted().store(true); }

}  // namespace

std::atomic<bool>& LineReader::interrupted() {
  static std::atomic<bool> flag{false};
  return flag;
}

LineReader::LineReader(bool terminal) : terminal_(terminal) {
  // Without SA_RESTART: a read waiting at the prompt returns, so that Ctrl-C is seen there.
  struct sigaction sa{};
  sa.sa_handler = on_interrupt;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, &g_previous);
}

LineReader::~LineReader() { sigaction(SIGINT, &g_previous, nullptr); }

LineReader::Status LineReader::read_line(const char* prompt, std::string& line) {
  // A Ctrl-C that came between two reads (while the last answer's footer was printed) found
  // no read to interrupt: it counts at this prompt, not never.
  if (interrupted().exchange(false)) return Status::Interrupted;
#if MLXCPP_HAVE_LIBEDIT
  if (terminal_) {
    char* s = readline(prompt);
    if (!s) {
      if (interrupted().exchange(false)) return Status::Interrupted;
      return Status::End;
    }
    line = s;
    std::free(s);
    if (!line.empty()) add_history(line.c_str());
    return Status::Message;
  }
#endif
  if (terminal_) std::fputs(prompt, stderr), std::fflush(stderr);
  if (std::getline(std::cin, line)) return Status::Message;
  if (interrupted().exchange(false)) {  // the read returned EINTR: not the end of the input
    std::cin.clear();
    clearerr(stdin);
    return Status::Interrupted;
  }
  return Status::End;
}

LineReader::Status LineReader::read(std::string& message) {
  message.clear();
  std::string line;
  for (const char* prompt = "> ";; prompt = "... ") {
    const Status s = read_line(prompt, line);
    if (s != Status::Message) return s;
    if (line.empty() || line.back() != '\\') {
      message += line;
      return Status::Message;
    }
    line.pop_back();
    message += line + "\n";
  }
}

}  // namespace mlxcpp::cli
